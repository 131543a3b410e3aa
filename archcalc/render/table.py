"""The summary as a rich table, shaped like the seed chapter's dimension table."""

from __future__ import annotations

from typing import NamedTuple

from rich.console import Console

from archcalc.analysis.memory import MemoryEstimate
from archcalc.analysis.result import Analysis, Row
from archcalc.gcpause import paused_gc
from archcalc.render.boxtable import BoxTable
from archcalc.render.columns import COLUMNS, Column, cells, total_cells
from archcalc.render.fit import available_width, fit_widths, minimum_width, print_wrapped
from archcalc.render.markdown import memory_heading, memory_lines

# A layer holding at least this share of all parameters is called out.
DOMINANT_SHARE = 0.5


def fit_table(
    title: str,
    headers: list[str],
    rows: list[list[str]],
    footer: list[str] | None,
    justify: list[str],
    width: int | None,
    fold: list[bool] | None = None,
    floors: list[int] | None = None,
) -> BoxTable | None:
    """A table whose column widths come from its strings, fitted into ``width`` columns.

    With no limit (piped output) every column keeps its natural width. In a
    narrower terminal the columns that may (``fold``: text) wrap or fold,
    down to their ``floors``; numbers only wrap between words. None when even
    that is too wide: the caller drops columns or changes layout.
    """
    fold = fold or [False] * len(headers)
    columns = [
        [h, *(r[i] for r in rows), *([footer[i]] if footer else [])] for i, h in enumerate(headers)
    ]
    widths = fit_widths(columns, fold, floors or [0] * len(headers), width)
    if widths is None:
        return None
    return BoxTable(title, headers, widths, justify, footer, fold)


def min_table_width(
    headers: list[str], rows: list[list[str]], fold: list[bool], floors: list[int]
) -> int:
    """The narrowest width at which these columns fit, wrapped as far as they may be."""
    columns = [[h, *(r[i] for r in rows)] for i, h in enumerate(headers)]
    return minimum_width(columns, fold, floors)


def print_table(console: Console, table: BoxTable) -> None:
    """Print a fitted table as drawn: wider than the console only when there is no limit."""
    console.print(table, crop=False)


# Text columns wrap (a path at its dots, an operation at its commas) down to these widths.
FOLD_FLOORS = {"path": 8, "operation": 14}
# Which columns give way, in order, when even wrapped text leaves too little room.
DROP_ORDER = ("share", "receptive_field", "operation", "output_shape")


class SummaryLayout(NamedTuple):
    """A fitted summary table (None: too narrow for any table) and the columns left out."""

    table: BoxTable | None
    dropped: tuple[Column, ...]
    needed: int  # the narrowest width that shows every column


def _marked_rows(
    analysis: Analysis, depth: int | None
) -> tuple[list[Row], list[list[str]], int | None]:
    largest = analysis.largest()
    rows = analysis.rows_at_depth(depth)
    texts = [cells(row, analysis) for row in rows]
    marked = None
    for i, row in enumerate(rows):
        if largest is not None and row.path == largest.path:
            texts[i][0] += " ◀ largest"
            marked = i
    return rows, texts, marked


def _row_style(analysis: Analysis, row: Row, marked: bool) -> str | None:
    if marked:
        largest = analysis.largest()
        dominant = largest is not None and analysis.share(largest) >= DOMINANT_SHARE
        return "bold yellow" if dominant else "bold"
    return None if row.is_leaf else "cyan"


def summary_layout(analysis: Analysis, depth: int | None, width: int | None) -> SummaryLayout:
    """The summary table fitted into ``width``, dropping columns in DROP_ORDER as needed."""
    rows, texts, marked = _marked_rows(analysis, depth)
    footer = total_cells(analysis)
    fold = [c.key in FOLD_FLOORS for c in COLUMNS]
    floors = [FOLD_FLOORS.get(c.key, 0) for c in COLUMNS]
    headers = [c.header for c in COLUMNS]
    title = f"{analysis.name} — input {'×'.join(map(str, analysis.input_shape))}"
    keep = list(range(len(COLUMNS)))
    for drop in (None, *DROP_ORDER):
        if drop is not None:
            keep = [i for i in keep if COLUMNS[i].key != drop]
        table = fit_table(
            title,
            [headers[i] for i in keep],
            [[t[i] for i in keep] for t in texts],
            [footer[i] for i in keep],
            [COLUMNS[i].justify for i in keep],
            width,
            [fold[i] for i in keep],
            [floors[i] for i in keep],
        )
        if table is not None:
            for n, (row, values) in enumerate(zip(rows, texts, strict=True)):
                table.add_row(
                    *(values[i] for i in keep), style=_row_style(analysis, row, n == marked)
                )
            dropped = tuple(c for i, c in enumerate(COLUMNS) if i not in keep)
            # Measured only when something is left out: the note says what it would take.
            needed = min_table_width(headers, [*texts, footer], fold, floors) if dropped else 0
            return SummaryLayout(table, dropped, needed or table.width)
    return SummaryLayout(
        None, tuple(COLUMNS), min_table_width(headers, [*texts, footer], fold, floors)
    )


def summary_table(analysis: Analysis, depth: int | None, console: Console) -> BoxTable | None:
    """The summary table fitted to the console (None when it is too narrow for one)."""
    return summary_layout(analysis, depth, available_width(console)).table


def _print_stacked(analysis: Analysis, depth: int | None, width: int, console: Console) -> None:
    """Too narrow for columns: each layer as a heading and its figures, wrapped."""
    rows, texts, marked = _marked_rows(analysis, depth)
    title = f"{analysis.name} — input {'×'.join(map(str, analysis.input_shape))}"
    print_wrapped(console, title, width, style="bold")
    labels = {
        "output_shape": "out",
        "params": "params",
        "share": "share",
        "receptive_field": "RF",
        "macs": "MACs",
    }
    entries = [
        (t, _row_style(analysis, r, n == marked))
        for n, (r, t) in enumerate(zip(rows, texts, strict=True))
    ]
    entries.append((total_cells(analysis), "bold"))
    for values, style in entries:
        by_key = dict(zip((c.key for c in COLUMNS), values, strict=True))
        print_wrapped(console, by_key["path"], width, style=style)
        if by_key["operation"]:
            print_wrapped(console, "  " + by_key["operation"], width, indent="  ")
        figures = " · ".join(f"{label} {by_key[k]}" for k, label in labels.items() if by_key[k])
        print_wrapped(console, "  " + figures, width, indent="  ")


def print_summary(
    analysis: Analysis, memory: MemoryEstimate, depth: int | None, console: Console
) -> None:
    """The table (fitted to the terminal), the largest layer, notes and the memory estimate."""
    # Tens of thousands of cell strings and row lists, all acyclic: the cyclic collector
    # walking the heap as they pile up cost a third of a 10,000-layer summary.
    with paused_gc():
        _print_summary(analysis, memory, depth, console)


def _print_summary(
    analysis: Analysis, memory: MemoryEstimate, depth: int | None, console: Console
) -> None:
    width = available_width(console)
    layout = summary_layout(analysis, depth, width)
    if layout.table is not None:
        print_table(console, layout.table)
    elif width is not None:
        _print_stacked(analysis, depth, width, console)
    if layout.dropped and layout.table is not None:
        names = ", ".join(c.header for c in layout.dropped)
        print_wrapped(
            console,
            f"Not shown at {width} columns: {names} (the table needs {layout.needed}); "
            "`--markdown` and `--json` show every column",
            width,
            style="dim",
        )
    if analysis.final is not None:
        print_wrapped(console, analysis.final.text(), width, prefix="Final receptive field: ")
    largest = analysis.largest()
    if largest is not None:
        print_wrapped(
            console,
            f"Largest layer: {largest.path} holds {largest.params:,} of "
            f"{analysis.totals.params:,} parameters ({100 * analysis.share(largest):.1f}%)",
            width,
            prefix="Largest layer: ",
        )
    # A module's summary lists them in its notes, with the share of parameters they
    # hold (summarize's rows.py): printed once, there.
    if analysis.totals.uncounted and analysis.source != "module":
        print_wrapped(
            console,
            f"MACs uncounted (no cost rule) for {len(analysis.totals.uncounted)} "
            f"layer(s): {', '.join(analysis.totals.uncounted)}",
            width,
            style="yellow",
        )
    for note in analysis.notes:
        print_wrapped(console, f"note: {note}", width, prefix="note:", prefix_style="yellow")
    console.print(memory_heading(memory), style="bold")
    for line in memory_lines(memory):
        print_wrapped(console, f"  {line}", width, indent="    ")
