"""``archcalc fit SPEC --memory 24GiB``: the largest batch that trains, and that infers, within
a memory budget, with what the training peak is made of at that batch (docs/memory.md)."""

from __future__ import annotations

import argparse
import re
import sys

from archcalc.analysis.footprint import OPTIMIZER_STATE, PRECISIONS, fit
from archcalc.cli.common import (
    add_format_options,
    dtype_option,
    dumps,
    input_shape,
    optimizer_option,
    shown,
)
from archcalc.cli.summary import analysis_for
from archcalc.kinds.base import fmt_shape

# Binary units as written (KiB), decimal ones (KB), and bare K/M/G/T read as binary, as
# memory is sold and as docker and most tools read them.
_UNITS = {
    "": 1,
    "b": 1,
    "k": 2**10,
    "kib": 2**10,
    "m": 2**20,
    "mib": 2**20,
    "g": 2**30,
    "gib": 2**30,
    "t": 2**40,
    "tib": 2**40,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")
# Above any device made: a typo, and past it the search's arithmetic would only grow.
MAX_BUDGET = 2**60


def memory_size(text: str) -> int:
    """``24GiB``, ``24 GB`` (10⁹), ``80G`` (binary), ``512MiB`` → bytes.

    >>> memory_size("24GiB"), memory_size("1.5 GB"), memory_size("80g")
    (25769803776, 1500000000, 85899345920)
    """
    m = _SIZE.fullmatch(text)
    unit = m.group(2).lower() if m else None
    if m is None or unit not in _UNITS:
        raise argparse.ArgumentTypeError(
            f"expects a size like 24GiB, 80GB or 512MiB, but gets {shown(text)}"
        )
    value = int(float(m.group(1)) * _UNITS[unit])
    if not 1 <= value <= MAX_BUDGET:
        raise argparse.ArgumentTypeError(
            f"expects a size from 1 B to 1 EiB, but gets {shown(text)}"
        )
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", nargs="?", help="a YAML spec (see examples/)")
    p.add_argument(
        "--memory",
        type=memory_size,
        required=True,
        metavar="SIZE",
        help="the memory budget: 24GiB, 80GB (decimal), 16G (binary)",
    )
    p.add_argument(
        "--dtype",
        type=dtype_option,
        default="float32",
        metavar="DTYPE",
        help=f"{', '.join(PRECISIONS)} (or bf16, fp16): mixed precision is autocast with "
        "float32 weights (default float32)",
    )
    p.add_argument(
        "--optimizer",
        type=optimizer_option,
        default="adam",
        metavar="NAME",
        help=f"{', '.join(OPTIMIZER_STATE)} (default adam)",
    )
    p.add_argument(
        "--input",
        type=input_shape,
        metavar="SHAPE",
        help="fit at another input size, without the batch (as summary --input)",
    )
    p.add_argument(
        "--module",
        metavar="PKG.MOD:FN",
        help="fit a torch module instead, e.g. torchvision.models:resnet50 (needs torch and "
        "--input)",
    )
    add_format_options(p, json_help="print JSON (docs/json.md, `archcalc fit`)")


def run(args: argparse.Namespace) -> int:
    """Exit 0 when batch 1 trains within the budget, 1 when it does not."""
    analysis = analysis_for(args)
    result = fit(analysis, args.memory, args.dtype, args.optimizer)
    if args.json:
        data = {
            "name": analysis.name,
            "input_shape": list(analysis.input_shape),
            **result.to_dict(),
        }
        sys.stdout.write(dumps(data) + "\n")
        return 0 if result.train_batch else 1
    from archcalc.render.memory_fit import fit_lines

    lines = fit_lines(analysis.name, fmt_shape(analysis.input_shape), result)
    if args.markdown:
        head, *rest = lines
        sys.stdout.write(f"## {head}\n\n```text\n" + "\n".join(rest).strip("\n") + "\n```\n")
    else:
        from rich.console import Console

        console = Console(highlight=False)
        for line in lines:
            console.print(line, markup=False, soft_wrap=True)
    return 0 if result.train_batch else 1
