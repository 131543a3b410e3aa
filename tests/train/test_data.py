"""Reading MNIST-format IDX files: layouts, decoding, normalisation and every broken file."""

from __future__ import annotations

import gzip
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archcalc.errors import ArchcalcError
from archcalc.train import data
from tests.train.conftest import digits, idx_bytes, write_idx

TRAIN_IMAGES = "train-images-idx3-ubyte"


@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4),
    gz=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_read_idx_round_trips_any_shape(
    shape: list[int], gz: bool, seed: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    array = torch.randint(
        0, 256, shape, generator=torch.Generator().manual_seed(seed), dtype=torch.uint8
    )
    path = write_idx(tmp_path_factory.mktemp("idx") / "f", array, gz=gz)
    back = data.read_idx(path)
    assert back.shape == array.shape
    assert torch.equal(back, array)


def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    array = torch.arange(12, dtype=torch.uint8).reshape(3, 4)
    path = tmp_path / "no-suffix"
    path.write_bytes(gzip.compress(idx_bytes(array)))
    assert torch.equal(data.read_idx(path), array)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(
            lambda b: b[:-1],
            r"truncated IDX file: the header says 2×3×3 = 18 bytes of "
            r"data, but the file holds 17",
            id="truncated-data",
        ),
        pytest.param(
            lambda b: b[:6],
            r"truncated IDX file: the header alone needs 16 bytes",
            id="truncated-header",
        ),
        pytest.param(
            lambda b: b[:2],
            r"truncated IDX file: 2 bytes, shorter than a header",
            id="truncated-magic",
        ),
        pytest.param(
            lambda b: b + b"\0",
            r"IDX file with trailing bytes: .* 18 bytes of data, "
            r"but the file holds 19",
            id="trailing",
        ),
        pytest.param(
            lambda b: b"\x89PNG" + b[4:],
            r"not an IDX file: magic bytes 89 50 4e 47",
            id="wrong-magic",
        ),
        pytest.param(
            lambda b: b[:3] + b"\x07" + b[4:],
            r"not an IDX file: magic bytes 00 00 08 07",
            id="too-many-dims",
        ),
        pytest.param(
            lambda b: b[:2] + b"\x0d" + b[3:],
            r"IDX data type 0x0d is not supported",
            id="float-data",
        ),
    ],
)
def test_broken_idx_files_are_one_line_errors(
    tmp_path: Path, mutate: Callable[[bytes], bytes], message: str
) -> None:
    good = idx_bytes(torch.zeros(2, 3, 3, dtype=torch.uint8))
    path = tmp_path / TRAIN_IMAGES
    path.write_bytes(mutate(good))
    with pytest.raises(ArchcalcError, match=message) as info:
        data.read_idx(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_truncated_gzip_is_an_error(tmp_path: Path) -> None:
    packed = gzip.compress(idx_bytes(torch.zeros(50, 28, 28, dtype=torch.uint8)))
    path = tmp_path / (TRAIN_IMAGES + ".gz")
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ArchcalcError, match=r"truncated or corrupt gzip data"):
        data.read_idx(path)


@pytest.mark.parametrize("layout", [".", "MNIST/raw", "raw"])
@pytest.mark.parametrize("gz", [True, False], ids=["gz", "plain"])
def test_finds_the_four_files_in_each_layout(
    make_dataset: Callable[..., Path], layout: str, gz: bool
) -> None:
    folder = make_dataset(layout=layout, gz=gz, n_train=64, n_test=16)
    found = data.find_files(folder)
    assert set(found) == set(data.FILES)
    for role, path in found.items():
        assert path.name == data.FILES[role] + (".gz" if gz else "")
        assert path.parent == folder / layout


def test_accepts_the_dotted_spelling(tmp_path: Path) -> None:
    x, y = digits(8, 0)
    for role, base in data.FILES.items():
        array = x if "images" in role else y
        write_idx(tmp_path / base.replace("-idx", ".idx"), array)
    assert data.find_files(tmp_path)["test_labels"].name == "t10k-labels.idx1-ubyte"


def test_missing_folder_names_the_four_files(tmp_path: Path) -> None:
    with pytest.raises(ArchcalcError) as info:
        data.find_files(tmp_path / "nowhere")
    text = str(info.value)
    assert f"data folder {tmp_path / 'nowhere'} does not exist" in text
    for base in data.FILES.values():
        assert base in text
    assert "--data-dir" in text


def test_missing_files_are_listed(make_dataset: Callable[..., Path]) -> None:
    folder = make_dataset(n_train=16, n_test=16)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ArchcalcError, match=r"lacks t10k-labels-idx1-ubyte —"):
        data.find_files(folder)


def test_image_and_label_counts_must_agree(make_dataset: Callable[..., Path]) -> None:
    folder = make_dataset(n_train=32, n_test=16)
    write_idx(folder / "train-labels-idx1-ubyte.gz", torch.zeros(31, dtype=torch.uint8), gz=True)
    with pytest.raises(
        ArchcalcError,
        match=r"train-images-idx3-ubyte.gz holds 32 images but "
        r"train-labels-idx1-ubyte.gz holds 31 labels",
    ):
        data.load(data.find_files(folder))


def test_images_must_be_three_dimensional(make_dataset: Callable[..., Path]) -> None:
    folder = make_dataset(n_train=32, n_test=16)
    flat = torch.zeros(16, 784, dtype=torch.uint8)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", flat, gz=True)
    with pytest.raises(ArchcalcError, match=r"expects images as 3 dimensions .* has 2: 16×784"):
        data.load(data.find_files(folder))


def test_normalises_with_the_training_images_own_statistics(
    make_dataset: Callable[..., Path],
) -> None:
    folder = make_dataset(n_train=200, n_test=50)
    loaded = data.load(data.find_files(folder))
    raw = data.read_idx(folder / "train-images-idx3-ubyte.gz").double() / 255
    assert loaded.mean == pytest.approx(float(raw.mean()), abs=1e-12)
    assert loaded.std == pytest.approx(float(raw.std(unbiased=False)), abs=1e-12)
    # Standardised: the training images have mean 0 and std 1, the test images are mapped alike.
    assert float(loaded.train.images.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(loaded.train.images.std(unbiased=False)) == pytest.approx(1.0, abs=1e-5)
    test_raw = data.read_idx(folder / "t10k-images-idx3-ubyte.gz").double() / 255
    expected = ((test_raw - loaded.mean) / loaded.std).float().unsqueeze(1)
    assert torch.allclose(loaded.test.images, expected, atol=1e-5)
    assert loaded.train.images.shape == (200, 1, 28, 28)
    assert loaded.train.labels.dtype == torch.int64
    assert loaded.num_classes == 10


def test_limits_keep_the_first_images_and_the_full_statistics(
    make_dataset: Callable[..., Path],
) -> None:
    folder = make_dataset(n_train=200, n_test=50)
    full = data.load(data.find_files(folder))
    part = data.load(data.find_files(folder), limit_train=30, limit_test=7)
    assert (len(part.train), len(part.test)) == (30, 7)
    assert torch.equal(part.train.images, full.train.images[:30])
    assert torch.equal(part.test.labels, full.test.labels[:7])
    assert (part.mean, part.std) == (full.mean, full.std)


def test_no_data_and_no_network_says_where_to_put_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHCALC_DATA", str(tmp_path / "cache"))

    class Offline:
        def __init__(self, **kwargs: object) -> None:
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\n<urlopen error>")

    monkeypatch.setattr("torchvision.datasets.MNIST", Offline)
    with pytest.raises(ArchcalcError) as info:
        data.resolve(None)
    text = str(info.value)
    assert "\n" not in text
    assert f"downloading it into {tmp_path / 'cache'} failed" in text
    for base in data.FILES.values():
        assert base in text
    assert "--data-dir DIR" in text and "ARCHCALC_DATA" in text


def test_the_cache_is_used_before_any_download(
    make_dataset: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_dataset(layout="MNIST/raw", n_train=16, n_test=16)
    monkeypatch.setenv("ARCHCALC_DATA", str(folder))

    def no_download(folder: Path) -> None:
        raise AssertionError("downloaded although the cache holds the files")

    monkeypatch.setattr(data, "download_mnist", no_download)
    assert data.resolve(None)["train_images"].parent == folder / "MNIST/raw"


def _gzip_bomb(path: Path, header: bytes, inflated: int) -> None:
    """``header`` then ``inflated`` zero bytes, gzipped in pieces (never whole in memory)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    zeros = bytes(1 << 20)
    with path.open("wb") as f:
        f.write(packer.compress(header))
        for _ in range(inflated // len(zeros)):
            f.write(packer.compress(zeros))
        f.write(packer.flush())


def test_a_gzip_bomb_is_refused_without_inflating_it(tmp_path: Path) -> None:
    # A header for 10 images, then 50 MB of zeros in a ~50 KB file.
    header = idx_bytes(torch.zeros(10, 28, 28, dtype=torch.uint8))[:16]
    path = tmp_path / (TRAIN_IMAGES + ".gz")
    _gzip_bomb(path, header, 50 << 20)
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(
            ArchcalcError,
            match=r"IDX file with trailing bytes: the header says 10×28×28 = 7840 bytes of data, "
            r"but the file holds more$",
        ):
            data.read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 5  # generous: it reads ~8 KB, not 50 MB
    assert peak < 8 << 20


def test_a_header_announcing_too_much_is_refused_before_reading(tmp_path: Path) -> None:
    huge = bytes([0, 0, 8, 3]) + (60000).to_bytes(4, "big") + (2**16).to_bytes(4, "big") * 2
    for gz in (False, True):
        path = tmp_path / f"f{gz}"
        path.write_bytes(gzip.compress(huge) if gz else huge)
        with pytest.raises(
            ArchcalcError, match=r"60000×65536×65536 = \d+ bytes of data, more than"
        ):
            data.read_idx(path)
    small = write_idx(tmp_path / "small", torch.zeros(4, 4, dtype=torch.uint8), gz=True)
    with pytest.raises(ArchcalcError, match=r"more than the 15-byte limit"):
        data.read_idx(small, max_bytes=15)
    assert data.read_idx(small, max_bytes=16).shape == (4, 4)
