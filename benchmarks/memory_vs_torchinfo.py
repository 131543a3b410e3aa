"""archcalc's training peak against torchinfo's "Estimated Total Size" and torch's measured peak.

For the seed CNN, resnet50, a U-Net and efficientnet_b0 (the example specs, built with
``archcalc.build``) at batch 32, float32, Adam: archcalc's estimate from the spec (no torch),
torchinfo 1.8.0's "Estimated Total Size" (input + "forward/backward pass size" + params) for
the same module, and the steady-state training step's peak measured with torch's CPU allocator
(archcalc/bridge/measure.py). Prints a markdown table; the U-Net at batch 32 needs about 12 GiB.

    pip install -e '.[bench]'
    python benchmarks/memory_vs_torchinfo.py [--batch 32] [--specs mnist_cnn,resnet50]
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

import torch
import torchinfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import archcalc
from archcalc.analysis.footprint import footprint
from archcalc.bridge import measure

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SPECS = ("mnist_cnn", "resnet50", "unet_padded", "efficientnet_b0")


def _gib(n: float) -> str:
    return f"{n / 2**30:,.2f} GiB" if n >= 2**30 else f"{n / 2**20:,.1f} MiB"


def _ratio(est: float, got: float) -> str:
    return f"{est / got:.2f}×"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--specs", default=",".join(SPECS))
    args = parser.parse_args()
    print(
        f"batch {args.batch}, float32, Adam; torch {torch.__version__}, torchinfo "
        f"{torchinfo.__version__}, {torch.get_num_threads()} CPU threads; "
        "× = estimate ÷ measured\n"
    )
    print(
        "| spec | input | measured training peak | archcalc | × | torchinfo "
        '"Estimated Total Size" | × |'
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in args.specs.split(","):
        spec = archcalc.load(EXAMPLES / f"{name}.yaml")
        analysis = archcalc.analyze(spec)
        est = footprint(analysis, args.batch, "float32", "adam", threads=torch.get_num_threads())
        torch.manual_seed(0)
        model = archcalc.build(spec)
        stats = torchinfo.summary(model, input_size=(args.batch, *spec.input_shape), verbose=0)
        info = stats.total_input + stats.total_output_bytes + stats.total_param_bytes
        x = torch.randn(args.batch, *spec.input_shape)
        measured = measure.training_peak(model, x, "adam", "float32")
        shape = "×".join(map(str, spec.input_shape))
        print(
            f"| {name} | {shape} | {_gib(measured)} | {_gib(est.training_peak)} | "
            f"{_ratio(est.training_peak, measured)} | {_gib(info)} | {_ratio(info, measured)} |",
            flush=True,
        )
        del model, x, stats
        gc.collect()


if __name__ == "__main__":
    main()
