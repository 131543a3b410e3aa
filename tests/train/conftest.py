"""Fixtures for the trainer's tests: tiny synthetic IDX datasets, and the real MNIST if present."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from archcalc.train.data import FILES

ROOT = Path(__file__).resolve().parents[2]
SEED_SPEC = ROOT / "examples" / "mnist_cnn.yaml"


def pytest_configure(config: pytest.Config) -> None:
    # Registered here as well as wherever the project lists markers, so --strict-markers passes.
    config.addinivalue_line(
        "markers", "slow: the full 3-epoch MNIST run (about half a minute); CI runs it"
    )


def idx_bytes(array: torch.Tensor, *, type_code: int = 0x08) -> bytes:
    """An IDX file's bytes: magic (00 00 type ndim), big-endian dimensions, then the data."""
    header = bytes([0, 0, type_code, array.dim()])
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + dims + array.to(torch.uint8).contiguous().numpy().tobytes()


def write_idx(path: Path, array: torch.Tensor, *, gz: bool = False) -> Path:
    """Write ``array`` (uint8) as an IDX file, gzipped when ``gz``."""
    raw = idx_bytes(array)
    path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
    return path


def digits(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An easy 28×28 MNIST stand-in: digit c is a bright 5×5 square at its own place, over noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    images = torch.randint(0, 60, (n, 28, 28), generator=g)
    for c in range(10):
        r, k = 2 + 6 * (c // 4), 1 + 6 * (c % 4)  # a 3×4 grid of places, 10 of them used
        images[labels == c, r : r + 5, k : k + 5] += 180
    return images.clamp(0, 255).to(torch.uint8), labels.to(torch.uint8)


def write_dataset(
    folder: Path,
    *,
    n_train: int = 1024,
    n_test: int = 256,
    gz: bool = True,
    layout: str = ".",
) -> Path:
    """The four files of a synthetic MNIST-format dataset in ``folder``/``layout``."""
    target = folder / layout
    target.mkdir(parents=True, exist_ok=True)
    train = digits(n_train, 1)
    test = digits(n_test, 2)
    arrays = {
        "train_images": train[0],
        "train_labels": train[1],
        "test_images": test[0],
        "test_labels": test[1],
    }
    for role, base in FILES.items():
        write_idx(target / (base + (".gz" if gz else "")), arrays[role], gz=gz)
    return folder


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shared, read-only synthetic dataset (1,024 training and 256 test 28×28 images)."""
    return write_dataset(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture
def make_dataset(tmp_path: Path) -> Callable[..., Path]:
    """A fresh synthetic dataset per test, for tests that break its files."""

    def make(**kwargs: object) -> Path:
        return write_dataset(tmp_path / "data", **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def mnist_dir() -> Path:
    """The real MNIST: $ARCHCALC_MNIST_DIR, else ../shared/data/mnist from the repository root.

    Missing data skips the test, unless ARCHCALC_REQUIRE_DATA=1 (CI), where it fails.
    """
    env = os.environ.get("ARCHCALC_MNIST_DIR")
    folder = Path(env) if env else ROOT.parent / "shared" / "data" / "mnist"
    missing = [
        b
        for b in FILES.values()
        if not (folder / b).is_file() and not (folder / f"{b}.gz").is_file()
    ]
    if missing:
        reason = (
            f"no MNIST in {folder} (lacks {', '.join(missing)}); set ARCHCALC_MNIST_DIR "
            "to a folder holding the four IDX files"
        )
        if os.environ.get("ARCHCALC_REQUIRE_DATA") == "1":
            pytest.fail(f"ARCHCALC_REQUIRE_DATA=1 but {reason}")
        pytest.skip(reason)
    return folder
