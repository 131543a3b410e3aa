"""``archcalc lint SPEC...``: flag design smells (codes in docs/lint.md).

Exit status: 0 when every spec is clean, 1 when there are findings, 2 when a
spec cannot be loaded or analysed (that error is printed, one line, and the
other specs are still linted). Codes are silenced per spec with
``lint: {ignore: [AC101]}`` or for the run with ``--ignore AC101,AC105``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from archcalc.cli.common import add_format_options, dumps, input_shape, resolve_input
from archcalc.design.lint import LintReport, check_codes, lint_spec
from archcalc.errors import ArchcalcError
from archcalc.spec.load import load


def codes(text: str) -> list[str]:
    """``AC101,AC105`` → ``["AC101", "AC105"]``."""
    return [c for c in text.replace(" ", "").split(",") if c]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("specs", nargs="+", metavar="SPEC", help="YAML specs to lint")
    p.add_argument(
        "--ignore",
        type=codes,
        default=[],
        metavar="CODES",
        help="silence these codes, e.g. AC101,AC105",
    )
    p.add_argument(
        "--input",
        type=input_shape,
        metavar="CxHxW",
        help="lint at another input size (HxW keeps the spec's channels)",
    )
    add_format_options(p)


def run(args: argparse.Namespace) -> int:
    ignore = check_codes(args.ignore, "--ignore")
    results: list[tuple[str, LintReport | str]] = []  # (path, report or error), in order
    for path in args.specs:
        try:
            spec = load(path)
            results.append(
                (path, lint_spec(spec, resolve_input(args.input, spec.input_shape), ignore))
            )
        except ArchcalcError as err:
            results.append((path, str(err)))
            print(str(err), file=sys.stderr)
    reports = [r for _, r in results if isinstance(r, LintReport)]
    if args.json:
        items: list[dict[str, Any]] = [
            r.to_dict() if isinstance(r, LintReport) else {"file": path, "error": r}
            for path, r in results
        ]
        sys.stdout.write(dumps({"specs": items}) + "\n")
    elif args.markdown:
        from archcalc.render.lint import markdown

        sys.stdout.write("\n".join(markdown(r) for r in reports))
    else:
        from rich.console import Console

        from archcalc.render.lint import print_findings

        console = Console()
        for report in reports:
            print_findings(report, console)
    if len(reports) < len(results):
        return 2
    return 1 if any(r.findings for r in reports) else 0
