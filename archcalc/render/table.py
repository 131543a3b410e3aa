"""The summary as a rich table, shaped like the seed chapter's dimension table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from archcalc.analysis.memory import MemoryEstimate
from archcalc.analysis.result import Analysis
from archcalc.render.boxtable import BoxTable
from archcalc.render.columns import COLUMNS, cells, total_cells
from archcalc.render.markdown import memory_lines

if TYPE_CHECKING:
    from rich.table import Table

# A layer holding at least this share of all parameters is called out.
DOMINANT_SHARE = 0.5


def fixed_table(
    title: str,
    headers: list[str],
    rows: list[list[str]],
    footer: list[str] | None,
    justify: list[str],
    console: Console,
) -> BoxTable | Table:
    """A table whose column widths come from its strings (each cell one line).

    Piped output gets the table's natural width instead of rich's default 80
    columns. Where it fits, the fast BoxTable draws it; a narrower terminal (or
    a title wider than the table) falls back to rich's Table, which wraps.
    """
    widths = [cell_len(h) for h in headers]
    for row in [*rows, *([footer] if footer else [])]:
        widths = [max(w, cell_len(c)) for w, c in zip(widths, row, strict=True)]
    box = BoxTable(title, headers, widths, justify, footer)
    if not console.is_terminal:
        console.width = max(80, box.width)
    if box.width <= console.width and cell_len(title) <= box.width:
        return box
    from rich.table import Table

    table = Table(
        title=title,
        show_footer=footer is not None,
        header_style="bold",
        footer_style="bold",
        title_style="bold",
    )
    for i, header in enumerate(headers):
        table.add_column(header, footer=footer[i] if footer else "", justify=justify[i])  # type: ignore[arg-type]
    return table


def summary_table(analysis: Analysis, depth: int | None, console: Console) -> BoxTable | Table:
    shape = "×".join(map(str, analysis.input_shape))
    largest = analysis.largest()
    rows = analysis.rows_at_depth(depth)
    texts = [cells(row, analysis) for row in rows]
    marked = None
    for i, row in enumerate(rows):
        if largest is not None and row.path == largest.path:
            texts[i][0] += " ◀ largest"
            marked = i
    table = fixed_table(
        f"{analysis.name} — input {shape}",
        [c.header for c in COLUMNS],
        texts,
        total_cells(analysis),
        [c.justify for c in COLUMNS],
        console,
    )
    for i, (row, values) in enumerate(zip(rows, texts, strict=True)):
        if i == marked:
            dominant = largest is not None and analysis.share(largest) >= DOMINANT_SHARE
            table.add_row(*values, style="bold yellow" if dominant else "bold")
        else:
            table.add_row(*values, style=None if row.is_leaf else "cyan")
    return table


def print_summary(
    analysis: Analysis, memory: MemoryEstimate, depth: int | None, console: Console
) -> None:
    console.print(summary_table(analysis, depth, console))
    largest = analysis.largest()
    if largest is not None:
        console.print(
            Text.assemble(
                ("Largest layer: ", "bold"),
                f"{largest.path} holds {largest.params:,} of {analysis.totals.params:,} "
                f"parameters ({100 * analysis.share(largest):.1f}%)",
            )
        )
    if analysis.totals.uncounted:
        console.print(
            f"[yellow]MACs uncounted (no cost rule) for {len(analysis.totals.uncounted)} "
            f"layer(s): {', '.join(analysis.totals.uncounted)}[/yellow]"
        )
    for note in analysis.notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    console.print("Memory (float32, binary units):", style="bold")
    for line in memory_lines(memory):
        console.print(f"  {line}", highlight=False, soft_wrap=True)
