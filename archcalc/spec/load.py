"""Reading a spec file or text into a validated, immutable :class:`Spec`."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archcalc.errors import ArchcalcError
from archcalc.gcpause import paused_gc
from archcalc.spec.model import Spec
from archcalc.spec.parse import parse_spec
from archcalc.spec.tree import MAX_SPEC_BYTES, from_python, parse_yaml


def load(path: str | os.PathLike[str]) -> Spec:
    """Read and validate a spec file.

    >>> spec = load("examples/mnist_cnn.yaml")
    >>> spec.input_shape
    (1, 28, 28)
    """
    name = os.fspath(path)
    raw = _read_spec_bytes(name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ArchcalcError(
            f"is not UTF-8 text (byte {err.start})", file=name, hint="is this a YAML spec?"
        ) from None
    return loads(text, filename=name)


def _read_spec_bytes(name: str) -> bytes:
    """The bytes of a regular file of at most MAX_SPEC_BYTES, or an ArchcalcError.

    Only regular files are read: ``/dev/zero`` never ends, a FIFO without a
    writer blocks ``open`` forever, a terminal waits for typing. The file is
    checked before it is opened (opening some devices acts on them), opened
    without blocking, checked again (it may have been swapped in between), and
    read to at most one byte past the limit, whatever its size claims.
    """
    try:
        _refuse_irregular(os.stat(name).st_mode, name)
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ArchcalcError(
            "no such file", file=name, hint="check the path; examples/ holds ready specs"
        ) from None
    except OSError as err:
        raise ArchcalcError(f"cannot read the file: {err.strerror}", file=name) from None
    try:
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            _refuse_irregular(info.st_mode, name)
            raw = f.read(MAX_SPEC_BYTES + 1)
    except OSError as err:
        raise ArchcalcError(f"cannot read the file: {err.strerror}", file=name) from None
    if len(raw) > MAX_SPEC_BYTES:
        size = max(info.st_size, len(raw))
        raise ArchcalcError(
            f"spec is {size / 2**20:.1f} MiB; archcalc reads specs up to "
            f"{MAX_SPEC_BYTES // 2**20} MiB",
            file=name,
            hint="use `blocks:` and `repeat:` to write long networks compactly",
        )
    return raw


def _refuse_irregular(mode: int, name: str) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise ArchcalcError("is a folder, not a spec file", file=name)
    what = (
        "a FIFO (named pipe)"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
    )
    raise ArchcalcError(
        f"is {what}, not a spec file",
        file=name,
        hint="archcalc reads specs from regular files only",
    )


def loads(text: str, filename: str = "<string>") -> Spec:
    """Validate a spec given as YAML text.

    >>> loads("input: [1, 28, 28]\\nlayers: [flatten, {linear: 10}]").name
    'spec'
    """
    stem = Path(filename).stem if not filename.startswith("<") else "spec"
    with paused_gc():
        return parse_spec(parse_yaml(text, filename), stem, filename)


def from_dict(data: Mapping[str, Any]) -> Spec:
    """Validate a spec written as a Python dict with the YAML's structure."""
    with paused_gc():
        return parse_spec(from_python(dict(data)), "spec", None)
