"""Whole-process time and peak memory of `archcalc check` on each bad or hostile spec.

Every case of tests/cli/test_bad_input.py (target: under 1 s each), then specs at the
limits of docs/limits.md: 1 MiB files, the deepest and largest accepted nesting,
hostile names, and files that are not files.

python benchmarks/bad_input_latency.py
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
from pathlib import Path

from _proc import ROOT, archcalc_command, measure

sys.path.insert(0, str(ROOT))
from archcalc.spec.parse import MAX_LAYERS, MAX_NESTING
from tests.cli.test_bad_input import CASES, _nested


def _long_shuffled_keys() -> str:
    """Two 150,000-character names alike in letters, not order: difflib's worst case."""
    rng = random.Random(0)
    word = "".join(rng.choice([chr(c) for c in range(0x4E00, 0x4EC8)]) for _ in range(150_000))
    other = "".join(rng.sample(word, len(word)))
    return (
        f"input: [1, 8, 8]\nblocks:\n  b:\n    params:\n      ? {word}\n      : 1\n"
        f"    layers: [relu]\nlayers:\n  - b:\n      ? {other}\n      : 1\n"
    )


def _doubling_arguments(n: int = 60) -> str:
    """Each call hands on `[$c, $c]`: 2^60 values if copied out."""
    text = "input: [1, 8, 8]\nblocks:\n  b0:\n    params: [c]\n    layers: [{linear: {out: $c}}]\n"
    text += "".join(
        f"  b{i}:\n    params: [c]\n    layers: [{{b{i - 1}: {{c: [$c, $c]}}}}]\n"
        for i in range(1, n)
    )
    return text + f"layers: [flatten, {{b{n - 1}: {{c: 1}}}}]\n"


def _deepest_largest(levels: int = MAX_NESTING - 1) -> str:
    """MAX_LAYERS layers under the nesting budget, paths and positions near their caps."""
    names = [f"b{i:02d}" + "x" * 8 for i in range(levels)]
    text = "input: [1, 8, 8]\nblocks:\n"
    text += (
        f"  {names[0]}:\n    layers: [{{repeat: {{name: r, times: {MAX_LAYERS - 1}, "
        f"layers: [{{relu: {{name: {'z' * 60}}}}}]}}}}]\n"
    )
    text += "".join(
        f"  {names[i]}:\n    layers: [{{{names[i - 1]}: {{name: a}}}}]\n" for i in range(1, levels)
    )
    return text + f"layers: [{names[-1]}]\n"


# Hostile sizes, at the limits: a file just under 1 MiB whose values or layers exceed the caps.
HUGE = [
    ("1MiB-of-layers", "input: [1, 8, 8]\nlayers:\n" + "  - relu\n" * 116_000),
    ("1MiB-flow-values", "input: [1, 8, 8]\nlayers: [" + "relu," * 209_000 + "]\n"),
    (
        "1MiB-of-convs",
        "input: [1, 8, 8]\nlayers:\n" + "  - {conv2d: {out: 8, kernel: 3}}\n" * 30_800,
    ),
    ("4MiB-file", "input: [1, 8, 8]\nlayers:\n" + "  - relu\n" * 466_000),
    ("1MiB-shuffled-names", _long_shuffled_keys()),
    ("1MiB-of-NULs", "input: [1, 8, 8]\nlayers: [relu]\n# " + "\x00" * 1_000_000),
    ("doubling-arguments", _doubling_arguments()),
    # Accepted (exit 0): what the largest specs within every limit cost.
    (f"ok: {MAX_LAYERS:,} flat layers", "input: [1, 8, 8]\nlayers:\n" + "  - relu\n" * MAX_LAYERS),
    (
        f"ok: {MAX_LAYERS:,} conv layers",
        "input: [3, 16, 16]\nlayers:\n"
        + "  - conv2d: {out: 4, kernel: 3, padding: 1}\n" * MAX_LAYERS,
    ),
    (f"ok: {MAX_NESTING} levels, all kinds", _nested(MAX_NESTING)),
    (f"ok: {MAX_LAYERS:,} layers deep", _deepest_largest()),
]
# Not regular files: each must be refused before it is read.
SPECIAL = [("/dev/zero", Path("/dev/zero")), ("FIFO, no writer", None)]


def main() -> None:
    worst = 0.0
    rows: list[tuple[str, int, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        cases: list[tuple[str, Path]] = []
        for name, text in [(c[0], c[1]) for c in CASES] + HUGE:
            path = Path(tmp) / f"case{len(cases)}.yaml"
            path.write_text(text)
            cases.append((name, path))
        for name, special in SPECIAL:
            if special is None:
                special = Path(tmp) / "fifo.yaml"
                os.mkfifo(special)
            if special.exists():
                cases.append((name, special))
        for name, path in cases:
            wall, peak, code = measure([*archcalc_command(), "check", str(path)])
            worst = max(worst, wall)
            rows.append((name, code, wall, peak))
    width = max(len(r[0]) for r in rows)
    print(f"| {'case':<{width}} | exit |    wall |  peak RSS |")
    print(f"|{'-' * (width + 2)}|-----:|--------:|----------:|")
    for name, code, wall, peak in rows:
        print(f"| {name:<{width}} | {code:>4} | {wall:>5.2f} s | {peak:>5.1f} MiB |")
    print(f"\nslowest: {worst:.2f} s; {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
