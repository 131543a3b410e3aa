"""The meta shortcuts give what the op's own meta kernel gives, or step aside.

Each case runs an aten op on meta tensors twice, through its shortcut and
through torch's kernel: the results must agree in shape, strides, dtype and
(for an in-place op) identity; a case the shortcut does not take must be
answered ``NotImplemented``, never with a different tensor.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, flop_registry

from archcalc.bridge.summarize import summarize
from archcalc.bridge.summarize.ops import op_info
from archcalc.bridge.summarize.shortcuts import shortcut
from archcalc.errors import ArchcalcError

aten = torch.ops.aten


def meta(*shape: int, dtype: torch.dtype = torch.float32, last: bool = False) -> torch.Tensor:
    t = torch.empty(shape, dtype=dtype, device="meta")
    return t.to(memory_format=torch.channels_last) if last else t


def layout(value: Any) -> Any:
    """Shape, strides and dtype; a size-1 axis's stride is left out.

    No shape, view or kernel choice reads it (torch's own ``empty_like`` and
    its Python meta kernels set it differently for the same input).
    """
    if isinstance(value, torch.Tensor):
        sizes, steps = value.shape, value.stride()
        strides = tuple(s if n != 1 else None for n, s in zip(sizes, steps, strict=True))
        return (tuple(value.shape), strides, value.dtype)
    return tuple(layout(v) for v in value)


def check(func: Any, *args: Any, taken: bool | None = True, **kwargs: Any) -> None:
    """The shortcut's answer against the kernel's; ``taken`` None: either answer is fine."""
    fast = shortcut(func)
    assert fast is not None
    got = fast(args, kwargs)
    if got is NotImplemented:
        assert taken is not True, f"{func} steps aside on {layout(args[0])}"
        return
    assert taken is not False
    want = func(*args, **kwargs)
    assert layout(got) == layout(want)
    if func._schema.is_mutable:
        assert got is args[0]


SHAPES = [
    ((2, 8, 5, 7), (2, 8, 5, 7)),
    ((2, 8, 5, 7), (1, 8, 1, 1)),
    ((1, 8, 1, 1), (2, 8, 5, 7)),
    ((2, 8, 5, 7), (7,)),
    ((2, 8, 5, 7), ()),
    ((3, 1), (1, 4)),
    ((1, 49, 96), (49, 1)),
    ((4, 1, 6), (4, 5, 1)),
]


@pytest.mark.parametrize(("a", "b"), SHAPES)
@pytest.mark.parametrize("op", [aten.add.Tensor, aten.mul.Tensor, aten.sub.Tensor, aten.div.Tensor])
def test_binary_ops_match_the_kernel_on_contiguous_inputs(op: Any, a: Any, b: Any) -> None:
    check(op, meta(*a), meta(*b))


@pytest.mark.parametrize("last", [False, True])
@pytest.mark.parametrize(
    "op",
    [
        aten.relu.default,
        aten.hardswish.default,
        aten.hardsigmoid.default,
        aten.gelu.default,
        aten.sigmoid.default,
        aten.silu.default,
        aten.tanh.default,
    ],
)
def test_unary_ops_keep_the_layout(op: Any, last: bool) -> None:
    check(op, meta(2, 8, 5, 7, last=last))


def test_permuted_and_expanded_inputs_go_to_the_kernel_or_agree() -> None:
    x = meta(2, 8, 5, 7)
    for y in (x.permute(0, 2, 3, 1), x[:, :, :, :3], meta(8, 1).expand(8, 5)):
        check(aten.relu.default, y, taken=None)
        check(aten.add.Tensor, y, y, taken=None)
    check(aten.add.Tensor, x.to(memory_format=torch.channels_last), meta(1, 8, 1, 1), taken=None)


def test_scalars_and_keywords() -> None:
    check(aten.add.Tensor, meta(2, 3), meta(2, 3), alpha=2)
    check(aten.mul.Scalar, meta(2, 3), 0.5)
    check(aten.hardtanh.default, meta(2, 3), 0.0, 6.0)
    check(aten.gelu.default, meta(2, 3), approximate="tanh")
    check(aten.pow.Tensor_Scalar, meta(2, 3), 2)
    check(aten.add.Tensor, meta(2, 3, dtype=torch.float16), meta(2, 3, dtype=torch.float16))


def test_mixed_dtypes_integers_and_bad_shapes_go_to_the_kernel() -> None:
    check(aten.add.Tensor, meta(2, 3), meta(2, 3, dtype=torch.float16), taken=False)
    check(
        aten.add.Tensor, meta(2, 3, dtype=torch.int64), meta(2, 3, dtype=torch.int64), taken=False
    )
    check(
        aten.div.Tensor, meta(2, 3, dtype=torch.int64), meta(2, 3, dtype=torch.int64), taken=False
    )
    fast = shortcut(aten.add.Tensor)
    assert fast is not None
    assert fast((meta(2, 3), meta(2, 4)), {}) is NotImplemented  # the kernel says why


def test_in_place_ops_return_their_input() -> None:
    x = meta(2, 8, 5, 7)
    check(aten.relu_.default, x)
    check(aten.add_.Tensor, x, meta(1, 8, 1, 1))
    check(aten.hardswish_.default, x.to(memory_format=torch.channels_last))
    fast = shortcut(aten.add_.Tensor)
    assert fast is not None
    assert fast((meta(1, 8, 1, 1), x), {}) is NotImplemented  # would broadcast self
    assert shortcut(aten.add.out) is None


@pytest.mark.parametrize("last", [False, True])
@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_in_eval(last: bool, affine: bool) -> None:
    x = meta(2, 8, 5, 7, last=last)
    w = meta(8) if affine else None
    stats = (meta(8), meta(8))
    check(aten.native_batch_norm.default, x, w, w, *stats, False, 0.1, 1e-5)
    check(aten._native_batch_norm_legit_no_training.default, x, w, w, *stats, 0.1, 1e-5)
    check(aten.native_batch_norm.default, meta(2, 8, 5), w, w, *stats, False, 0.1, 1e-5)


def test_batch_norm_in_training_or_mismatched_goes_to_the_kernel() -> None:
    x = meta(2, 8, 5, 7)
    check(aten.native_batch_norm.default, x, None, None, None, None, True, 0.1, 1e-5, taken=False)
    fast = shortcut(aten.native_batch_norm.default)
    assert fast is not None
    assert fast((x, meta(4), None, meta(8), meta(8), False, 0.1, 1e-5), {}) is NotImplemented


@pytest.mark.parametrize("normalized", [[96], [49, 96]])
def test_layer_norm(normalized: list[int]) -> None:
    x = meta(2, 49, 96)
    w = meta(*normalized)
    check(aten.native_layer_norm.default, x, normalized, w, w, 1e-5)
    check(aten.native_layer_norm.default, x, normalized, None, None, 1e-5)
    # a permuted input (ConvNeXt's channels-last block): the kernel's outputs are contiguous
    check(aten.native_layer_norm.default, x.permute(0, 2, 1), [49], None, None, 1e-5)
    y = meta(2, 8, 5, 7).permute(0, 2, 3, 1)
    check(aten.native_layer_norm.default, y, [8], meta(8), meta(8), 1e-6)
    check(aten.native_layer_norm.default, y[:, 1:], [8], None, None, 1e-6)


@pytest.mark.parametrize(
    ("dims", "keep"), [([2, 3], True), ([-1, -2], False), ([1], False), ([0, 3], True)]
)
def test_mean(dims: list[int], keep: bool) -> None:
    check(aten.mean.dim, meta(2, 8, 5, 7), dims, keep)


def test_cat_and_matrix_products() -> None:
    for dim in (0, 1, -1):
        shapes = [[2, 8, 5, 7], [2, 8, 5, 7]]
        shapes[1][dim] = 3
        check(aten.cat.default, [meta(*shapes[0]), meta(*shapes[1])], dim)
    check(aten.cat.default, [meta(2, 3), meta(2, 4)], 0, taken=False)
    check(aten.mm.default, meta(5, 7), meta(7, 3))
    check(aten.mm.default, meta(5, 7), meta(3, 7).t())
    check(aten.bmm.default, meta(2, 5, 7), meta(2, 7, 3))
    check(aten.addmm.default, meta(3), meta(5, 7), meta(3, 7).t())
    check(aten.addmm.default, meta(5, 3), meta(5, 7), meta(7, 3), beta=0.5)
    check(aten.mm.default, meta(5, 7), meta(6, 3), taken=False)


def test_random_broadcasts_agree_with_the_kernel() -> None:
    sizes = [1, 3]
    for rank_a, rank_b in itertools.product(range(1, 4), repeat=2):
        for a in itertools.product(sizes, repeat=rank_a):
            for b in itertools.product(sizes, repeat=rank_b):
                check(aten.mul.Tensor, meta(*a), meta(*b))


@pytest.mark.parametrize("groups", [1, 2, 8])
@pytest.mark.parametrize("last", [False, True])
def test_convolution(groups: int, last: bool) -> None:
    conv = aten.convolution.default
    for size, k, stride, pad, dil in [
        (9, 3, 1, 1, 1),
        (9, 3, 2, 0, 2),
        (1, 1, 1, 0, 1),
        (5, 5, 3, 2, 1),
    ]:
        x = meta(2, 8, size, size + 1, last=last)
        w = meta(16, 8 // groups, k, k, last=last)
        for bias in (None, meta(16)):
            s, p, d = [stride] * 2, [pad] * 2, [dil] * 2
            check(conv, x, w, bias, s, p, d, False, [0, 0], groups)
    check(conv, meta(2, 8, 7), meta(4, 8, 3), None, [1], [0], [1], False, [0], 1)
    check(
        conv,
        meta(1, 8, 4, 5, 6),
        meta(4, 8, 3, 3, 3),
        None,
        [1] * 3,
        [1] * 3,
        [1] * 3,
        False,
        [0] * 3,
        1,
    )


def test_convolution_that_does_not_fit_goes_to_the_kernel() -> None:
    conv = aten.convolution.default
    x = meta(2, 8, 5, 5)
    check(conv, x, meta(4, 4, 3, 3), None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1, taken=False)
    check(conv, x, meta(4, 8, 7, 7), None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1, taken=False)
    check(conv, x, meta(8, 4, 3, 3), None, [1, 1], [0, 0], [1, 1], True, [0, 0], 1, taken=False)


# -- layers answered from their kind's rule on meta ------------------------------

RULED: list[tuple[nn.Module, tuple[int, ...]]] = [
    (nn.Conv2d(8, 16, 3), (8, 9, 11)),
    (nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False), (8, 9, 11)),
    (
        nn.Conv2d(8, 16, (3, 5), stride=(2, 1), padding=(0, 2), dilation=(2, 1), groups=4),
        (8, 13, 9),
    ),
    (nn.Conv2d(8, 8, 4, padding="same"), (8, 9, 10)),
    (nn.Conv2d(8, 16, 1), (8, 1, 1)),
    (nn.Conv1d(4, 6, 5, stride=3), (4, 20)),
    (nn.Conv3d(4, 6, 3, padding=1), (4, 5, 6, 7)),
    (nn.Linear(12, 5), (12,)),
    (nn.Linear(12, 5, bias=False), (12,)),
    (nn.Linear(12, 5), (7, 12)),
    (nn.Linear(12, 5, bias=False), (7, 12)),
    (nn.Linear(12, 5), (3, 4, 12)),
    (nn.BatchNorm2d(8), (8, 5, 5)),
    (nn.BatchNorm1d(8), (8,)),
    (nn.BatchNorm1d(8, affine=False), (8, 7)),
    (nn.BatchNorm3d(4), (4, 3, 3, 3)),
    (nn.ReLU(), (8, 5, 5)),
    (nn.ReLU(inplace=True), (8, 5, 5)),
    (nn.ReLU6(inplace=True), (8, 5)),
    (nn.Hardswish(), (8, 5, 5)),
    (nn.Hardsigmoid(inplace=True), (8, 5, 5)),
    (nn.SiLU(inplace=True), (8,)),
    (nn.GELU(approximate="tanh"), (8, 5, 5)),
    (nn.LeakyReLU(0.2, inplace=True), (8, 5, 5)),
    (nn.Sigmoid(), (8, 5, 5)),
    (nn.Tanh(), (8, 5, 5)),
    (nn.MaxPool2d(3, 2, 1), (8, 11, 11)),
    (nn.MaxPool2d(3, 2, ceil_mode=True), (8, 10, 10)),
    (nn.MaxPool2d(2, dilation=2), (8, 9, 9)),
    (nn.AvgPool2d(3, 2, 1, count_include_pad=False), (8, 11, 11)),
    (nn.AvgPool2d(2, ceil_mode=True), (8, 7, 7)),
    (nn.MaxPool1d(3), (8, 10)),
    (nn.AvgPool3d(2), (4, 4, 4, 4)),
    (nn.AdaptiveAvgPool2d(1), (8, 5, 7)),
    (nn.AdaptiveAvgPool2d((3, 2)), (8, 7, 7)),
    (nn.AdaptiveAvgPool1d(4), (8, 9)),
    (nn.AdaptiveAvgPool3d(2), (4, 4, 5, 6)),
    (nn.Dropout(0.3), (8, 5, 5)),
    (nn.Identity(), (8, 5, 5)),
]


@pytest.mark.parametrize(
    ("layer", "shape"), RULED, ids=[f"{type(m).__name__}-{s}" for m, s in RULED]
)
def test_a_ruled_layer_gives_what_torch_gives(layer: nn.Module, shape: tuple[int, ...]) -> None:
    """Shape and MACs as a real forward and torch's own FLOP counter give them."""
    model = nn.Sequential(nn.Identity(), layer).eval()
    x = torch.randn(1, *shape)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(x)
    a = summarize(model, shape)
    row = a.rows[1]
    assert row.output_shape == tuple(y.shape[1:])
    assert row.macs == counter.get_total_flops() // 2
    assert row.params == sum(p.numel() for p in layer.parameters())


def test_a_ruled_layer_that_does_not_fit_fails_in_torchs_words() -> None:
    with pytest.raises(ArchcalcError, match=r"expected input.* to have 8 channels"):
        summarize(nn.Sequential(nn.Conv2d(8, 4, 3)), (5, 9, 9))
    with pytest.raises(ArchcalcError, match="mat1 and mat2 shapes cannot be multiplied"):
        summarize(nn.Sequential(nn.Linear(8, 4)), (5,))


# -- watching from the forward: what hooks saw, and nothing left behind ----------


class _Direct(nn.Module):
    """Calls its child's forward itself: torch runs no hooks for that call."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv.forward(x)


def test_a_forward_called_directly_is_the_callers_work() -> None:
    a = summarize(_Direct(), (3, 9, 9))
    conv = next(r for r in a.rows if r.path == "conv")
    assert conv.note is not None and "not called by forward" in conv.note
    assert a.totals.macs == 8 * 3 * 9 * 7 * 7
    assert a.output_shape == (8, 7, 7)


def test_a_users_hooks_run_as_before_and_the_module_is_left_as_it_was() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 1)).train()
    model[0].register_forward_hook(lambda m, args, out: out[:, :6])  # the next layer sees 6
    model[2] = nn.Conv2d(6, 4, 1)
    a = summarize(model, (3, 9, 9))
    assert [r.output_shape for r in a.rows] == [(6, 7, 7), (6, 7, 7), (4, 7, 7)]
    assert all(m.training for m in model.modules())
    assert all("forward" not in m.__dict__ for m in model.modules())
    assert len(model[0]._forward_hooks) == 1
    assert not any(m._forward_pre_hooks or m._forward_hooks for m in list(model)[1:])


@pytest.mark.parametrize(
    ("op", "args"),
    [
        (aten.addmm.default, (meta(3), meta(5, 7), meta(7, 3))),
        (aten.baddbmm.default, (meta(2, 5, 3), meta(2, 5, 7), meta(2, 7, 3))),
        (aten.mm.default, (meta(5, 7), meta(7, 3))),
        (aten.bmm.default, (meta(2, 5, 7), meta(2, 7, 3))),
        (
            aten.convolution.default,
            (meta(1, 4, 9, 9), meta(8, 2, 3, 3), None, [2, 2], [1, 1], [1, 1], False, [0, 0], 2),
        ),
    ],
)
def test_costs_on_shapes_are_torchs_formulas(op: Any, args: tuple[Any, ...]) -> None:
    out = op(*args)
    want = flop_registry[op._overloadpacket](*args, out_val=out)
    assert op_info(op).cost(args, {}, out) == want > 0


def _strided(rng: random.Random) -> torch.Tensor:
    """A meta tensor of random rank, sizes, axis order and step: dense or not."""
    rank = rng.randint(1, 4)
    shape = [rng.choice([1, 2, 3, 5]) for _ in range(rank)]
    base = meta(*(s * rng.choice([1, 2]) for s in shape))
    order = list(range(rank))
    rng.shuffle(order)
    return base.permute(order)[tuple(slice(0, None, rng.choice([1, 2])) for _ in range(rank))]


def test_one_tensor_ops_on_any_layout_agree_with_the_kernel() -> None:
    rng = random.Random(0)
    for _ in range(300):
        x = _strided(rng)
        check(aten.mul.Tensor, x, 0.5)
        check(aten.relu.default, x)
        check(aten.hardswish.default, x)
        check(aten.ne.Scalar, x, 0)
        check(aten.clone.default, x)
        check(aten.clone.default, x, memory_format=torch.contiguous_format)
        check(aten.roll.default, x, [1], [0])
        check(aten.roll.default, x, [2])


def test_comparisons_give_bools() -> None:
    check(aten.eq.Scalar, meta(2, 3), 0.0)
    check(aten.ne.Scalar, meta(2, 3, dtype=torch.int64), 0)
    check(aten.lt.Tensor, meta(2, 3), meta(1, 3))
    check(aten.ge.Tensor, meta(2, 3), meta(2, 3, dtype=torch.float16), taken=False)


def test_roll_softmax_and_masked_fill() -> None:
    x = meta(4, 7, 7, 8)
    check(aten.roll.default, x, [-3, -3], [1, 2])
    check(aten.roll.default, x.to(memory_format=torch.channels_last), [3], [2])
    check(aten.roll.default, x, [1, 2], [1], taken=False)
    check(aten._softmax.default, meta(4, 3, 49, 49), -1, False)
    check(aten._log_softmax.default, meta(4, 10), 1, False)
    check(aten._softmax.default, x.permute(0, 3, 1, 2), 1, False, taken=False)
    mask = meta(4, 49, 49, dtype=torch.bool)
    check(aten.masked_fill.Scalar, meta(4, 49, 49), mask, -100.0)
    check(aten.masked_fill.Scalar, meta(4, 49, 49), meta(49, 49, dtype=torch.bool), 0.0, taken=None)
