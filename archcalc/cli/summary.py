"""``archcalc summary SPEC``: the layer-by-layer table, or its JSON / Markdown."""

from __future__ import annotations

import argparse
import sys

from archcalc.analysis import Analysis, analyze, estimate
from archcalc.cli.common import (
    add_format_options,
    dtype_option,
    dumps,
    import_optional,
    input_shape,
    optimizer_option,
    positive_int,
    progress,
    resolve_input,
)
from archcalc.design.lint import lint
from archcalc.errors import ArchcalcError
from archcalc.spec.load import load
from archcalc.spec.model import Spec


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", nargs="?", help="a YAML spec (see examples/)")
    p.add_argument(
        "--input",
        type=input_shape,
        metavar="SHAPE",
        help="analyse at another input size, without the batch: F, CxL, CxHxW or CxDxHxW, "
        "e.g. 3x224x224 (a spec's input less its channels keeps them: 56x56)",
    )
    p.add_argument(
        "--batch",
        type=positive_int,
        default=1,
        metavar="N",
        help="batch size for the memory estimate (default 1)",
    )
    p.add_argument(
        "--dtype",
        type=dtype_option,
        default="float32",
        metavar="DTYPE",
        help="float32, bfloat16 or float16 (bf16, fp16: autocast with float32 weights) for "
        "the memory estimate (default float32)",
    )
    p.add_argument(
        "--optimizer",
        type=optimizer_option,
        default="adam",
        metavar="NAME",
        help="sgd, sgd-momentum, adam or adamw: its state in the training peak (default adam)",
    )
    p.add_argument(
        "--depth",
        type=positive_int,
        metavar="N",
        help="fold blocks, repeats, residuals and concats below depth N into one row",
    )
    add_format_options(p, json_help="print the JSON object of docs/json.md")
    p.add_argument(
        "--module",
        metavar="PKG.MOD:FN",
        help="summarise a torch module instead, e.g. torchvision.models:vgg16 "
        "(needs torch and --input)",
    )


def analysis_for(args: argparse.Namespace) -> Analysis:
    return _analysed(args)[0]


def _analysed(args: argparse.Namespace) -> tuple[Analysis, Spec | None]:
    """The analysis, and the spec it came from (None for --module), which lint needs."""
    if args.module:
        if args.spec:
            raise ArchcalcError("give a SPEC or --module, not both")
        if args.input is None:
            raise ArchcalcError("--module needs --input CxHxW", hint="e.g. --input 3x224x224")
        # Importing torch takes seconds (10-20 s on a busy machine): say what is happening.
        progress("importing torch…")
        import_optional("torch", "--module")
        from archcalc.bridge.summarize import summarize_target
        from archcalc.kinds.base import fmt_shape

        progress(f"tracing {args.module} at {fmt_shape(args.input)}…")
        return summarize_target(args.module, args.input), None
    if not args.spec:
        raise ArchcalcError(
            "summary needs a SPEC file (or --module)",
            hint="e.g. `archcalc summary examples/mnist_cnn.yaml`",
        )
    spec = load(args.spec)
    return analyze(spec, resolve_input(args.input, spec.input_shape)), spec


def run(args: argparse.Namespace) -> int:
    analysis, spec = _analysed(args)
    memory = estimate(analysis, args.batch, args.dtype, args.optimizer)
    # Lint is pure Python over the same analysis, so the summary shows its findings for free.
    report = lint(analysis, spec.lint_ignore, spec.file) if spec is not None else None
    if args.json:
        data = analysis.to_dict()
        f = memory.footprint
        data["memory"] = {
            **{
                k: getattr(memory, k)
                for k in (
                    "batch",
                    "params",
                    "buffers",
                    "input",
                    "activations",
                    "saved",
                    "inference_peak",
                    "training",
                )
            },
            "dtype": f.dtype,
            "optimizer": f.optimizer,
            "gradients": f.gradients,
            "optimizer_state": f.optimizer_state,
            "training_phase": f.training_phase,
            "training_parts": dict(f.at_peak),
        }
        if f.unknown:
            data["memory"]["unknown_layers"] = list(f.unknown)
        data["lint"] = [f.to_dict() for f in report.findings] if report else []
        sys.stdout.write(dumps(data) + "\n")
        return 0
    if args.markdown:
        from archcalc.render.markdown import summary

        sys.stdout.write(summary(analysis, args.depth, memory))
        if report is not None:
            from archcalc.render.lint import markdown

            sys.stdout.write("\n" + markdown(report))
        return 0
    from rich.console import Console

    from archcalc.render.table import print_summary

    console = Console()
    print_summary(analysis, memory, args.depth, console)
    if report is not None:
        from archcalc.render.lint import print_findings

        print_findings(report, console, heading="Lint")
    return 0
