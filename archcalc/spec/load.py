"""Reading a spec file or text into a validated, immutable :class:`Spec`."""

from __future__ import annotations

import os
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
    p = Path(name)
    try:
        size = p.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise ArchcalcError(
                f"spec is {size / 2**20:.1f} MiB; archcalc reads specs up to "
                f"{MAX_SPEC_BYTES // 2**20} MiB",
                file=name,
            )
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ArchcalcError(
            "no such file", file=name, hint="check the path; examples/ holds ready specs"
        ) from None
    except IsADirectoryError:
        raise ArchcalcError("is a folder, not a spec file", file=name) from None
    except OSError as err:
        raise ArchcalcError(f"cannot read the file: {err.strerror}", file=name) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ArchcalcError(
            f"is not UTF-8 text (byte {err.start})", file=name, hint="is this a YAML spec?"
        ) from None
    return loads(text, filename=name)


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
