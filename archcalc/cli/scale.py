"""``archcalc scale SPEC... --sizes 28,56,112,224``: params, MACs and memory as the input grows.

Sizes are square (S×S) and keep each spec's channels. A size a network
cannot take shows in its column ("collapses at pool2", "n/a: ..."); only a
spec that cannot be loaded, or has no spatial axis to grow, ends with status 2.
"""

from __future__ import annotations

import argparse
import sys

from archcalc.cli.common import add_format_options, dumps, shown
from archcalc.design.scale import scale
from archcalc.kinds.base import MAX_INT
from archcalc.outfile import check_target
from archcalc.spec.load import load


def sizes(text: str) -> list[int]:
    """``28,56,112,224`` → ``[28, 56, 112, 224]``."""
    try:
        values = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expects sizes like 28,56,112,224, but gets {shown(text)}"
        ) from None
    if not values or any(v < 1 or v > MAX_INT for v in values):
        raise argparse.ArgumentTypeError(
            f"expects positive sizes like 28,56,112,224 (at most {MAX_INT:,}), "
            f"but gets {shown(text)}"
        )
    return values


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("specs", nargs="+", metavar="SPEC", help="YAML specs to scale")
    p.add_argument(
        "--sizes",
        type=sizes,
        metavar="S,S,...",
        help="square input sizes (default: the first spec's size ×1, ×2, ×4, ×8)",
    )
    add_format_options(p)
    p.add_argument(
        "--plot",
        metavar="FILE.png",
        help="also draw parameters against input size (needs matplotlib)",
    )


def run(args: argparse.Namespace) -> int:
    if args.plot:  # refused before any work, as `report -o` is
        check_target(args.plot, inputs=args.specs)
    specs = [(path, load(path)) for path in args.specs]
    chosen = args.sizes
    if chosen is None:
        first = specs[0][1].input_shape
        base = first[-1] if len(first) >= 2 else 1  # W, or a waveform's L
        chosen = [base, 2 * base, 4 * base, 8 * base]
    result = scale(specs, chosen)
    if args.plot:
        from archcalc.render.scale import plot

        plot(result, args.plot, inputs=args.specs)
    if args.json:
        from archcalc.render.scale import to_dict

        sys.stdout.write(dumps(to_dict(result)) + "\n")
    elif args.markdown:
        from archcalc.render.scale import markdown

        sys.stdout.write(markdown(result))
    else:
        from rich.console import Console

        from archcalc.render.scale import print_scale

        print_scale(result, Console())
    if args.plot:
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
