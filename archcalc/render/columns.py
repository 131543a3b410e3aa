"""The summary's columns, defined once for every output format (as torchinfo's enums do)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from archcalc.analysis.receptive import ReceptiveField, axes_text
from archcalc.analysis.result import Analysis, Row
from archcalc.kinds.base import fmt_shape


def count(n: int | None) -> str:
    """``1218048`` → ``1,218,048``; None (no cost rule) → ``uncounted``."""
    return "uncounted" if n is None else f"{n:,}"


def rf_text(rf: ReceptiveField | None) -> str:
    """``3`` for a square (cubic) field, ``3×5`` otherwise, ``all`` once it spans the input."""
    if rf is None:
        return ""
    if rf.whole:
        return "all"
    return axes_text(rf.size)


def shape_text(shape: tuple[int, ...]) -> str:
    """``16×28×28``; a row without an output of its own (a module never called) shows ``—``."""
    return fmt_shape(shape) if shape else "—"


def share_text(share: float) -> str:
    return f"{100 * share:.1f}%" if share else ""


class Column(NamedTuple):
    key: str
    header: str
    value: Callable[[Row, Analysis], Any]
    text: Callable[[Any], str]
    justify: str = "left"
    total: Callable[[Analysis], Any] | None = None


COLUMNS: tuple[Column, ...] = (
    Column("path", "Layer", lambda r, a: r.path, str, total=lambda a: "Total"),
    Column("operation", "Operation", lambda r, a: r.operation, str),
    Column(
        "output_shape",
        "Output shape",
        lambda r, a: r.output_shape,
        shape_text,
        total=lambda a: a.output_shape,
    ),
    Column(
        "params",
        "Params",
        lambda r, a: r.params,
        lambda v: count(v) if v else "0",
        "right",
        total=lambda a: a.totals.params,
    ),
    Column(
        "share",
        "Share",
        lambda r, a: a.share(r),
        share_text,
        "right",
        total=lambda a: 1.0 if a.totals.params else 0.0,
    ),
    Column("receptive_field", "RF", lambda r, a: r.receptive_field, rf_text, "right"),
    Column(
        "macs",
        "MACs",
        lambda r, a: r.macs,
        lambda v: count(v) if v != 0 else "0",
        "right",
        total=lambda a: a.totals.macs,
    ),
)


def cells(row: Row, analysis: Analysis) -> list[str]:
    return [c.text(c.value(row, analysis)) for c in COLUMNS]


def total_cells(analysis: Analysis) -> list[str]:
    return [c.text(c.total(analysis)) if c.total else "" for c in COLUMNS]
