"""How analysis time grows with layer count (it must be linear), and the 10,000-layer case.

Generates specs of N layers (3×3 convolutions and ReLUs on an 8×32×32 input),
then times `loads` (YAML → validated spec) and `analyze` separately, best of 3.

    python benchmarks/analysis_scaling.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import archcalc


def spec_text(layers: int) -> str:
    body = ["input: [8, 32, 32]", "layers:"]
    for i in range(layers):
        body.append("  - conv2d: {out: 8, kernel: 3, padding: 1}" if i % 2 == 0 else "  - relu")
    return "\n".join(body) + "\n"


def best(fn, repeat: int = 3) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    print(
        f"| {'layers':>7} | {'load (YAML)':>11} | {'analyze':>9} | {'total':>8} | "
        f"{'µs / layer':>10} |"
    )
    print(f"|{'-' * 8}:|{'-' * 12}:|{'-' * 10}:|{'-' * 9}:|{'-' * 11}:|")
    per_layer = {}
    for n in (1_000, 2_000, 5_000, 10_000, 20_000):
        text = spec_text(n)
        t_load, spec = best(lambda text=text: archcalc.loads(text))
        t_analyze, analysis = best(lambda spec=spec: archcalc.analyze(spec))  # type: ignore[arg-type]
        assert len(analysis.rows) == n  # type: ignore[attr-defined]
        total = t_load + t_analyze
        per_layer[n] = total / n * 1e6
        print(
            f"| {n:>7,} | {t_load:>9.3f} s | {t_analyze:>7.3f} s | {total:>6.3f} s | "
            f"{per_layer[n]:>10.1f} |"
        )
    growth = per_layer[20_000] / per_layer[1_000]
    print(
        f"\ncost per layer at 20,000 layers (the cap) / at 1,000 layers: {growth:.2f} "
        "(1.0 = perfectly linear)"
    )


if __name__ == "__main__":
    main()
