"""``archcalc export PKG.MOD:FACTORY --input 3x224x224``: an existing torch module as a spec.

The YAML goes to stdout, or with ``-o`` to a file written in one atomic step
(the path checked before the module is even imported), so a refusal never
leaves a partial file behind. ``--flat`` writes every container's body as
traced, without parameterised blocks.
"""

from __future__ import annotations

import argparse
import sys

from archcalc.cli.common import import_optional, input_shape, progress
from archcalc.outfile import check_target, write_text


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "target",
        metavar="PKG.MOD:FACTORY",
        help="the module: an instance, a class or a factory, with keyword literals after it "
        "if it needs them, e.g. torchvision.models:resnet50 or "
        "torchvision.models:googlenet(aux_logits=False)",
    )
    p.add_argument(
        "--input",
        type=input_shape,
        metavar="SHAPE",
        required=True,
        help="the input without the batch: F, CxL, CxHxW or CxDxHxW, e.g. 3x224x224",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write the spec here (default: stdout)")
    p.add_argument(
        "--flat",
        action="store_true",
        help="every container's body as traced: no parameters, no shared blocks beyond "
        "identical ones",
    )


def run(args: argparse.Namespace) -> int:
    if args.output is not None:
        check_target(args.output, example="model.yaml")
    progress("importing torch…")
    import_optional("torch", "archcalc export")
    from archcalc.bridge.export import export_target
    from archcalc.kinds.base import fmt_shape

    progress(f"tracing {args.target} at {fmt_shape(args.input)}…")
    exported = export_target(args.target, args.input, flat=args.flat)
    if args.output is None:
        sys.stdout.write(exported.text)
        return 0
    write_text(args.output, exported.text)
    print(args.output)
    return 0
