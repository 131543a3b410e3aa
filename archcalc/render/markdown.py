"""The summary as a Markdown table (pastes into a README or paper)."""

from __future__ import annotations

from archcalc.analysis.memory import MemoryEstimate
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
    return title + body + "\n\n" + final + memory_heading(memory) + "\n\n" + lines + "\n"


def memory_lines(m: MemoryEstimate) -> list[str]:
    """The memory estimate, each figure saying what it counts (docs/memory.md)."""
    from archcalc.render.memory_fit import memory_lines as lines

    return lines(m.footprint, m.activations)


def memory_heading(m: MemoryEstimate) -> str:
    from archcalc.render.memory_fit import precision_text

    return f"Memory ({precision_text(m.footprint.dtype)}, binary units):"
