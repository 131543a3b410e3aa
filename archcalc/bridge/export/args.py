"""A kind's parsed arguments and the mapping a spec writes for them, both ways.

Kinds parse a written mapping into their own frozen arguments; nothing writes
one back, so this does it generically from the arguments' fields and proves
each answer by parsing it again: whatever :func:`written` returns reads back
as exactly the arguments it was given, with the arguments equal to the kind's
defaults left out (``conv2d: {out: 64, kernel: 3, padding: 1}``).
"""

from __future__ import annotations

import dataclasses
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


class ExportBug(RuntimeError):
    """archcalc's own mistake while exporting (never the user's): it must not be reported
    as the module's."""


def parse(kind: str, written: dict[str, Any]) -> Any:
    """The kind's arguments for a written mapping (an ArchcalcError where it refuses them)."""
    spec_kind = kinds.REGISTRY[kind]
    return spec_kind.parse(ArgReader(kind, from_python(dict(written)), spec_kind.main_arg))


def written(kind: str, args: Any) -> dict[str, Any]:
    """The shortest mapping that parses back to ``args`` (``{}`` for the kind's defaults).

    Raises ExportBug where none does: a kind whose arguments this cannot
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
    # Some fields apply only with others (count_include_pad to average pooling,
    # align_corners to the linear modes): drop those the kind refuses for this value.
    while True:
        try:
            back = parse(kind, out)
            break
        except ArchcalcError as err:
            fewer = next(
                (k for k in out if _parses({k2: v for k2, v in out.items() if k2 != k}, kind)), None
            )
            if fewer is None:
                raise ExportBug(f"{kind}: cannot write {args!r}: {err}") from None
            del out[fewer]
    if back != args:
        raise ExportBug(f"{kind}: {out!r} reads back as {back!r}, not {args!r}")
    return out


def _without(text: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in text.items() if k != key}


def _parses(text: dict[str, Any], kind: str) -> bool:
    try:
        parse(kind, text)
    except ArchcalcError:
        return False
    return True


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
