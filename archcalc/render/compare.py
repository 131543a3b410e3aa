"""A Comparison as a rich table, Markdown or JSON.

Metrics are rows and designs are columns. The metric list is fixed (eleven
rows) while the number of designs varies: two designs make a narrow table
and six still fit a wide terminal (about 20 characters per design), whereas
one row per design would need eleven columns, wider than 80 characters
already for two. Reading across a row is also where the best and worst marks
belong.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from archcalc.analysis.memory import binary_size
from archcalc.design.compare import METRICS, Comparison
from archcalc.design.figures import FIGURE_KEYS, Figures
from archcalc.kinds.base import fmt_shape
from archcalc.render.boxtable import BoxTable
from archcalc.render.columns import count, rf_text, share_text
from archcalc.render.fit import available_width, chunks, inert, print_wrapped
from archcalc.render.markdown import table as markdown_table
from archcalc.render.table import fit_table, print_table

GLYPH = {"best": " ✓", "worst": " ✗"}
STYLE = {"best": "bold green", "worst": "red"}
LEGEND = "✓ best, ✗ worst in its row (rows without a better direction carry no marks)"
DEFINITIONS = (
    "head = the layers after the last one whose output is still a C×H×W map with H·W > 1; "
    "peak activations = activations and kernel scratch live at once in inference (a "
    "liveness pass over the graph); "
    "training peak = a training step with Adam; memory at float32, batch 1; "
    "depth = conv and linear layers on the longest path; final receptive field = its size at "
    "the last spatial layer · the share of the input's H×W it covers"
)
# The same definitions once a design reads a C×L or C×D×H×W input, where H×W would misname
# the positions that the head, the body and the coverage are counted over.
DEFINITIONS_ANY_RANK = (
    "head = the layers after the last one whose output is still a feature map with more than "
    "one position (L, H·W or D·H·W > 1); peak activations = activations and kernel scratch "
    "live at once in inference (a liveness pass over the graph); training peak = a training "
    "step with Adam; memory at float32, batch 1; depth = conv and linear layers on the "
    "longest path; final receptive field = its size at the last spatial layer · the share of "
    "the input's positions (L, H×W or D×H×W) it covers"
)


def definitions(c: Comparison) -> str:
    """What the rows count, in the words of the designs' inputs (flat or C×H×W: images')."""
    images = all(len(d.input_shape) in (1, 3) for d in c.designs)
    return DEFINITIONS if images else DEFINITIONS_ANY_RANK


def metric_text(key: str, f: Figures) -> str:
    """One figure as a table cell (shared by compare and scale)."""
    if key == "input_shape":
        return fmt_shape(f.input_shape)
    if key == "output_shape":
        return fmt_shape(f.output_shape)
    if key == "params":
        return count(f.params)
    if key == "largest":
        return f"{f.largest_path} {share_text(f.largest_share)}" if f.largest_path else "—"
    if key == "largest_params":
        return f"{f.largest_path} {count(f.largest_params)}" if f.largest_path else "—"
    if key == "head_params":
        return f"{count(f.head_params)} ({share_text(f.head_share) or '0%'})"
    if key == "body_params":
        return count(f.body_params)
    if key == "macs":
        extra = f" (+{len(f.uncounted)} uncounted)" if f.uncounted else ""
        return count(f.macs) + extra
    if key in ("peak_activation_bytes", "activation_bytes", "training_peak_bytes"):
        return binary_size(getattr(f, key))
    if key == "depth":
        return str(f.depth)
    if key == "receptive_field":
        if f.field is None or f.coverage is None:
            return "n/a (no map)"
        return f"{rf_text(f.field)} · {share_text(f.coverage.area)}"
    raise KeyError(key)


def _headers(c: Comparison) -> list[str]:
    names = [d.name for d in c.designs]
    # Two specs may share a name (variants of one network): fall back to their files.
    return [d.source if names.count(d.name) > 1 else d.name for d in c.designs]


def _grid(c: Comparison) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """(row label, [(cell text, mark)]) for every row, errors included."""
    rows: list[tuple[str, list[tuple[str, str | None]]]] = []
    failed = any(d.error for d in c.designs)
    for metric in METRICS:
        cells: list[tuple[str, str | None]] = []
        for i, d in enumerate(c.designs):
            if metric.key == "input_shape":
                cells.append((fmt_shape(d.input_shape), None))
            elif d.figures is None:
                cells.append(("—", None))
            else:
                cells.append((metric_text(metric.key, d.figures), c.mark(metric.key, i)))
        rows.append((metric.label, cells))
        if metric.key == "input_shape" and failed:
            rows.append(("Error", [(d.error or "", None) for d in c.designs]))
    return rows


def _title(c: Comparison) -> str:
    at = f" at input {fmt_shape(c.input_override)}" if c.input_override else ""
    return f"Comparing {len(c.designs)} designs{at}"


def _blocks(
    c: Comparison, texts: list[list[str]], width: int | None
) -> list[tuple[range, BoxTable]] | None:
    """The fewest tables, each a slice of the designs, that fit ``width`` (None: not even one).

    Splitting the designs keeps metrics as rows and values side by side (as
    pandas prints a wide frame); the marks still compare every design.
    """
    n = len(c.designs)
    headers = ["", *_headers(c)]
    for size in range(n, 0, -1):
        tables = []
        for part in chunks(n, size):
            keep = [0, *(i + 1 for i in part)]
            title = _title(c)
            if len(part) < n:
                title += f" ({part.start + 1}–{part.stop} of {n})"
            table = fit_table(
                title,
                [headers[i] for i in keep],
                [[row[i] for i in keep] for row in texts],
                None,
                ["left"] + ["right"] * len(part),
                width,
                [True] + [False] * len(part),
                [10] + [0] * len(part),
            )
            if table is None:
                break
            tables.append((part, table))
        else:
            return tables
    return None


def print_comparison(c: Comparison, console: Console) -> None:
    """The rich table (split into several when the terminal is narrow), then the notes."""
    width = available_width(console)
    grid = _grid(c)
    texts = [
        [label] + [text + (GLYPH[m] if m else "") for text, m in cells] for label, cells in grid
    ]
    blocks = _blocks(c, texts, width)
    if blocks is None and width is not None:
        _print_stacked(c, grid, texts, width, console)
    for part, table in blocks or []:
        for (label, cells), plain in zip(grid, texts, strict=True):
            row: list[Text] = [Text(label, style="bold")]
            for i in part:
                mark = cells[i][1]
                row.append(Text(plain[i + 1], style=STYLE[mark] if mark else ""))
            table.add_row(*row, style="red" if label == "Error" else None)
        print_table(console, table)
    print_wrapped(console, LEGEND, width)
    print_wrapped(console, definitions(c), width, style="dim")
    for note in c.notes:
        print_wrapped(console, f"note: {note}", width, prefix="note: ", prefix_style="yellow")


def _print_stacked(
    c: Comparison,
    grid: list[tuple[str, list[tuple[str, str | None]]]],
    texts: list[list[str]],
    width: int,
    console: Console,
) -> None:
    """Too narrow for even one design beside the labels: each design as a list."""
    print_wrapped(console, _title(c), width, style="bold")
    for i, name in enumerate(_headers(c)):
        print_wrapped(console, name, width, style="bold")
        for (label, cells), plain in zip(grid, texts, strict=True):
            mark = cells[i][1]
            print_wrapped(
                console,
                f"  {label}: {plain[i + 1]}",
                width,
                style=STYLE[mark] if mark else None,
                indent="    ",
            )


def markdown(c: Comparison) -> str:
    """A GitHub-flavoured table; the best value of a row in bold."""
    rows = []
    for label, cells in _grid(c):
        row = [label]
        for text, mark in cells:
            shown = text + (GLYPH[mark] if mark else "")
            row.append(f"**{shown}**" if mark == "best" else shown)
        rows.append(row)
    body = markdown_table(rows, ["", *_headers(c)], [False] + [True] * len(c.designs))
    lines = [f"### {_title(c)}", "", body, "", f"{LEGEND}.", "", f"_{definitions(c)}._"]
    lines += [f"\n> note: {n}" for n in c.notes]
    return inert("\n".join(lines) + "\n")


def to_dict(c: Comparison) -> dict[str, Any]:
    """The JSON object documented in docs/json-compare.md."""
    designs = []
    for i, d in enumerate(c.designs):
        item: dict[str, Any] = {
            "source": d.source,
            "name": d.name,
            "input_shape": list(d.input_shape),
            "written_input_shape": list(d.written_shape),
            "error": d.error,
        }
        item.update(d.figures.to_dict() if d.figures else dict.fromkeys(FIGURE_KEYS))
        item["input_shape"] = list(d.input_shape)
        item.update(c.marks(i))
        designs.append(item)
    return {
        "input_override": list(c.input_override) if c.input_override else None,
        "metrics": [{"key": m.key, "label": m.label, "better": m.better} for m in METRICS],
        "designs": designs,
        "notes": list(c.notes),
    }
