"""The HTML report: one self-contained page over an :class:`~archcalc.analysis.Analysis`."""

from archcalc.report.html import Finding, lint_findings, render_report

__all__ = ["Finding", "lint_findings", "render_report"]
