"""archcalc's memory estimates against what torch really holds, for every example spec.

For each spec, batch size and dtype: the bytes autograd saves for backward (measured with
saved-tensor hooks, deduplicated by storage), the inference peak and the training step's
peak (measured with torch's allocator, archcalc/bridge/measure.py says how), each beside
archcalc's estimate (archcalc/analysis/footprint.py) and the error. Prints one markdown
table; heavy at batch 8 (the whole zoo takes tens of minutes on two cores).

    python benchmarks/memory_accuracy.py                       # every spec, batch 1 and 8
    python benchmarks/memory_accuracy.py --specs resnet18,unet --batches 32 --dtypes float32
    python benchmarks/memory_accuracy.py --device cuda          # on a GPU: max_memory_allocated

On CUDA the estimate is still torch's CPU rules (CUDA's dropout keeps a 1-byte mask, its
autocast keeps softmax and the norms in float32, cuDNN picks its own workspaces), so the
table there measures how far those carry.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import archcalc
from archcalc.analysis.footprint import footprint, saved_bytes
from archcalc.bridge import measure

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# Runs whose measurement needs more resident memory than a 24 GiB machine has: the original
# U-Net at 572×572 and batch 8 (the profiled step's process was killed for memory).
TOO_LARGE = (("unet", 8),)


def _pct(est: int, got: int) -> str:
    return f"{100 * (est - got) / got:+.1f}%" if got else "—"


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", default="", help="comma-separated names (default: all)")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--optimizer", default="adam", choices=sorted(measure.OPTIMIZERS))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--no-training", action="store_true", help="skip the training peak")
    parser.add_argument(
        "--skip",
        default=",".join(f"{n}:{b}" for n, b in TOO_LARGE),
        help="SPEC:BATCH pairs not to run (default: those this 24 GiB machine cannot measure)",
    )
    args = parser.parse_args()
    names = [n for n in args.specs.split(",") if n] or sorted(
        p.stem for p in EXAMPLES.glob("*.yaml")
    )
    batches = [int(b) for b in args.batches.split(",")]
    dtypes = args.dtypes.split(",")
    skip = set(args.skip.split(",")) if args.skip else set()
    threads = torch.get_num_threads()
    print(
        f"torch {torch.__version__}, {args.device}, {threads} threads, optimizer {args.optimizer}; "
        "MiB; error = (archcalc − measured) / measured\n"
    )
    print(
        "| spec | batch | dtype | saved (measured) | saved error | inference peak | error "
        "| training peak | error | seconds |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    worst = {"saved": 0.0, "inference": 0.0, "training": 0.0}
    for name in names:
        spec = archcalc.load(EXAMPLES / f"{name}.yaml")
        analysis = archcalc.analyze(spec)
        torch.manual_seed(0)
        model = archcalc.build(spec).to(args.device)
        for batch in batches:
            if f"{name}:{batch}" in skip:
                print(f"| {name} | {batch} | — | not measured (--skip) | | | | | | |")
                continue
            x = torch.randn(batch, *spec.input_shape, device=args.device)
            for dtype in dtypes:
                start = time.perf_counter()
                got_saved = measure.saved_bytes(model, x, dtype)
                got_inf = measure.inference_peak(model, x, dtype)
                got_train = (
                    0
                    if args.no_training
                    else measure.training_peak(model, x, args.optimizer, dtype)
                )
                est = footprint(analysis, batch, dtype, args.optimizer, threads=threads)
                est_saved = saved_bytes(analysis, batch, dtype)
                seconds = time.perf_counter() - start
                for key, e, g in (
                    ("saved", est_saved, got_saved),
                    ("inference", est.inference_peak, got_inf),
                    ("training", est.training_peak, got_train),
                ):
                    if g:
                        worst[key] = max(worst[key], abs(e - g) / g)
                print(
                    f"| {name} | {batch} | {dtype} | {_mib(got_saved)} | "
                    f"{_pct(est_saved, got_saved)} | {_mib(got_inf)} | "
                    f"{_pct(est.inference_peak, got_inf)} | "
                    f"{_mib(got_train) if got_train else '—'} | "
                    f"{_pct(est.training_peak, got_train)} | {seconds:.0f} |",
                    flush=True,
                )
                gc.collect()
    print(
        f"\nlargest error: saved {100 * worst['saved']:.2f}%, inference peak "
        f"{100 * worst['inference']:.1f}%, training peak {100 * worst['training']:.1f}%"
    )


if __name__ == "__main__":
    main()
