"""``archcalc compare A.yaml B.yaml ...``: designs side by side, best and worst marked.

Exit status: 0 when every design was analysed; 2 when a spec cannot be
loaded, or cannot be analysed at its own input (the spec's mistake, printed
on stderr as well as in its column). At an ``--input`` a design cannot take,
the error is that design's answer and the status stays 0.
"""

from __future__ import annotations

import argparse
import sys

from archcalc.cli.common import add_format_options, dumps, input_shape
from archcalc.design.compare import compare
from archcalc.spec.load import load


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("specs", nargs="+", metavar="SPEC", help="YAML specs to compare")
    p.add_argument(
        "--input",
        type=input_shape,
        metavar="CxHxW",
        help="analyse every design at this input (HxW keeps each spec's channels)",
    )
    add_format_options(p)


def run(args: argparse.Namespace) -> int:
    specs = [(path, load(path)) for path in args.specs]
    result = compare(specs, args.input)
    if args.json:
        from archcalc.render.compare import to_dict

        sys.stdout.write(dumps(to_dict(result)) + "\n")
    elif args.markdown:
        from archcalc.render.compare import markdown

        sys.stdout.write(markdown(result))
    else:
        from rich.console import Console

        from archcalc.render.compare import print_comparison

        print_comparison(result, Console())
    broken = [d.error for d in result.designs if d.error] if args.input is None else []
    for error in broken:
        print(error, file=sys.stderr)
    return 2 if broken else 0
