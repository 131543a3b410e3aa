"""Argument helpers the commands share."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from types import ModuleType

from archcalc.errors import ArchcalcError
from archcalc.kinds.base import MAX_INT
from archcalc.render import jsontext

MAX_RANK = 4  # C×D×H×W: a video clip or a volume; a batch is never written


def input_shape(text: str) -> tuple[int, ...]:
    """``3x224x224`` (or ``3x16x112x112``, ``1x16000``, ``224x224``, ``784``) → a shape.

    Any rank from one size to four: F, C×L, C×H×W, C×D×H×W. Against a spec,
    one size fewer than its input keeps the spec's channels (``resolve_input``).

    >>> input_shape("3x16x112x112")
    (3, 16, 112, 112)
    """
    parts = text.lower().replace("×", "x").split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expects sizes like 3x224x224, but gets {shown(text)}"
        ) from None
    if not 1 <= len(dims) <= MAX_RANK or any(d < 1 or d > MAX_INT for d in dims):
        raise argparse.ArgumentTypeError(
            f"expects 1 to {MAX_RANK} sizes (F, C×L, C×H×W or C×D×H×W) from 1 to {MAX_INT:,}, "
            f"but gets {shown(text)}"
        )
    return dims


def resolve_input(
    given: tuple[int, ...] | None, spec_shape: tuple[int, ...]
) -> tuple[int, ...] | None:
    """The input to analyse a spec at: ``given`` whole, or its sizes after the spec's channels.

    One size fewer than a C×H×W (or C×D×H×W) spec input keeps the spec's
    channels; any other rank is the whole input (``1x16000`` for a C×L spec).

    >>> resolve_input((56, 56), (1, 28, 28)), resolve_input((1, 16000), (1, 8000))
    ((1, 56, 56), (1, 16000))
    """
    if given is None:
        return None
    if len(spec_shape) >= 3 and len(given) == len(spec_shape) - 1:
        return (spec_shape[0], *given)
    if len(given) == 2 and len(spec_shape) != 2:
        raise ArchcalcError(f"--input {given[0]}x{given[1]} needs a C×H×W spec input")
    return given


def count(maximum: int = MAX_INT) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to ``maximum`` (every count option).

    A 400-digit batch would otherwise reach float arithmetic and end in an
    OverflowError; the default bound is the spec's own limit on any integer.

    >>> count(100)("64")
    64
    >>> count()("9" * 400)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    argparse.ArgumentTypeError: expects an integer from 1 to 2,147,483,647, but gets '999...
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None  # not a number, or more digits than int() accepts
        if value is None or not 1 <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"expects an integer from 1 to {maximum:,}, but gets {shown(text)}"
            )
        return value

    return parse


# `--batch`, `--depth`, and every other count the analysis commands take.
positive_int = count()


def shown(text: str, limit: int = 20) -> str:
    """``text`` quoted for an error, cut short: a pasted megabyte must stay one readable line."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text):,} characters)"


def import_optional(package: str, what: str, extra: str = "torch") -> ModuleType:
    """Import ``package`` for ``what`` (``"--module"``), or say in one line how to install it.

    Only the package itself missing is the user's to fix; any other import
    failure inside it is a real error and propagates.
    """
    try:
        return importlib.import_module(package)
    except ModuleNotFoundError as err:
        if not missing(err, package):
            raise
        raise ArchcalcError(
            f"{what} needs {package}, which is not installed",
            hint=f"pip install 'archcalc[{extra}]'",
        ) from None


def missing(err: ModuleNotFoundError, package: str) -> bool:
    """Whether ``err`` says ``package`` (or one of its submodules) is not installed."""
    name = err.name or ""
    return name == package or name.startswith(package + ".")


def add_format_options(
    p: argparse.ArgumentParser, json_help: str = "print JSON (docs/json-compare.md)"
) -> None:
    """``--json`` or ``--markdown`` instead of the rich table (the default)."""
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help=json_help)
    fmt.add_argument("--markdown", action="store_true", help="print Markdown instead of a table")


def dumps(data: object) -> str:
    """Indented JSON with short number lists (shapes, fields) kept on one line."""
    return jsontext.dumps(data)


def dtype_option(text: str) -> str:
    """``--dtype``: float32, bfloat16 or float16 (bf16, fp16, half) → the canonical name."""
    from archcalc.analysis.footprint import precision

    try:
        return precision(text)
    except ArchcalcError as err:
        raise argparse.ArgumentTypeError(err.message.removeprefix("--dtype ")) from None


def optimizer_option(text: str) -> str:
    """``--optimizer``: sgd, sgd-momentum, adam or adamw."""
    from archcalc.analysis.footprint import optimizer_name

    try:
        return optimizer_name(text)
    except ArchcalcError as err:
        raise argparse.ArgumentTypeError(err.message.removeprefix("--optimizer ")) from None


def progress(text: str) -> None:
    """One progress line on stderr, for a person watching a terminal.

    Only on a tty, as git and pip show progress: a log or a pipe gets the
    answer alone, and stdout (``--json``, a spec) never carries it.
    """
    if sys.stderr.isatty():
        print(text, file=sys.stderr, flush=True)
