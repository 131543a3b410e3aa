"""Argument helpers the commands share."""

from __future__ import annotations

import argparse
import json
import re

from archcalc.errors import ArchcalcError


def input_shape(text: str) -> tuple[int, ...]:
    """``3x224x224`` (or ``224x224``, or ``784``) → a shape.

    Two sizes mean H×W, with the channels taken from the spec.
    """
    parts = text.lower().replace("×", "x").split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expects sizes like 3x224x224, but gets {text!r}"
        ) from None
    if len(dims) not in (1, 2, 3) or any(d < 1 for d in dims):
        raise argparse.ArgumentTypeError(f"expects C×H×W positive sizes, but gets {text!r}")
    return dims


def resolve_input(
    given: tuple[int, ...] | None, spec_shape: tuple[int, ...]
) -> tuple[int, ...] | None:
    """An H×W override keeps the spec's channels."""
    if given is None:
        return None
    if len(given) == 2:
        if len(spec_shape) != 3:
            raise ArchcalcError(f"--input {given[0]}x{given[1]} needs a C×H×W spec input")
        return (spec_shape[0], *given)
    return given


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a positive integer, but gets {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expects a positive integer, but gets {value}")
    return value


def add_format_options(
    p: argparse.ArgumentParser, json_help: str = "print JSON (docs/json-compare.md)"
) -> None:
    """``--json`` or ``--markdown`` instead of the rich table (the default)."""
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help=json_help)
    fmt.add_argument("--markdown", action="store_true", help="print Markdown instead of a table")


_NUMBER_LIST = re.compile(r"\[\s+([-0-9.,\s]+?)\s+\]")


def dumps(data: object) -> str:
    """Indented JSON with short number lists (shapes, fields) kept on one line."""
    text = json.dumps(data, indent=2)
    return _NUMBER_LIST.sub(
        lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text
    )
