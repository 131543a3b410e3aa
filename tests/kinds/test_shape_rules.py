"""Shape rules, written out as arithmetic, and checked by brute force with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archcalc.kinds import REGISTRY
from archcalc.kinds.base import ShapeError, pool_out, window_out


@pytest.mark.parametrize(
    ("n", "k", "s", "pad", "expected"),
    [
        (28, 3, 1, 2, 28),  # ⌊(28 + 2 − 3)/1⌋ + 1
        (28, 2, 2, 0, 14),  # ⌊(28 − 2)/2⌋ + 1
        (29, 2, 2, 0, 14),  # ⌊(29 − 2)/2⌋ + 1 = 14: the last row is dropped
        (224, 11, 4, 4, 55),  # AlexNet conv1: ⌊(224 + 4 − 11)/4⌋ + 1
        (3, 5, 1, 0, -1),  # collapses
    ],
)
def test_window_out_table(n: int, k: int, s: int, pad: int, expected: int) -> None:
    assert window_out(n, k, s, pad) == expected


@given(n=st.integers(1, 64), k=st.integers(1, 9), s=st.integers(1, 5), pad=st.integers(0, 4))
def test_floor_rule_counts_whole_windows(n: int, k: int, s: int, pad: int) -> None:
    whole = sum(
        1 for start in range(-pad, n + pad) if start + k <= n + pad and (start + pad) % s == 0
    )
    assert max(window_out(n, k, s, 2 * pad), 0) == whole


@given(n=st.integers(1, 64), k=st.integers(1, 9), s=st.integers(1, 5), data=st.data())
def test_ceil_mode_counts_windows_as_torch(n: int, k: int, s: int, data: st.DataObject) -> None:
    pad = data.draw(st.integers(0, k // 2))
    out = pool_out(n, k, s, pad, ceil_mode=True)
    floor = pool_out(n, k, s, pad, ceil_mode=False)
    if floor < 1:
        return
    # Window i starts at −pad + i·s. Ceil mode keeps adding windows while the
    # previous one has not reached the end of the padded input, but torch drops
    # a window that would start in the right padding.
    expected = 0
    for i in range(n + 2 * pad + 1):
        starts_inside = -pad + i * s < n
        needed = i == 0 or (i - 1) * s + k < n + 2 * pad
        if not (starts_inside and needed):
            break
        expected += 1
    assert out == expected
    assert floor <= out <= floor + 1


def test_conv_same_pads_even_kernels_unevenly() -> None:
    from archcalc.kinds.conv import Conv2dArgs

    args = Conv2dArgs(
        out=1, kernel=(4, 3), stride=(1, 1), padding="same", dilation=(1, 2), groups=1, bias=True
    )
    # total = d·(k−1): 3 rows (1 before, 2 after, as torch), 4 columns (2 and 2)
    assert args.pads() == ((1, 2), (2, 2))
    effect = REGISTRY["conv2d"].apply(args, (1, 10, 11))
    assert effect.output_shape == (1, 10, 11)


def test_linear_rejects_feature_maps() -> None:
    from archcalc.kinds.linear import LinearArgs

    with pytest.raises(ShapeError, match=r"expects a flat input, but gets 4×2×2"):
        REGISTRY["linear"].apply(LinearArgs(10, True), (4, 2, 2))


@pytest.mark.parametrize(
    ("kind", "in_shape", "params", "buffers", "macs"),
    [
        ("conv2d", (3, 8, 8), 8 * 3 * 3 * 3 + 8, 0, 8 * 6 * 6 * 3 * 3 * 3),
        ("linear", (20,), 20 * 8 + 8, 0, 20 * 8),
        ("batchnorm2d", (8, 4, 4), 2 * 8, 2 * 8 + 1, 0),
        ("batchnorm1d", (8,), 2 * 8, 2 * 8 + 1, 0),
    ],
)
def test_parameter_and_cost_table(
    kind: str, in_shape: tuple[int, ...], params: int, buffers: int, macs: int
) -> None:
    from archcalc.kinds.base import ArgReader
    from archcalc.spec.tree import from_python

    args_map = {"conv2d": {"out": 8, "kernel": 3}, "linear": {"out": 8}}.get(kind, {})
    k = REGISTRY[kind]
    args = k.parse(ArgReader(kind, from_python(args_map), k.main_arg))
    effect = k.apply(args, in_shape)
    assert (effect.params, effect.buffers, effect.macs) == (params, buffers, macs)
