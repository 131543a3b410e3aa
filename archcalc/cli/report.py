"""``archcalc report SPEC``: write one self-contained HTML page (no network needed to view it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from archcalc.analysis import analyze
from archcalc.cli.common import input_shape, resolve_input
from archcalc.outfile import check_target, write_text
from archcalc.report.html import lint_findings, render_report
from archcalc.spec.load import load


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="a YAML spec (see examples/)")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write the page (default: SPEC_STEM.report.html here)",
    )
    p.add_argument(
        "--input",
        type=input_shape,
        metavar="CxHxW",
        help="analyse at another input size, e.g. 3x224x224",
    )


def run(args: argparse.Namespace) -> int:
    target = Path(args.output) if args.output else Path(f"{Path(args.spec).stem}.report.html")
    # Refuse a link, device, FIFO or the spec itself before any work, and again when writing.
    check_target(target, inputs=[args.spec], example="report.html")
    spec = load(args.spec)
    analysis = analyze(spec, resolve_input(args.input, spec.input_shape))
    findings = lint_findings(analysis, spec.lint_ignore)
    page = render_report(analysis, findings, source=Path(args.spec).name)
    write_text(target, page, inputs=[args.spec])
    print(target)
    return 0
