"""The analysis keeps every number bounded, however the spec is written.

Receptive-field numbers stop at 2^53 and tensors at 2^63 − 1 elements, each
refusal one located ArchcalcError naming the layer; below the limits the
numbers are exact.
"""

from __future__ import annotations

import pytest

import archcalc
from archcalc.analysis.receptive import RF_LIMIT
from archcalc.analysis.result import Row


def _strided(times: int, layer: str, input_: str = "[1, 1, 1]") -> str:
    return f"input: {input_}\nlayers:\n  - repeat: {{times: {times}, layers: [{layer}]}}\n"


POOL = "{maxpool2d: {kernel: 1, stride: 2}}"


def test_jump_up_to_the_limit_is_exact() -> None:
    a = archcalc.analyze(archcalc.loads(_strided(53, POOL)))
    rf = a.rows[-1].receptive_field
    assert rf is not None and rf.jump == (RF_LIMIT, RF_LIMIT) == (2**53, 2**53)
    assert a.rows[-1].output_shape == (1, 1, 1)


def test_jump_past_the_limit_is_a_located_error_naming_the_layer() -> None:
    with pytest.raises(
        archcalc.ArchcalcError,
        match=r"effective stride on H .* past archcalc's "
        r"limit of 2\^53",
    ) as err:
        archcalc.analyze(archcalc.loads(_strided(5000, POOL), filename="deep.yaml"))
    text = str(err.value)
    assert text.startswith("deep.yaml:3:")
    assert "(maxpool2d repeat_0.53.maxpool2d_0)" in text  # the 54th layer: jump 2^54
    assert "18,014,398,509,481,984" in text and len(text) < 400


def test_field_size_past_the_limit_is_refused() -> None:
    # A window as wide as torch allows (padding half the kernel keeps a 1×1 map 1×1)
    # grows the field by 2^31 · jump per layer while jump stays under the limit.
    layer = "{maxpool2d: {kernel: 2147483647, padding: 1073741823, stride: 2048}}"
    with pytest.raises(
        archcalc.ArchcalcError,
        match=r"field's size on H reaches [\d,]+ input "
        r"pixels, past archcalc's limit of 2\^53",
    ):
        archcalc.analyze(archcalc.loads(_strided(10, layer)))


def test_field_start_past_the_limit_is_refused() -> None:
    layer = "{conv2d: {out: 1, kernel: 1, padding: 2147483647, stride: 1024}}"
    with pytest.raises(archcalc.ArchcalcError, match=r"field's start on H lies [\d,]+ pixels"):
        archcalc.analyze(archcalc.loads(_strided(10, layer)))


def test_concat_doubling_channels_stops_at_torch_element_limit() -> None:
    text = _strided(200, "{concat: [[identity], [identity]]}")
    with pytest.raises(
        archcalc.ArchcalcError,
        match=r"concat repeat_0\.62\.concat_0\): the "
        r"joined output 9223372036854775808×1×1 holds 9,223,372,036,854,775,808 "
        r"elements, more than a torch tensor can count \(2\^63 − 1\)",
    ):
        archcalc.analyze(archcalc.loads(text, filename="c.yaml"))
    ok = archcalc.analyze(archcalc.loads(_strided(62, "{concat: [[identity], [identity]]}")))
    assert ok.output_shape == (2**62, 1, 1)


def test_an_input_beyond_the_element_limit_is_refused_at_the_input() -> None:
    text = "input: [2147483647, 2147483647, 2147483647]\nlayers: [relu]\n"
    with pytest.raises(archcalc.ArchcalcError, match=r"^s\.yaml:1:8: input: 2147483647×") as err:
        archcalc.analyze(archcalc.loads(text, filename="s.yaml"))
    assert "more than a torch tensor can count" in str(err.value)
    spec = archcalc.loads("input: [3, 8, 8]\nlayers: [relu]\n", filename="s.yaml")
    with pytest.raises(archcalc.ArchcalcError, match=r"^s\.yaml: --input: 2147483647×"):
        archcalc.analyze(spec, (2147483647, 2147483647, 2147483647))


def test_a_wide_linear_stack_keeps_totals_exact_and_short() -> None:
    text = (
        "input: [2147483647]\nlayers:\n  - repeat: {times: 5000, layers: [{linear: 2147483647}]}\n"
    )
    a = archcalc.analyze(archcalc.loads(text))
    n = 2**31 - 1
    assert a.totals.params == 5000 * (n * n + n)
    assert len(str(a.totals.params)) < 30


def _nested(levels: int, times: int) -> str:
    inner = f"{{repeat: {{times: {times}, layers: [relu, {{conv2d: {{out: 2, kernel: 1}}}}]}}}}"
    for _ in range(levels):
        inner = f"{{repeat: {{times: 1, layers: [{inner}]}}}}"
    return f"input: [2, 4, 4]\nlayers:\n  - {inner}\n"


def _leaf_sum(row: Row) -> tuple[int, int, int, int]:
    leaves = list(row.leaves())
    return (
        sum(r.params for r in leaves),
        sum(r.buffers for r in leaves),
        sum(r.macs or 0 for r in leaves),
        sum(r.activation_bytes for r in leaves),
    )


def test_composite_rows_hold_their_leaves_sums_in_order() -> None:
    a = archcalc.analyze(archcalc.loads(_nested(5, 3)))
    stack = list(a.tree)
    while stack:
        row = stack.pop()
        assert (row.params, row.buffers, row.macs, row.activation_bytes) == _leaf_sum(row)
        stack.extend(row.children)
    assert [r.path for r in a.tree[0].leaves()] == [r.path for r in a.rows]
