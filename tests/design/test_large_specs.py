"""Lint, compare and scale stay linear in the layer count (MAX_LAYERS, archcalc's limit).

The bounds are generous (a loaded CI machine); before the rules were made
linear, lint on these specs took minutes.
"""

from __future__ import annotations

import time

import pytest

import archcalc
from archcalc.design.compare import compare
from archcalc.design.lint import CHAIN_LISTED, lint
from archcalc.design.scale import MAX_SIZES, scale
from archcalc.spec.parse import MAX_LAYERS

BOUND_S = 10.0


def _flat(n: int) -> str:
    """n layers: dropout and sigmoid pairs, then batch norm (AC105 and AC107 on every pair)."""
    body = "".join("  - dropout: 0.1\n  - sigmoid\n" for _ in range(n // 2 - 1))
    return f"input: [2, 8, 8]\nlayers:\n{body}  - conv2d: {{out: 2, kernel: 3}}\n  - batchnorm2d\n"


@pytest.fixture(scope="module")
def big() -> archcalc.Analysis:
    spec = archcalc.loads(_flat(MAX_LAYERS), filename="big.yaml")
    assert len(spec.leaves()) == MAX_LAYERS
    return archcalc.analyze(spec)


def test_lint_at_the_layer_cap_is_linear(big: archcalc.Analysis) -> None:
    start = time.perf_counter()
    report = lint(big)
    elapsed = time.perf_counter() - start
    assert elapsed < BOUND_S
    codes = [f.code for f in report.findings]
    pairs = MAX_LAYERS // 2 - 1  # dropout + sigmoid, then a conv and the batch norm
    assert codes.count("AC107") == pairs  # every dropout lies before the final batch norm
    (chain,) = [f for f in report.findings if f.code == "AC105"]
    assert chain.message.startswith(f"{pairs:,} saturating activations in a row (sigmoid_1, ")
    assert f"… {pairs - 4:,} more …, sigmoid_{MAX_LAYERS - 3})" in chain.message
    assert len(chain.message) < 1000
    # Findings stay in execution order.
    rows = [r.path for r in big.rows]
    order = [rows.index(f.path) for f in report.findings[:50]]
    assert order == sorted(order)


def test_a_short_chain_names_every_layer() -> None:
    n = CHAIN_LISTED
    spec = archcalc.loads(f"input: [4]\nlayers: [{', '.join(['tanh'] * n)}]\n")
    (f,) = lint(archcalc.analyze(spec)).findings
    assert ", ".join(f"tanh_{i}" for i in range(n)) in f.message


def test_compare_and_scale_at_the_layer_cap(big: archcalc.Analysis) -> None:
    spec = archcalc.loads(_flat(MAX_LAYERS), filename="big.yaml")
    start = time.perf_counter()
    result = compare([("big.yaml", spec), ("big.yaml", spec)])
    series = scale([("big.yaml", spec)], [8, 16]).series[0]
    assert time.perf_counter() - start < 4 * BOUND_S
    assert result.designs[0].figures is not None
    assert [p.figures is not None for p in series.points] == [True, True]


def test_deep_nesting_sums_each_level_once() -> None:
    n = MAX_LAYERS - 1
    inner = f"{{repeat: {{times: {n}, layers: [relu]}}}}"
    for _ in range(40):  # paths stay under the 512-character cap
        inner = f"{{repeat: {{times: 1, layers: [{inner}]}}}}"
    spec = archcalc.loads(f"input: [3, 8, 8]\nlayers:\n  - {inner}\n")
    start = time.perf_counter()
    a = archcalc.analyze(spec)
    lint(a)
    assert time.perf_counter() - start < BOUND_S
    assert a.tree[0].activation_bytes == n * 3 * 8 * 8 * 4


@pytest.mark.parametrize("times", [2, 4, 10])
def test_a_repeat_up_to_the_cap_counts_each_copy_once(times: int) -> None:
    def repeat(n: int) -> str:
        body = ", ".join(["relu"] * n)
        return f"input: [1, 8, 8]\nlayers: [{{repeat: {{times: {times}, layers: [{body}]}}}}]\n"

    assert len(archcalc.loads(repeat(MAX_LAYERS // times)).leaves()) == MAX_LAYERS
    with pytest.raises(archcalc.ArchcalcError, match=f"more than {MAX_LAYERS:,} layers"):
        archcalc.loads(repeat(MAX_LAYERS // times + 1))


def test_scale_refuses_more_sizes_than_columns() -> None:
    spec = archcalc.loads("input: [1, 8, 8]\nlayers: [relu]\n")
    with pytest.raises(archcalc.ArchcalcError, match=rf"at most {MAX_SIZES} different sizes, "):
        scale([("s", spec)], range(1, MAX_SIZES + 2))
    assert len(scale([("s", spec)], range(1, MAX_SIZES + 1)).sizes) == MAX_SIZES
