"""MNIST-format data: find the four IDX files, decode them once, normalise.

The files are the original distribution's (``train-images-idx3-ubyte`` and so
on), gzipped or not, either flat in one folder or in torchvision's
``MNIST/raw/`` layout. Any dataset written in the same format (Fashion-MNIST,
KMNIST, …) works unchanged: the normalisation comes from the training images
themselves, and the number of classes from the labels.

Images are decoded into one float tensor per split up front, so training
indexes a tensor per batch instead of running per-sample transforms.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from archcalc.errors import ArchcalcError

# Role → the file's base name in the original MNIST distribution.
FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# Folders, relative to the data folder, searched in order: flat, torchvision's, the raw folder.
LAYOUTS: tuple[str, ...] = (".", "MNIST/raw", "raw")
EXPECTED = ", ".join(FILES.values())
WHERE_HINT = (
    f"archcalc train expects the four MNIST-format IDX files {EXPECTED} (each optionally .gz), "
    "flat in one folder or under MNIST/raw/ — pass --data-dir DIR, or set ARCHCALC_DATA to a "
    "folder it may download MNIST into"
)

_GZIP_MAGIC = b"\x1f\x8b"
_UBYTE = 0x08  # IDX type code for unsigned bytes, the only one MNIST-format files use
_CHUNK = 1 << 20  # bytes read (and, for gzip, inflated) at a time
# The most data one IDX file may announce: EMNIST's largest split (698k images, 547 MB)
# fits; a corrupt or hostile header claiming terabytes is refused before any allocation.
MAX_IDX_BYTES = 1 << 30


@dataclass(frozen=True)
class Split:
    """One split: normalised float32 images (N, C, H, W) and int64 labels (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class ImageData:
    """Both splits of an MNIST-format dataset, normalised with the training images' statistics."""

    train: Split
    test: Split
    mean: float  # of the training images, on a 0–1 scale
    std: float
    num_classes: int
    source: str  # the folder the files came from

    @property
    def image_shape(self) -> tuple[int, ...]:
        """(C, H, W) of one image."""
        return tuple(int(d) for d in self.train.images.shape[1:])


def read_idx(path: Path, *, max_bytes: int | None = None) -> torch.Tensor:
    """Decode one unsigned-byte IDX file (gzipped or not) into a uint8 tensor of its shape.

    The header is read first and the data streamed in, never more than the header
    announces (plus one byte to detect extra data), so a small gzip file that
    inflates to gigabytes is refused after a few kilobytes. ``max_bytes`` (default
    MAX_IDX_BYTES) caps what any header may announce.
    Raises ArchcalcError for a file that is not IDX, is truncated, holds extra bytes,
    or announces more than the cap.
    """
    limit = MAX_IDX_BYTES if max_bytes is None else max_bytes
    try:
        with open(path, "rb") as f:
            # Decide by content, not by name: people gunzip files without renaming them.
            gz = f.read(2) == _GZIP_MAGIC
            f.seek(0)
            if gz:
                with gzip.GzipFile(fileobj=f, mode="rb") as stream:
                    return _decode(path, stream, None, limit)
            return _decode(path, f, os.fstat(f.fileno()).st_size, limit)
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise ArchcalcError(f"{path}: truncated or corrupt gzip data ({err})") from None
    except OSError as err:
        raise ArchcalcError(f"{path}: cannot read ({err.strerror or err})") from None


def _decode(path: Path, stream: io.BufferedIOBase, size: int | None, limit: int) -> torch.Tensor:
    """The IDX tensor from ``stream``; ``size`` is the file's length when not compressed."""
    magic = stream.read(4)
    if len(magic) < 4:
        raise ArchcalcError(
            f"{path}: truncated IDX file: {len(magic)} bytes, shorter than a header"
        )
    zero, type_code, ndim = magic[0] << 8 | magic[1], magic[2], magic[3]
    if zero != 0 or not 1 <= ndim <= 4:
        raise ArchcalcError(
            f"{path}: not an IDX file: magic bytes {magic.hex(' ')}, "
            "expected 00 00 08 0N (N = number of dimensions, 1 to 4)"
        )
    if type_code != _UBYTE:
        raise ArchcalcError(
            f"{path}: IDX data type 0x{type_code:02x} is not supported; "
            "MNIST-format files hold unsigned bytes (0x08)"
        )
    header = 4 + 4 * ndim
    raw_dims = stream.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise ArchcalcError(f"{path}: truncated IDX file: the header alone needs {header} bytes")
    dims = tuple(int.from_bytes(raw_dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
    expected = math.prod(dims)
    says = f"the header says {'×'.join(map(str, dims))} = {expected} bytes of data"
    if expected > limit:
        raise ArchcalcError(
            f"{path}: {says}, more than the {limit:,}-byte limit for one IDX file",
            hint="is the header corrupt?",
        )
    if size is not None and size - header != expected:
        # Uncompressed: the file's length tells, before reading any data.
        found = size - header
        what = "truncated IDX file" if found < expected else "IDX file with trailing bytes"
        raise ArchcalcError(f"{path}: {what}: {says}, but the file holds {found}")
    # Chunked, so memory follows the data actually there, not what a header claims.
    buf = bytearray()
    while len(buf) < expected:
        chunk = stream.read(min(_CHUNK, expected - len(buf)))
        if not chunk:
            raise ArchcalcError(
                f"{path}: truncated IDX file: {says}, but the file holds {len(buf)}"
            )
        buf += chunk
    if stream.read(1):
        raise ArchcalcError(
            f"{path}: IDX file with trailing bytes: {says}, but the file holds more"
        )
    if expected == 0:  # frombuffer refuses an empty buffer
        return torch.empty(dims, dtype=torch.uint8)
    # A bytearray because frombuffer wants a writable buffer (it warns on bytes).
    return torch.frombuffer(buf, dtype=torch.uint8).reshape(dims)


def find_files(folder: Path) -> dict[str, Path]:
    """The four files' paths in ``folder`` (flat, ``MNIST/raw`` or ``raw``).

    Raises ArchcalcError naming the missing files when the folder does not hold all four.
    """
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ArchcalcError(f"data folder {folder} {what}", hint=WHERE_HINT)
    found: dict[str, Path] = {}
    for role, base in FILES.items():
        # Kaggle's copies name them train-images.idx3-ubyte; accept that spelling too.
        dotted = base.replace("-idx", ".idx")
        names = (base, base + ".gz", dotted, dotted + ".gz")
        for layout in LAYOUTS:
            hit = next(
                (folder / layout / n for n in names if (folder / layout / n).is_file()), None
            )
            if hit is not None:
                found[role] = hit
                break
    missing = [FILES[r] for r in FILES if r not in found]
    if missing:
        raise ArchcalcError(f"data folder {folder} lacks {', '.join(missing)}", hint=WHERE_HINT)
    return found


def cache_dir() -> Path:
    """Where MNIST goes when no ``--data-dir`` is given: $ARCHCALC_DATA, else the user's cache."""
    env = os.environ.get("ARCHCALC_DATA")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "archcalc" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "archcalc"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "archcalc"


def download_mnist(folder: Path) -> None:
    """Download MNIST with torchvision into ``folder``/MNIST/raw (a no-op when already there).

    Raises ArchcalcError (with where the files are expected) when the download fails.
    """
    try:
        from torchvision.datasets import MNIST

        folder.mkdir(parents=True, exist_ok=True)
        MNIST(root=str(folder), train=True, download=True)
    except Exception as err:  # offline, proxy, disk full: all say the same to the user
        reason = " ".join(str(err).split()) or type(err).__name__
        raise ArchcalcError(
            f"no MNIST data: downloading it into {folder} failed ({reason})", hint=WHERE_HINT
        ) from None


def resolve(data_dir: str | Path | None, *, download: bool = True) -> dict[str, Path]:
    """The four files to read: from ``data_dir``, else from the cache, downloading if needed."""
    if data_dir is not None:
        return find_files(Path(data_dir).expanduser())
    folder = cache_dir()
    try:
        return find_files(folder)
    except ArchcalcError:
        if not download:
            raise
    download_mnist(folder)
    return find_files(folder)


def load(
    files: dict[str, Path], *, limit_train: int | None = None, limit_test: int | None = None
) -> ImageData:
    """Decode and normalise the four files; ``limit_*`` keep only the first N of a split.

    The mean and standard deviation are those of all the training images in the
    file (a slice for a quick test is normalised like the full run).
    """
    train_x, train_y = _pair(files["train_images"], files["train_labels"])
    test_x, test_y = _pair(files["test_images"], files["test_labels"])
    if train_x.shape[1:] != test_x.shape[1:]:
        raise ArchcalcError(
            f"training images are {_dims(train_x.shape[1:])} but test images are "
            f"{_dims(test_x.shape[1:])} ({files['train_images']}, {files['test_images']})"
        )
    if train_x.shape[0] == 0 or test_x.shape[0] == 0:
        empty = files["train_images"] if train_x.shape[0] == 0 else files["test_images"]
        raise ArchcalcError(f"{empty}: holds no images")
    mean, std = _stats(train_x)
    if std == 0.0:
        raise ArchcalcError(f"{files['train_images']}: every pixel has the same value")
    num_classes = int(max(int(train_y.max()), int(test_y.max()))) + 1
    return ImageData(
        train=_split(train_x[:limit_train], train_y[:limit_train], mean, std),
        test=_split(test_x[:limit_test], test_y[:limit_test], mean, std),
        mean=mean,
        std=std,
        num_classes=num_classes,
        source=str(files["train_images"].parent),
    )


def _pair(images_path: Path, labels_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dim() != 3:
        raise ArchcalcError(
            f"{images_path}: expects images as 3 dimensions (count, rows, columns), "
            f"but the file has {images.dim()}: {_dims(images.shape)}"
        )
    if labels.dim() != 1:
        raise ArchcalcError(
            f"{labels_path}: expects labels as 1 dimension (count), "
            f"but the file has {labels.dim()}: {_dims(labels.shape)}"
        )
    if images.shape[0] != labels.shape[0]:
        raise ArchcalcError(
            f"{images_path.name} holds {images.shape[0]} images but {labels_path.name} holds "
            f"{labels.shape[0]} labels; they must be the same count ({images_path.parent})"
        )
    return images, labels


def _stats(images: torch.Tensor) -> tuple[float, float]:
    # A histogram of the 256 grey levels gives the exact mean and std without a float copy
    # of every pixel (47M of them for MNIST) and without float32 rounding drift.
    counts = torch.bincount(images.reshape(-1), minlength=256).double()
    levels = torch.arange(256, dtype=torch.float64) / 255.0
    n = counts.sum()
    mean = float((counts * levels).sum() / n)
    var = float((counts * (levels - mean) ** 2).sum() / n)
    return mean, var**0.5


def _split(images: torch.Tensor, labels: torch.Tensor, mean: float, std: float) -> Split:
    x = images.unsqueeze(1).to(torch.float32).div_(255.0).sub_(mean).div_(std)
    return Split(images=x.contiguous(), labels=labels.to(torch.int64))


def _dims(shape: torch.Size | tuple[int, ...]) -> str:
    return "×".join(str(int(d)) for d in shape)
