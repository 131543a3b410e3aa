"""`archcalc summary examples/vgg16.yaml` against torchinfo on torchvision's vgg16.

Whole-process wall time and peak memory, runs alternating, median of N (default 5).
Target: archcalc at least 30× faster, under 40 MiB, torch never imported.

    python benchmarks/summary_speed.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from _proc import ROOT, archcalc_command, measure

TORCHINFO = (
    "import torchvision, torchinfo\n"
    "torchinfo.summary(torchvision.models.vgg16(), input_size=(1, 3, 224, 224))\n"
)
NO_TORCH = (
    "import sys, io, contextlib\n"
    "from archcalc.cli.main import main\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    "    main(['summary', 'examples/vgg16.yaml'])\n"
    "print('torch' in sys.modules)\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ours_cmd = [*archcalc_command(), "summary", "examples/vgg16.yaml"]
    theirs_cmd = [sys.executable, "-c", TORCHINFO]
    baseline_cmd = [sys.executable, "-c", "import yaml, rich.console, rich.table"]
    runs: dict[str, list[tuple[float, float, int]]] = {
        "archcalc": [],
        "torchinfo": [],
        "python+yaml+rich": [],
    }
    for cmd in (ours_cmd, theirs_cmd, baseline_cmd):  # warm-up: bytecode and file caches
        measure(cmd)
    for _ in range(args.runs):  # alternate, so drift in machine load hits all alike
        runs["archcalc"].append(measure(ours_cmd))
        runs["torchinfo"].append(measure(theirs_cmd))
        runs["python+yaml+rich"].append(measure(baseline_cmd))
    for name, results in runs.items():
        if any(code != 0 for _, _, code in results):
            sys.exit(f"{name} failed")
    imported = subprocess.run(
        [sys.executable, "-c", NO_TORCH], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    med = {k: statistics.median(w for w, _, _ in v) for k, v in runs.items()}
    peak = {k: max(m for _, m, _ in v) for k, v in runs.items()}
    print(
        f"vgg16 at 3×224×224, median of {args.runs} alternating runs after one warm-up "
        "(whole process)\n"
    )
    print(f"| {'tool':<18} | {'median wall':>11} | {'peak RSS':>10} | {'vs torchinfo':>12} |")
    print(f"|{'-' * 20}|{'-' * 13}:|{'-' * 11}:|{'-' * 13}:|")
    for name in runs:
        ratio = med["torchinfo"] / med[name]
        print(f"| {name:<18} | {med[name]:>9.3f} s | {peak[name]:>6.1f} MiB | {ratio:>11.1f}× |")
    print(f"\narchcalc imported torch: {imported}")
    print(
        f"speed-up ceiling (torchinfo / bare python+yaml+rich): "
        f"{med['torchinfo'] / med['python+yaml+rich']:.0f}×"
    )


if __name__ == "__main__":
    main()
