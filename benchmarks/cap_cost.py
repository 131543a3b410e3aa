"""CPU seconds of every spec-reading command on specs at the layer cap (docs/limits.md).

Each command runs in this process, as `benchmarks/fuzz.py` runs them (startup and
imports not counted, output discarded); the table holds the least CPU time of
--runs runs, so other jobs on a shared machine inflate it less than the wall
clock. The promise: every spec within the limits costs under a second.

    python benchmarks/cap_cost.py [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archcalc.cli.main import main as archcalc_main  # noqa: E402
from archcalc.spec.parse import MAX_LAYERS  # noqa: E402
from archcalc.testing.fuzzing import COMMANDS  # noqa: E402

HEAD = "name: cap\ninput: [4, 8, 8]\nlayers:\n"
SPECS = {
    "1×1 convs, flow style (fuzz `wide`)": (
        HEAD.replace("layers:\n", "layers: [")
        + ", ".join(["{conv2d: {out: 4, kernel: 1}}"] * MAX_LAYERS)
        + "]\n"
    ),
    "3×3 convs, padding 1 (every field its own)": HEAD
    + "  - conv2d: {out: 4, kernel: 3, padding: 1}\n" * MAX_LAYERS,
    "3×3 conv and ReLU, alternating": HEAD
    + "  - conv2d: {out: 4, kernel: 3, padding: 1}\n  - relu\n" * (MAX_LAYERS // 2),
    "ReLUs": HEAD + "  - relu\n" * MAX_LAYERS,
    f"`repeat: {{times: {MAX_LAYERS}}}` of a 3×3 conv": HEAD
    + f"  - repeat: {{times: {MAX_LAYERS}, layers: [{{conv2d: {{out: 4, kernel: 3, "
    "padding: 1}}]}\n",
}


def cpu_seconds(argv: list[str], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        sink = io.StringIO()
        start = time.process_time()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            status = archcalc_main(argv)
        best = min(best, time.process_time() - start)
        if status not in (0, 1):
            raise SystemExit(f"archcalc {' '.join(argv)} exited {status}: {sink.getvalue()}")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    other = str(ROOT / "examples" / "mnist_cnn.yaml")
    cpu_seconds(["check", other], 1)  # imports, not counted
    labels = list(COMMANDS)
    print(f"| spec ({MAX_LAYERS:,} layers) | " + " | ".join(labels) + " |")
    print("|---|" + "---:|" * len(labels))
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="archcalc-cap-") as tmp:
        for name, text in SPECS.items():
            spec = Path(tmp) / "cap.yaml"
            spec.write_text(text)
            cells = []
            for label in labels:
                argv = [a.format(spec=spec, other=other, tmp=tmp) for a in COMMANDS[label]]
                seconds = cpu_seconds(argv, args.runs)
                worst = max(worst, seconds)
                cells.append(f"{seconds:.2f}")
            print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\nslowest: {worst:.2f} s of CPU (least of {args.runs} runs)")


if __name__ == "__main__":
    main()
