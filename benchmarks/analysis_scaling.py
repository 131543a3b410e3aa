"""How analysis time grows with layer count (it must be linear), up to the layer cap (5,000).

Generates specs of N layers on an 8×32×32 input, in two shapes: a plain list
(3×3 convolutions and ReLUs) and a graph written with named tensors (each
conv reads a tensor two layers back with `from:`, and an explicit `add` joins
it to the previous output: a skip per three nodes). Times `loads` (YAML →
validated spec, lowered to the graph) and `analyze` separately, best of 3.

    python benchmarks/analysis_scaling.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import archcalc
from archcalc.spec.parse import MAX_LAYERS


def spec_text(layers: int) -> str:
    body = ["input: [8, 32, 32]", "layers:"]
    for i in range(layers):
        body.append("  - conv2d: {out: 8, kernel: 3, padding: 1}" if i % 2 == 0 else "  - relu")
    return "\n".join(body) + "\n"


def graph_text(layers: int) -> str:
    """Up to ``layers`` nodes (the cap included): relu r, conv c reading the tensor before r,
    add of c and r; repeated."""
    body = ["input: [8, 32, 32]", "layers:", "  - relu: {name: t0}"]
    n, i = 1, 0
    while n + 3 <= layers:
        prev = f"t{i}"
        body.append(f"  - relu: {{name: r{i}}}")
        body.append(f"  - conv2d: {{name: c{i}, from: {prev}, out: 8, kernel: 3, padding: 1}}")
        body.append(f"  - add: {{name: t{i + 1}, from: [c{i}, r{i}]}}")
        n, i = n + 3, i + 1
    return "\n".join(body) + "\n"


def best(fn, repeat: int = 3) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    sizes = (500, 1_000, 2_000, MAX_LAYERS)  # MAX_LAYERS: the most a spec may expand to
    series = (
        ("a list of layers", spec_text, sizes),
        ("a graph of named tensors", graph_text, sizes),
    )
    for title, make, sizes in series:
        print(f"\n{title}\n")
        print(
            f"| {'layers':>7} | {'load (YAML)':>11} | {'analyze':>9} | {'total':>8} | "
            f"{'µs / layer':>10} |"
        )
        print(f"|{'-' * 8}:|{'-' * 12}:|{'-' * 10}:|{'-' * 9}:|{'-' * 11}:|")
        per_layer = {}
        for n in sizes:
            text = make(n)
            t_load, spec = best(lambda text=text: archcalc.loads(text))
            t_analyze, analysis = best(lambda spec=spec: archcalc.analyze(spec))  # type: ignore[arg-type]
            rows = len(analysis.rows)  # type: ignore[attr-defined]
            assert n - 2 <= rows <= n, rows
            total = t_load + t_analyze
            per_layer[n] = total / rows * 1e6
            print(
                f"| {rows:>7,} | {t_load:>9.3f} s | {t_analyze:>7.3f} s | {total:>6.3f} s | "
                f"{per_layer[n]:>10.1f} |"
            )
        growth = per_layer[sizes[-1]] / per_layer[sizes[0]]
        print(
            f"\ncost per layer at {sizes[-1]:,} layers / at {sizes[0]:,}: {growth:.2f} "
            "(1.0 = perfectly linear)"
        )


if __name__ == "__main__":
    main()
