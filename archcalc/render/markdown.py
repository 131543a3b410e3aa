"""The summary as a Markdown table (pastes into a README or paper)."""

from __future__ import annotations

from archcalc.analysis.memory import MemoryEstimate, binary_size
from archcalc.analysis.result import Analysis
from archcalc.errors import printable
from archcalc.gcpause import paused_gc
from archcalc.render.columns import COLUMNS, cells, total_cells


def table(rows: list[list[str]], headers: list[str], right: list[bool]) -> str:
    """A GitHub-flavoured Markdown table."""

    def esc(s: str) -> str:
        return printable(s).replace("|", "\\|")

    lines = [
        "| " + " | ".join(esc(h) for h in headers) + " |",
        "|" + "|".join("---:" if r else "---" for r in right) + "|",
    ]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def summary(analysis: Analysis, rows_depth: int | None, memory: MemoryEstimate) -> str:
    with paused_gc():  # a row list per layer, acyclic: see render/table.py
        rows = [cells(r, analysis) for r in analysis.rows_at_depth(rows_depth)]
    rows.append([f"**{c}**" if c else "" for c in total_cells(analysis)])
    title = f"### {printable(analysis.name)} — input {'×'.join(map(str, analysis.input_shape))}\n\n"
    body = table(rows, [c.header for c in COLUMNS], [c.justify == "right" for c in COLUMNS])
    final = "" if analysis.final is None else printable(analysis.final.text()) + "\n\n"
    lines = "\n".join(f"- {line}" for line in memory_lines(memory))
    return title + body + "\n\n" + final + lines + "\n"


def memory_lines(m: MemoryEstimate) -> list[str]:
    """The memory estimate, each figure saying what it counts (float32)."""
    return [
        f"parameters {binary_size(m.params)} + buffers {binary_size(m.buffers)}",
        f"forward activations at batch {m.batch}: {binary_size(m.activations)} "
        f"(every layer's output, as kept for backward; inference peak "
        f"{binary_size(m.inference_peak)} = largest layer input + output)",
        f"training at batch {m.batch}: {binary_size(m.training)} "
        "(weights, gradients, Adam's two moments, buffers, input, activations)",
    ]
