"""The summary as a rich table, shaped like the seed chapter's dimension table."""

from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from archcalc.analysis.memory import MemoryEstimate
from archcalc.analysis.result import Analysis
from archcalc.render.columns import COLUMNS, cells, total_cells
from archcalc.render.markdown import memory_lines

# A layer holding at least this share of all parameters is called out.
DOMINANT_SHARE = 0.5


def summary_table(analysis: Analysis, depth: int | None) -> Table:
    shape = "×".join(map(str, analysis.input_shape))
    table = Table(title=f"{analysis.name} — input {shape}", show_footer=True,
                  header_style="bold", footer_style="bold", title_style="bold")
    totals = total_cells(analysis)
    for col, footer in zip(COLUMNS, totals, strict=True):
        table.add_column(col.header, footer=footer, justify=col.justify,  # type: ignore[arg-type]
                         no_wrap=True)
    largest = analysis.largest()
    for row in analysis.rows_at_depth(depth):
        values = cells(row, analysis)
        if largest is not None and row.path == largest.path:
            style = "bold yellow" if analysis.share(row) >= DOMINANT_SHARE else "bold"
            values[0] = f"{values[0]} ◀ largest"
            table.add_row(*values, style=style)
        elif not row.is_leaf:
            table.add_row(*values, style="cyan")
        else:
            table.add_row(*values)
    return table


def fit(console: Console, table: Table) -> None:
    """Piped output gets the table's natural width, not rich's default 80 columns."""
    if not console.is_terminal:
        wide = console.options.update_width(1000)
        console.width = max(80, Measurement.get(console, wide, table).maximum)


def print_summary(
    analysis: Analysis, memory: MemoryEstimate, depth: int | None, console: Console
) -> None:
    table = summary_table(analysis, depth)
    fit(console, table)
    console.print(table)
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
        console.print(f"  {line}", highlight=False)
