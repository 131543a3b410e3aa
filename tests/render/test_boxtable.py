"""The fast box table: rich's Table layout, plain-text cells, wrapped (never cut) when narrow."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from archcalc.render.boxtable import BoxTable
from archcalc.render.table import fit_table

HEADERS = ["Layer", "Params"]
ROWS = [["conv1", "160"], ["fc1 ◀ largest", "200,832"]]


def _render(renderable: object, **console: object) -> str:
    out = io.StringIO()
    Console(file=out, color_system=None, width=80, **console).print(renderable)  # type: ignore[arg-type]
    return out.getvalue()


def test_draws_what_rich_draws() -> None:
    ours = fit_table("t", HEADERS, ROWS, ["Total", "200,992"], ["left", "right"], None)
    assert isinstance(ours, BoxTable)
    theirs = Table(title="t", show_footer=True)
    theirs.add_column("Layer", footer="Total")
    theirs.add_column("Params", footer="200,992", justify="right")
    for row in ROWS:
        ours.add_row(*row)
        theirs.add_row(*row)
    assert _render(ours).splitlines() == _render(theirs).splitlines()


def test_cells_are_plain_text_not_markup() -> None:
    table = BoxTable("[red]net", ["a"], [9], ["left"])
    table.add_row("[bold]x[/]")
    text = _render(table)
    assert "[bold]x[/]" in text and "[red]net" in text


def test_row_and_cell_styles_reach_the_terminal() -> None:
    table = BoxTable("t", ["a", "b"], [3, 3], ["left", "right"])
    table.add_row("x", Text("y", style="red"), style="bold")
    out = io.StringIO()
    Console(file=out, force_terminal=True, color_system="standard", width=80).print(table)
    assert "\x1b[1mx" in out.getvalue().replace(" ", "")  # bold row
    assert "\x1b[1;31m" in out.getvalue()  # bold row + red cell


def test_a_narrow_table_wraps_text_and_keeps_numbers_whole() -> None:
    rows = [["conv1.block.conv", "118,013,952"], ["fc1 ◀ largest", "200,832"]]
    table = fit_table(
        "a long title here", HEADERS, rows, None, ["left", "right"], 24, [True, False]
    )
    assert table is not None
    table.add_row(*rows[0])
    table.add_row(*rows[1])
    lines = _render(table).splitlines()
    assert max(len(line) for line in lines) <= 24
    text = "\n".join(lines)
    assert "118,013,952" in text and "200,832" in text and "…" not in text
    assert "conv1." in text  # the path folds at its dot


def test_too_narrow_for_the_numbers_gives_no_table() -> None:
    assert fit_table("t", HEADERS, [["x", "15,470,264,320"]], None, ["left", "right"], 12) is None
