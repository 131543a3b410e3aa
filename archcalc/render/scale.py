"""A ScaleResult as rich tables (one per spec, sizes as columns), Markdown, JSON or a plot."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from archcalc.design.figures import FIGURE_KEYS
from archcalc.design.scale import GROWTH_KEYS, ScaleResult, ScaleSeries, grown_axes
from archcalc.errors import ArchcalcError
from archcalc.outfile import write_bytes
from archcalc.render.boxtable import BoxTable
from archcalc.render.compare import metric_text
from archcalc.render.fit import available_width, chunks, inert, print_wrapped
from archcalc.render.markdown import table as markdown_table
from archcalc.render.table import fit_table, print_table

# (figure key, row label); every key is also a GROWTH_KEYS key.
ROWS: tuple[tuple[str, str], ...] = (
    ("params", "Params"),
    ("largest_params", "Largest layer"),
    ("head_params", "Head params (share)"),
    ("macs", "MACs"),
    ("activation_bytes", "Total activations"),
    ("peak_activation_bytes", "Peak activations"),
    ("training_peak_bytes", "Training peak"),
)
NOTE = (
    "growth = the value at the largest size that works ÷ the value at the smallest; "
    "peak activations = activations and kernel scratch live at once in inference (a "
    "liveness pass over the graph); "
    "training peak = a training step with Adam; memory at float32, batch 1"
)


def _growth_text(g: float | None) -> str:
    return "" if g is None else f"×{g:,.1f}"


def _grid(s: ScaleSeries) -> tuple[list[str], list[list[str]]]:
    grown = grown_axes(s.written_shape)
    headers = ["", *("×".join([str(p.size)] * grown) for p in s.points), "growth"]
    rows = []
    for key, label in ROWS:
        row = [label]
        for p in s.points:
            if p.figures is not None:
                row.append(metric_text(key, p.figures))
            else:  # the failure reads once, in the first row of its column
                row.append(p.failure.text if p.failure and key == "params" else "—")
        row.append(_growth_text(s.growth(key)))
        rows.append(row)
    return headers, rows


def _title(s: ScaleSeries) -> str:
    kept = [str(n) for n in s.written_shape[: len(s.written_shape) - grown_axes(s.written_shape)]]
    return f"{s.name} — input {'×'.join(kept + ['S'] * grown_axes(s.written_shape))} ({s.source})"


def _blocks(
    s: ScaleSeries, headers: list[str], rows: list[list[str]], width: int | None
) -> list[tuple[list[int], BoxTable]] | None:
    """The fewest tables, each a slice of the sizes (growth with the last), that fit ``width``."""
    n = len(headers) - 2  # the sizes; the last column is the growth
    for size in range(n, 0, -1):
        tables = []
        for part in chunks(n, size):
            keep = [0, *(i + 1 for i in part)] + ([n + 1] if part.stop == n else [])
            table = fit_table(
                _title(s),
                [headers[i] for i in keep],
                [[row[i] for i in keep] for row in rows],
                None,
                ["left"] + ["right"] * (len(keep) - 1),
                width,
                [True] + [False] * (len(keep) - 1),
                [10] + [0] * (len(keep) - 1),
            )
            if table is None:
                break
            tables.append((keep, table))
        else:
            return tables
    return None


def _style(cell: str) -> str:
    return "yellow" if cell.startswith(("collapses", "n/a")) else ""


def print_scale(result: ScaleResult, console: Console) -> None:
    """One table per spec (several when the terminal is narrow), then the note."""
    width = available_width(console)
    for s in result.series:
        headers, rows = _grid(s)
        blocks = _blocks(s, headers, rows, width)
        if blocks is None and width is not None:
            print_wrapped(console, _title(s), width, style="bold")
            for i, header in enumerate(headers[1:], start=1):
                print_wrapped(console, header, width, style="bold")
                for row in rows:
                    print_wrapped(
                        console, f"  {row[0]}: {row[i]}", width, style=_style(row[i]), indent="    "
                    )
        for keep, table in blocks or []:
            for row in rows:
                styled = [Text(row[0], style="bold")]
                styled += [Text(row[i], style=_style(row[i])) for i in keep[1:]]
                table.add_row(*styled)
            print_table(console, table)
    print_wrapped(console, NOTE, width, style="dim")


def markdown(result: ScaleResult) -> str:
    parts = []
    for s in result.series:
        headers, rows = _grid(s)
        parts.append(
            f"### {_title(s)}\n\n"
            + markdown_table(rows, headers, [False] + [True] * (len(headers) - 1))
        )
    return inert("\n\n".join(parts) + f"\n\n_{NOTE}._\n")


def to_dict(result: ScaleResult) -> dict[str, Any]:
    """The JSON object documented in docs/json-compare.md."""
    specs = []
    for s in result.series:
        points = []
        for p in s.points:
            item: dict[str, Any] = {"size": p.size}
            item.update(p.figures.to_dict() if p.figures else dict.fromkeys(FIGURE_KEYS))
            item["input_shape"] = list(p.input_shape)
            item["failure"] = p.failure.to_dict() if p.failure else None
            points.append(item)
        specs.append(
            {
                "source": s.source,
                "name": s.name,
                "written_input_shape": list(s.written_shape),
                "points": points,
                "growth": {k: s.growth(k) for k in GROWTH_KEYS},
            }
        )
    return {"sizes": list(result.sizes), "specs": specs}


def plot(result: ScaleResult, path: str | Path, inputs: Iterable[str | Path] = ()) -> None:
    """Parameters against input size, one line per spec (dashed: its largest layer), log scale.

    matplotlib is optional (``pip install 'archcalc[plot]'``) and imported
    here only. A bare Figure renders with the Agg canvas, so no GUI backend
    and no pyplot global state is involved. The picture is drawn in memory and
    written by :mod:`archcalc.outfile`: never through a link, onto a device or
    FIFO, or over one of ``inputs`` (the specs).
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ArchcalcError(
            "--plot needs matplotlib, which is not installed", hint="pip install 'archcalc[plot]'"
        ) from None
    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for i, s in enumerate(result.series):
        done = [p for p in s.points if p.figures is not None]
        sizes = [p.size for p in done]
        color = f"C{i % 10}"
        ax.plot(
            sizes,
            [p.figures.params for p in done if p.figures],
            marker="o",
            color=color,
            label=f"{s.name} (total)",
        )
        ax.plot(
            sizes,
            [p.figures.largest_params for p in done if p.figures],
            linestyle="--",
            color=color,
            alpha=0.7,
            label=f"{s.name} (largest layer)",
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(list(result.sizes), [str(n) for n in result.sizes])
    ax.set_xlabel("input size S (S×S pixels; S samples for a C×L input)")
    ax.set_ylabel("parameters")
    ax.set_title("Parameters as the input grows")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format=Path(path).suffix.lstrip(".").lower() or "png", dpi=120)
    except ValueError as err:  # an extension matplotlib cannot draw
        raise ArchcalcError(f"cannot write the plot: {err}", file=str(path)) from None
    write_bytes(path, buffer.getvalue(), inputs=inputs)
