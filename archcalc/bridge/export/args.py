"""A kind's parsed arguments and the mapping a spec writes for them, both ways.

Kinds parse a written mapping into their own frozen arguments; nothing writes
one back, so this does it generically from the arguments' fields and proves
each answer by parsing it again: whatever :func:`written` returns reads back
as exactly the arguments it was given, with the arguments equal to the kind's
defaults left out (``conv2d: {out: 64, kernel: 3, padding: 1}``).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from archcalc import kinds
from archcalc.errors import ArchcalcError
from archcalc.kinds.base import ArgReader
from archcalc.spec.tree import from_python

# Fields whose written name differs from the field's (the kind's own word).
_RENAMED = {
    ("pixel_shuffle", "factor"): "upscale_factor",
    ("pixel_unshuffle", "factor"): "downscale_factor",
}
_NO_ARGUMENT = re.compile(r"has no argument `([^`]+)`")


def parse(kind: str, written: dict[str, Any]) -> Any:
    """The kind's arguments for a written mapping (an ArchcalcError where it refuses them)."""
    spec_kind = kinds.REGISTRY[kind]
    return spec_kind.parse(ArgReader(kind, from_python(dict(written)), spec_kind.main_arg))


def written(kind: str, args: Any) -> dict[str, Any]:
    """The shortest mapping that parses back to ``args`` (``{}`` for the kind's defaults).

    Raises RuntimeError where none does: a kind whose arguments this cannot
    write, which is archcalc's bug, never the user's.
    """
    return shortest(kind, full(kind, args), args)


def full(kind: str, args: Any) -> dict[str, Any]:
    """Every argument ``args`` holds, written out (defaults too), reading back as ``args``."""
    if args is None:
        return {}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(args):
        if f.init and getattr(args, f.name) is not None:  # None: not written (upsample's size)
            out[_RENAMED.get((kind, f.name), f.name)] = plain(getattr(args, f.name))
    # Fields only some kinds of a family take (count_include_pad on max pooling).
    while True:
        try:
            back = parse(kind, out)
            break
        except ArchcalcError as err:
            missing = _NO_ARGUMENT.search(err.message)
            if missing is None or missing.group(1) not in out:
                raise RuntimeError(f"{kind}: cannot write {args!r}: {err}") from None
            del out[missing.group(1)]
    if back != args:
        raise RuntimeError(f"{kind}: {out!r} reads back as {back!r}, not {args!r}")
    return out


def shortest(kind: str, text: dict[str, Any], args: Any) -> dict[str, Any]:
    """``text`` without the arguments ``args`` would get by default."""
    for key in list(text):
        trial = {k: v for k, v in text.items() if k != key}
        try:
            if parse(kind, trial) == args:
                text = trial
        except ArchcalcError:
            pass
    return text


def plain(value: Any) -> Any:
    """A field's value as YAML writes it: tuples as lists, one number for equal axes."""
    if isinstance(value, tuple):
        items = [plain(v) for v in value]
        ints = all(isinstance(v, int) and not isinstance(v, bool) for v in items)
        if items and ints and all(v == items[0] for v in items):
            return items[0]
        return items
    return value
