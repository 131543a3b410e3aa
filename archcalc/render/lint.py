"""Lint findings as compiler-style lines (rich), Markdown or JSON.

The text form is ``file:line:col: CODE severity path: message``, the shape
editors and CI annotations already parse (as gcc, ruff and mypy print it).
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from archcalc.design.lint import Finding, LintReport
from archcalc.errors import printable
from archcalc.render.fit import available_width, inert, wrap
from archcalc.render.markdown import table as markdown_table

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def where(f: Finding, report: LintReport) -> str:
    """The finding's file:line:col, or the spec's file (or name) when the layer has no place."""
    return str(f.loc) if f.loc else (report.file or report.name)


def line(f: Finding, report: LintReport) -> Text:
    """One finding as a styled line; a spec's own text in it is shown escaped, never acted on."""
    return Text.assemble(
        (printable(f"{where(f, report)}: "), "bold"),
        (f.code, "bold"),
        " ",
        (f.severity, SEVERITY_STYLE.get(f.severity, "")),
        " ",
        (printable(f.path), "bold"),
        printable(f": {f.message}"),
    )


def tally(report: LintReport) -> str:
    """``2 findings (1 warning, 1 info)``, plus how many were silenced."""
    n = len(report.findings)
    if not n:
        text = "no findings"
    else:
        counts = {
            s: sum(f.severity == s for f in report.findings) for s in ("error", "warning", "info")
        }
        plural = {"error": "errors", "warning": "warnings", "info": "info"}
        parts = ", ".join(f"{c} {plural[s] if c > 1 else s}" for s, c in counts.items() if c)
        text = f"{n} finding{'s' if n > 1 else ''} ({parts})"
    if report.silenced:
        codes = ", ".join(sorted({f.code for f in report.silenced}))
        text += f"; {len(report.silenced)} silenced ({codes})"
    return text


def print_findings(report: LintReport, console: Console, heading: str | None = None) -> None:
    """Each finding, then a tally.

    Piped, a finding is one line, never wrapped, so grep and editors read it
    whole. In a terminal (or at a ``$COLUMNS`` width) it wraps between words
    with a hanging indent, rather than the terminal cutting a number or a
    path in two; the location still starts the line.
    """
    width = available_width(console)
    if heading:
        console.print(printable(f"{heading}: {tally(report)}"), style="bold", highlight=False)
    for f in report.findings:
        text = line(f, report)
        if width is None or cell_len(text.plain) <= width:
            console.print(text, soft_wrap=True, highlight=False)
            continue
        start = 0
        for piece in wrap(text.plain, width, indent="    "):
            # Each wrapped piece keeps the styles of the characters it came from.
            body = piece[4:] if start else piece
            at = text.plain.find(body, start)
            # A message with runs of spaces wraps to pieces not found verbatim: plain then.
            shown = text[at : at + len(body)] if at >= 0 else Text(body)
            console.print(Text("    ") + shown if start else shown, soft_wrap=True, highlight=False)
            start = at + len(body) if at >= 0 else start
    if not heading:
        console.print(printable(f"{report.file or report.name}: {tally(report)}"), highlight=False)


def markdown(report: LintReport, heading: str = "Lint") -> str:
    """A Markdown section: a table of findings, or one line saying there are none."""
    title = inert(f"### {heading}: {report.name} — {tally(report)}\n")
    if not report.findings:
        return title
    rows = [
        [f"`{f.code}`", f.severity, f.path, where(f, report), f.message] for f in report.findings
    ]
    return (
        title
        + "\n"
        + markdown_table(rows, ["Code", "Severity", "Layer", "Where", "Message"], [False] * 5)
        + "\n"
    )


def to_dict(report: LintReport) -> dict[str, Any]:
    """One spec's findings for the JSON outputs (docs/json-compare.md)."""
    return report.to_dict()
