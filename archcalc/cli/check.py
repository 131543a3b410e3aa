"""``archcalc check SPEC...``: validate specs for a pre-commit hook or CI job."""

from __future__ import annotations

import argparse
import sys

from archcalc.analysis import analyze
from archcalc.errors import ArchcalcError
from archcalc.spec.load import load


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("specs", nargs="+", metavar="SPEC", help="spec files to validate")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")


def run(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.specs:
        try:
            analysis = analyze(load(path))
        except ArchcalcError as err:
            failed += 1
            print(str(err), file=sys.stderr)
            continue
        if not args.quiet:
            print(
                f"{path}: ok ({len(analysis.rows)} layers, {analysis.totals.params:,} params, "
                f"output {'×'.join(map(str, analysis.output_shape))})"
            )
    return 2 if failed else 0
