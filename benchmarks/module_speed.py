"""`summarize(module)` against torchinfo, fvcore, thop and ptflops on torchvision models.

In-process time per summary (the model built once, outside the clock), the
five tools alternating round by round so that drift in machine load hits all
alike, one warm-up round first, median of N (default 5). Prints one row per
model with each peer's time over archcalc's.

Acceptance (issue 10): archcalc fastest of the five on every model run, and at
least 3× faster than torchinfo on each; the exit status is 1 where it is not.
The peers run a real forward, which more torch threads speed up and archcalc's
shape-only trace does not: run it both with OMP_NUM_THREADS=1 and without.

    pip install -e '.[bench]'
    python benchmarks/module_speed.py [--runs 5] [--models resnet50,swin_t]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archcalc.bridge.summarize import summarize

ISSUE_TABLE = (
    "resnet50",
    "mobilenet_v3_large",
    "regnet_y_400mf",
    "shufflenet_v2_x1_0",
    "swin_t",
    "densenet121",
)
MORE = (
    "vgg16",
    "efficientnet_b0",
    "convnext_tiny",
    "inception_v3",
    "vit_b_16",
    "googlenet",
    "mnasnet1_0",
    "resnext50_32x4d",
    "squeezenet1_0",
)
TOOLS = ("archcalc", "torchinfo", "fvcore", "thop", "ptflops")


def _quiet(fn: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()

    return run


def runners(model: nn.Module, shape: tuple[int, ...]) -> dict[str, Callable[[], Any]]:
    """Each tool's whole summary of ``model`` (params and MACs at least), as its docs show."""
    import fvcore.nn
    import ptflops
    import thop
    import torchinfo

    x = torch.zeros(1, *shape)
    model.eval()
    # thop registers buffers on the model's modules: it gets its own copy.
    thop_model = copy.deepcopy(model)
    return {
        "archcalc": lambda: summarize(model, shape).totals.macs,
        "torchinfo": _quiet(
            lambda: torchinfo.summary(model, input_size=(1, *shape), verbose=0).total_mult_adds
        ),
        "fvcore": _quiet(
            lambda: (
                fvcore.nn.FlopCountAnalysis(model, x)
                .unsupported_ops_warnings(False)
                .uncalled_modules_warnings(False)
                .total(),
                fvcore.nn.parameter_count(model),
            )
        ),
        "thop": _quiet(lambda: thop.profile(thop_model, inputs=(x,), verbose=False)),
        "ptflops": _quiet(
            lambda: ptflops.get_model_complexity_info(
                model, shape, as_strings=False, print_per_layer_stat=False, verbose=False
            )
        ),
    }


def bench(name: str, runs: int) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = getattr(torchvision.models, name)()
    shape = (3, 299, 299) if name == "inception_v3" else (3, 224, 224)
    tools = runners(model, shape)
    times: dict[str, list[float]] = {t: [] for t in TOOLS}
    for i in range(runs + 1):  # round 0 warms up: imports, caches, lazy init
        for tool in TOOLS:
            start = time.perf_counter()
            tools[tool]()
            if i:
                times[tool].append(time.perf_counter() - start)
    return {t: statistics.median(v) for t, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--models", help="comma-separated torchvision names (default: all)")
    args = parser.parse_args()
    names = args.models.split(",") if args.models else [*ISSUE_TABLE, *MORE]
    print(
        f"in-process seconds per summary, median of {args.runs} alternating rounds after one "
        f"warm-up; torch {torch.__version__}, {torch.get_num_threads()} threads\n"
    )
    head = " | ".join(f"{t:>9}" for t in TOOLS)
    print(f"| {'model':<20} | {head} | {'fastest peer / archcalc':>9} |")
    print(f"|{'-' * 22}|" + "|".join("-" * 10 + ":" for _ in TOOLS) + f"|{'-' * 24}:|")
    failed = []
    for name in names:
        med = bench(name, args.runs)
        ours = med["archcalc"]
        cells = " | ".join(
            f"{med[t]:>7.3f} s" if t == "archcalc" else f"{med[t] / ours:>8.1f}×" for t in TOOLS
        )
        fastest_peer = min(med[t] for t in TOOLS[1:])
        print(f"| {name:<20} | {cells} | {fastest_peer / ours:>22.1f}× |", flush=True)
        if fastest_peer <= ours or med["torchinfo"] < 3 * ours:
            failed.append(name)
    print("\npeers' columns: their median time over archcalc's (how many times slower)")
    print("last column: the fastest peer's time over archcalc's")
    if failed:
        sys.exit(f"acceptance not met on: {', '.join(failed)}")


if __name__ == "__main__":
    main()
