"""Whole-process time for each bad spec of tests/cli/test_bad_input.py (target: under 1 s each).

python benchmarks/bad_input_latency.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _proc import ROOT, archcalc_command, measure

sys.path.insert(0, str(ROOT))
from tests.cli.test_bad_input import CASES

# Hostile sizes, at the limits: a file just under 1 MiB whose values or layers exceed the caps.
HUGE = [
    ("1MiB-of-layers", "input: [1, 8, 8]\nlayers:\n" + "  - relu\n" * 116_000),
    ("1MiB-flow-values", "input: [1, 8, 8]\nlayers: [" + "relu," * 209_000 + "]\n"),
    (
        "1MiB-of-convs",
        "input: [1, 8, 8]\nlayers:\n" + "  - {conv2d: {out: 8, kernel: 3}}\n" * 30_800,
    ),
    ("4MiB-file", "input: [1, 8, 8]\nlayers:\n" + "  - relu\n" * 466_000),
]


def main() -> None:
    worst = 0.0
    print(f"| {'case':<22} | {'exit':>4} | {'wall':>7} | {'peak RSS':>9} |")
    print(f"|{'-' * 24}|{'-' * 5}:|{'-' * 8}:|{'-' * 10}:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in [(c[0], c[1]) for c in CASES] + HUGE:
            path = Path(tmp) / f"{name}.yaml"
            path.write_text(text)
            wall, peak, code = measure([*archcalc_command(), "check", str(path)])
            worst = max(worst, wall)
            print(f"| {name:<22} | {code:>4} | {wall:>5.2f} s | {peak:>5.1f} MiB |")
    print(f"\nslowest: {worst:.2f} s")


if __name__ == "__main__":
    main()
