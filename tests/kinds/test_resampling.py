"""The spatial-resampling kinds against real torch modules: conv_transpose1d/2d/3d, upsample,
pixel_shuffle / pixel_unshuffle, center_crop and pad.

Shapes, parameters and MACs come from running torch's own module (MACs from
torch.utils.flop_counter.FlopCounterMode, halved); an input torch refuses is an
ArchcalcError here. Receptive fields are checked by a coordinate probe: a 1-D
input whose values are their own positions, through a layer that copies or
interpolates them, gives at output unit j the input coordinate that unit reads,
which the field's centre start + j·jump must equal.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import archcalc
from archcalc.bridge.modules import CenterCrop
from archcalc.bridge.summarize.torch_kinds import known_kind
from archcalc.kinds import REGISTRY

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _analyze(input_shape: list[int], layer: Any) -> archcalc.Analysis:
    return archcalc.analyze(archcalc.from_dict({"input": input_shape, "layers": [layer]}))


def _torch_run(module: nn.Module, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int] | None:
    """(output shape without the batch, MACs) from torch, or None when torch refuses."""
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            y = module(torch.randn(1, *shape))
    except (RuntimeError, ValueError):
        return None
    if y.numel() == 0:  # torch's 1-D transposed convolution returns an empty output; archcalc
        return None  # refuses a size of 0 as it does for every kind
    return tuple(y.shape[1:]), counter.get_total_flops() // 2


def _ours(input_shape: tuple[int, ...], layer: Any) -> tuple[tuple[int, ...], int, int] | None:
    try:
        a = _analyze(list(input_shape), layer)
    except archcalc.ArchcalcError:
        return None
    return a.output_shape, a.totals.params, a.totals.macs


# -- conv_transpose ------------------------------------------------------------


@FAST
@given(
    rank=st.integers(1, 3),
    n=st.integers(1, 6),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    p=st.integers(0, 3),
    op=st.integers(0, 2),
    d=st.integers(1, 3),
    groups=st.sampled_from([1, 2]),
    bias=st.booleans(),
)
def test_conv_transpose_follows_torch(
    rank: int, n: int, k: int, s: int, p: int, op: int, d: int, groups: int, bias: bool
) -> None:
    shape = (2, *([n] * rank))
    args = {
        "out": 4,
        "kernel": k,
        "stride": s,
        "padding": p,
        "output_padding": op,
        "dilation": d,
        "groups": groups,
        "bias": bias,
    }
    try:
        module = getattr(nn, f"ConvTranspose{rank}d")(
            2, 4, k, stride=s, padding=p, output_padding=op, groups=groups, bias=bias, dilation=d
        )
    except ValueError:  # torch refuses some arguments at construction
        module = None
    theirs = None if module is None else _torch_run(module, shape)
    ours = _ours(shape, {f"conv_transpose{rank}d": args})
    assert (ours is None) == (theirs is None), (ours, theirs)
    if ours is None or theirs is None or module is None:
        return
    assert ours[0] == theirs[0]
    assert ours[1] == sum(t.numel() for t in module.parameters())
    assert ours[2] == theirs[1]  # C_in·Πn·(out/groups)·Πk: counted per input element


def test_conv_transpose_counts_macs_per_input_element() -> None:
    # U-Net's up-convolution: 1024 → 512 channels, 2×2 stride 2, on 28×28.
    a = _analyze([1024, 28, 28], {"conv_transpose2d": {"out": 512, "kernel": 2, "stride": 2}})
    assert a.output_shape == (512, 56, 56)
    assert a.totals.params == 1024 * 512 * 2 * 2 + 512
    assert a.totals.macs == 1024 * 28 * 28 * 512 * 2 * 2


@pytest.mark.parametrize(
    ("k", "s", "p", "d", "op"),
    [(2, 2, 0, 1, 0), (3, 2, 1, 1, 1), (4, 2, 1, 1, 0), (3, 3, 2, 2, 2), (5, 1, 2, 1, 0)],
)
def test_conv_transpose_field_is_the_average_unit_s(
    k: int, s: int, p: int, d: int, op: int
) -> None:
    """Unit j reads inputs in [(j + p − D)/s, (j + p)/s] (D = d(k−1)), centred at (j + p − D/2)/s.

    The analysed field has exactly that centre for every unit, holds every input each
    unit reads, and (dilation 1: every input in the bounds is read) its size is the
    average over s neighbouring units of what they read, max(0, (D + 1 − s)/s) + 1.
    """
    n = 9
    span = d * (k - 1)
    module = nn.ConvTranspose1d(1, 1, k, stride=s, padding=p, output_padding=op, dilation=d)
    nn.init.ones_(module.weight)
    a = _analyze(
        [1, n],
        {
            "conv_transpose1d": {
                "out": 1,
                "kernel": k,
                "stride": s,
                "padding": p,
                "output_padding": op,
                "dilation": d,
            }
        },
    )
    rf = a.rows[0].receptive_field
    assert rf is not None
    x = torch.zeros(1, 1, n, requires_grad=True)
    y = module(x)
    assert y.shape[-1] == a.output_shape[1]
    spans: list[int] = []
    for j in range(y.shape[-1]):
        (grad,) = torch.autograd.grad(y[0, 0, j], x, retain_graph=True)
        read = [i for i in range(n) if grad[0, 0, i] != 0]
        centre = Fraction(rf.start_x2[0]) / 2 + j * Fraction(rf.jump[0])
        assert centre == Fraction(2 * (j + p) - span, 2 * s)
        lo, hi = Fraction(j + p - span, s), Fraction(j + p, s)
        assert read == [i for i in range(n) if lo <= i <= hi and (j + p - i * s) % d == 0]
        if lo >= 0 and hi <= n - 1:  # a unit whose every tap lands inside the input
            spans.append(read[-1] - read[0] if read else -1)
    if d == 1 and len(spans) >= s:
        period = spans[:s]
        assert Fraction(rf.size[0]) - 1 == max(Fraction(0), Fraction(sum(period), s))


# -- upsample ------------------------------------------------------------------

_SCALES = st.one_of(st.integers(1, 4), st.sampled_from([0.5, 1.5, 2.5, 0.75, 1.1, 3.3, 1.0 / 3]))


@FAST
@given(
    rank=st.integers(1, 3),
    n=st.integers(1, 9),
    scale=_SCALES,
    mode=st.sampled_from(["nearest", "linear_mode"]),
    align=st.sampled_from([None, False, True]),
)
def test_upsample_by_scale_follows_torch(
    rank: int, n: int, scale: float, mode: str, align: bool | None
) -> None:
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[rank] if mode == "linear_mode" else mode
    shape = (2, *([n] * rank))
    layer: dict[str, Any] = {"scale": scale, "mode": mode}
    if align is not None and mode != "nearest":
        layer["align_corners"] = align
    module = nn.Upsample(scale_factor=scale, mode=mode, align_corners=layer.get("align_corners"))
    theirs = _torch_run(module, shape)
    ours = _ours(shape, {"upsample": layer})
    assert (ours is None) == (theirs is None), (ours, theirs)
    if ours is not None and theirs is not None:
        assert (ours[0], ours[1], ours[2]) == (theirs[0], 0, theirs[1])


@FAST
@given(
    sizes=st.lists(st.integers(1, 9), min_size=2, max_size=2),
    out=st.lists(st.integers(1, 12), min_size=2, max_size=2),
    align=st.booleans(),
)
def test_upsample_to_a_size_follows_torch(sizes: list[int], out: list[int], align: bool) -> None:
    module = nn.Upsample(size=tuple(out), mode="bilinear", align_corners=align)
    theirs = _torch_run(module, (3, *sizes))
    layer = {"upsample": {"size": out, "mode": "bilinear", "align_corners": align}}
    assert theirs is not None
    assert _ours((3, *sizes), layer) == (theirs[0], 0, 0)


def _probe(module: nn.Module, n: int) -> list[float]:
    """Each output unit's value on the input 0, 1, …, n − 1: the coordinate it reads."""
    with torch.no_grad():
        return module(torch.arange(n, dtype=torch.float64).view(1, 1, n))[0, 0].tolist()


def _centres(a: archcalc.Analysis, units: int) -> list[Fraction]:
    rf = a.rows[-1].receptive_field
    assert rf is not None
    start, jump = Fraction(rf.start_x2[0]) / 2, Fraction(rf.jump[0])
    return [start + j * jump for j in range(units)]


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize(
    ("n", "how"),
    [
        (5, {"scale": 2}),
        (4, {"scale": 3}),
        (6, {"scale": 1.5}),
        (6, {"size": 9}),
        (7, {"size": 3}),
        (8, {"scale": 0.5}),
        (3, {"size": 8}),
    ],
    ids=str,
)
def test_linear_upsampling_centres_are_torch_s_source_coordinates(
    n: int, how: dict[str, Any], align: bool
) -> None:
    """Wherever torch interpolates inside the input (no clamping), unit j's value on the
    coordinate probe is its source coordinate, which is the field's centre start + j·jump."""
    a = _analyze([1, n], {"upsample": {**how, "mode": "linear", "align_corners": align}})
    module = nn.Upsample(
        size=how.get("size"), scale_factor=how.get("scale"), mode="linear", align_corners=align
    )
    got = _probe(module, n)
    assert len(got) == a.output_shape[1]
    checked = 0
    for value, centre in zip(got, _centres(a, len(got)), strict=True):
        if 0 <= centre <= n - 1:
            assert value == pytest.approx(float(centre), abs=1e-9)
            checked += 1
        else:  # torch clamps a source outside the input to its edge
            assert value == (0 if centre < 0 else n - 1)
    assert checked >= len(got) // 2


@pytest.mark.parametrize(
    ("n", "how"),
    [
        (5, {"scale": 2}),
        (4, {"scale": 3}),
        (6, {"size": 12}),
        (8, {"scale": 0.5}),
        (9, {"size": 3}),
    ],
    ids=str,
)
def test_nearest_upsampling_reads_the_unit_its_centre_falls_in(n: int, how: dict[str, Any]) -> None:
    a = _analyze([1, n], {"upsample": how})
    module = nn.Upsample(size=how.get("size"), scale_factor=how.get("scale"))
    got = _probe(module, n)
    centres = _centres(a, len(got))
    assert centres[0] == 0 == got[0]  # unit 0: exact
    assert got == [math.floor(c) for c in centres]
    rf = a.rows[0].receptive_field
    assert rf is not None and rf.size == (1,)
    assert rf.exact == (len(got) <= n)  # a fractional jump once units outnumber inputs


def test_upsampled_fields_are_exact_fractions_that_later_layers_carry() -> None:
    a = archcalc.analyze(
        archcalc.from_dict(
            {
                "input": [1, 16, 16],
                "layers": [
                    {"upsample": {"scale": 2, "mode": "bilinear"}},
                    {"conv2d": {"out": 1, "kernel": 3, "padding": 1}},
                    {"maxpool2d": 2},
                ],
            }
        )
    )
    up, conv, pool = (r.receptive_field for r in a.rows)
    assert up is not None and conv is not None and pool is not None
    assert up.jump == (Fraction(1, 2),) * 2 and up.size == (2, 2)
    assert up.start == (-0.25, -0.25)  # torch's source coordinate of unit 0: (0 + ½)/2 − ½
    assert conv.size == (3, 3) and conv.jump == up.jump and not conv.exact
    assert pool.jump == (1, 1) and pool.size == (Fraction(7, 2),) * 2


# -- pixel_shuffle / pixel_unshuffle -------------------------------------------


@FAST
@given(c=st.integers(1, 12), h=st.integers(1, 7), w=st.integers(1, 7), r=st.integers(1, 3))
def test_pixel_shuffle_and_unshuffle_follow_torch(c: int, h: int, w: int, r: int) -> None:
    for kind, module in (
        ("pixel_shuffle", nn.PixelShuffle(r)),
        ("pixel_unshuffle", nn.PixelUnshuffle(r)),
    ):
        theirs = _torch_run(module, (c, h, w))
        ours = _ours((c, h, w), {kind: r})
        assert (ours is None) == (theirs is None), (kind, ours, theirs)
        if ours is not None and theirs is not None:
            assert ours == (theirs[0], 0, 0)


def test_pixel_shuffle_unit_reads_the_input_position_its_centre_falls_in() -> None:
    a = _analyze([4, 3, 5], {"pixel_shuffle": 2})
    rf = a.rows[0].receptive_field
    assert rf is not None and rf.jump == (Fraction(1, 2),) * 2 and rf.size == (1, 1)
    x = torch.zeros(1, 4, 3, 5, requires_grad=True)
    y = nn.PixelShuffle(2)(x)
    for i, j in [(0, 0), (3, 7), (5, 9)]:
        (grad,) = torch.autograd.grad(y[0, 0, i, j], x)
        ((_, _, hi, wj),) = grad.nonzero().tolist()
        centre = [
            Fraction(s) / 2 + u * Fraction(jump)
            for s, u, jump in zip(rf.start_x2, (i, j), rf.jump, strict=True)
        ]
        assert [hi, wj] == [math.floor(c) for c in centre]


def test_pixel_unshuffle_gathers_one_block_per_position() -> None:
    a = _analyze([1, 6, 4], {"pixel_unshuffle": 2})
    rf = a.rows[0].receptive_field
    assert rf is not None and (rf.size, rf.jump, rf.start) == ((2, 2), (2, 2), (0.5, 0.5))
    x = torch.zeros(1, 1, 6, 4, requires_grad=True)
    (grad,) = torch.autograd.grad(nn.PixelUnshuffle(2)(x)[0, :, 1, 1].sum(), x)
    assert sorted(map(tuple, grad[0, 0].nonzero().tolist())) == [(2, 2), (2, 3), (3, 2), (3, 3)]


# -- center_crop -----------------------------------------------------------------


@FAST
@given(n=st.integers(1, 12), data=st.data())
def test_center_crop_is_torchvision_s(n: int, data: st.DataObject) -> None:
    import torchvision.transforms.functional as tvf

    h, w = data.draw(st.integers(1, n)), data.draw(st.integers(1, n + 3))
    x = torch.arange(n * (n + 3), dtype=torch.float32).view(1, 1, n, n + 3)
    a = _analyze([1, n, n + 3], {"center_crop": [h, w]})
    expected = tvf.center_crop(x, [h, w])
    assert a.output_shape == tuple(expected.shape[1:])
    assert torch.equal(CenterCrop((h, w))(x), expected)
    # The field's start is the first kept unit: the crop's offset on each axis.
    rf = a.rows[0].receptive_field
    assert rf is not None
    top, left = divmod(int(expected[0, 0, 0, 0]), n + 3)
    assert rf.start == (top, left) and rf.size == (1, 1)


def test_center_crop_takes_any_rank_and_one_size_for_every_axis() -> None:
    assert _analyze([2, 9], {"center_crop": 4}).output_shape == (2, 4)
    a = _analyze([2, 5, 9, 9], {"center_crop": 3})
    assert a.output_shape == (2, 3, 3, 3)
    y = CenterCrop(3)(torch.arange(5.0).view(1, 1, 5, 1, 1).expand(1, 2, 5, 9, 9))
    assert y[0, 0, :, 0, 0].tolist() == [1.0, 2.0, 3.0]  # round(2/2) = 1 cut before


# -- pad -----------------------------------------------------------------------


_TORCH_PADS = {
    "constant": "ConstantPad",
    "reflect": "ReflectionPad",
    "replicate": "ReplicationPad",
    "circular": "CircularPad",
}


@FAST
@given(
    rank=st.integers(1, 3),
    n=st.integers(1, 5),
    mode=st.sampled_from(list(_TORCH_PADS)),
    data=st.data(),
)
def test_pad_follows_torch(rank: int, n: int, mode: str, data: st.DataObject) -> None:
    pairs = [(data.draw(st.integers(0, 6)), data.draw(st.integers(0, 6))) for _ in range(rank)]
    torch_order = tuple(p for pair in reversed(pairs) for p in pair)
    cls = getattr(nn, f"{_TORCH_PADS[mode]}{rank}d")
    module = cls(torch_order, 0.5) if mode == "constant" else cls(torch_order)
    shape = (2, *([n] * rank))
    theirs = _torch_run(module, shape)
    ours = _ours(shape, {"pad": {"padding": [list(p) for p in pairs], "mode": mode}})
    assert (ours is None) == (theirs is None), (pairs, ours, theirs)
    if ours is not None and theirs is not None:
        assert ours == (theirs[0], 0, 0)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_builds_the_module_of_its_mode_and_rank_and_reads_it_back(mode: str) -> None:
    for rank, shape in ((1, [2, 6]), (2, [2, 6, 6]), (3, [2, 6, 6, 6])):
        spec = archcalc.from_dict(
            {"input": shape, "layers": [{"pad": {"padding": [[1, 2]] * rank, "mode": mode}}]}
        )
        module = archcalc.build(spec).get_submodule("pad_0")
        assert type(module).__name__ == f"{_TORCH_PADS[mode]}{rank}d"
        assert module.padding == (1, 2) * rank
        known = known_kind(module, tuple(shape))
        assert known is not None and known.kind == "pad"
        assert known.effect(tuple(shape)) == REGISTRY["pad"].apply(
            spec.layers[0].args,
            tuple(shape),  # type: ignore[union-attr]
        )
        assert known.operation() == archcalc.analyze(spec).rows[0].operation


def test_pad_moves_the_field_start_by_the_padding_before() -> None:
    a = _analyze([1, 8, 8], {"pad": {"padding": [[2, 0], [1, 3]], "mode": "replicate"}})
    rf = a.rows[0].receptive_field
    assert a.output_shape == (1, 10, 12)
    assert rf is not None and (rf.size, rf.jump, rf.start) == ((1, 1), (1, 1), (-2, -1))
    assert a.rows[0].operation == "ReplicationPad2d((1, 3, 2, 0))"  # torch's order: W first


@pytest.mark.parametrize(
    ("module", "kind", "operation"),
    [
        (nn.ZeroPad2d((1, 2, 3, 4)), "pad", "ConstantPad2d(padding=(1, 2, 3, 4), value=0.0)"),
        (nn.ConstantPad1d(2, -1.5), "pad", "ConstantPad1d(padding=(2, 2), value=-1.5)"),
        (nn.ReflectionPad3d(1), "pad", "ReflectionPad3d((1, 1, 1, 1, 1, 1))"),
        (nn.CircularPad2d((0, 1, 0, 1)), "pad", "CircularPad2d((0, 1, 0, 1))"),
        (
            nn.ConvTranspose2d(8, 4, 2, stride=2),
            "conv_transpose2d",
            "ConvTranspose2d(8, 4, 2, stride=2)",
        ),
        (
            nn.ConvTranspose3d(8, 4, (1, 3, 3), padding=(0, 1, 1), bias=False),
            "conv_transpose3d",
            "ConvTranspose3d(8, 4, (1, 3, 3), pad=(0, 1, 1), bias=False)",
        ),
        (nn.Upsample(scale_factor=2), "upsample", "Upsample(scale_factor=2.0, mode='nearest')"),
        (
            nn.Upsample(size=(4, 5), mode="bilinear", align_corners=True),
            "upsample",
            "Upsample(size=(4, 5), mode='bilinear', align_corners=True)",
        ),
        (nn.PixelShuffle(3), "pixel_shuffle", "PixelShuffle(upscale_factor=3)"),
        (nn.PixelUnshuffle(2), "pixel_unshuffle", "PixelUnshuffle(downscale_factor=2)"),
        (CenterCrop((3, 4)), "center_crop", "CenterCrop(size=(3, 4))"),
    ],
    ids=repr,
)
def test_torch_modules_read_as_their_kind(module: nn.Module, kind: str, operation: str) -> None:
    known = known_kind(module, ())
    assert known is not None
    assert (known.kind, known.operation()) == (kind, operation)


@pytest.mark.parametrize(
    "module",
    [
        nn.ConstantPad2d(-1, 0.0),  # negative padding crops: a spec writes center_crop
        nn.Upsample(scale_factor=2, mode="bicubic"),
        nn.Upsample(scale_factor=2, mode="nearest-exact"),
        nn.Upsample(scale_factor=1.5, recompute_scale_factor=True),
    ],
    ids=repr,
)
def test_resampling_modules_a_spec_cannot_write_are_unknown(module: nn.Module) -> None:
    assert known_kind(module, ()) is None


# -- located errors --------------------------------------------------------------


def _load(layer: str, input_: str = "[8, 6, 6]") -> archcalc.Spec:
    return archcalc.loads(f"input: {input_}\nlayers:\n  - {layer}\n", filename="k.yaml")


@pytest.mark.parametrize(
    ("layer", "input_", "message"),
    [
        (
            "conv_transpose2d: {out: 4, kernel: 2, stride: 2, output_padding: 2}",
            "[8, 6, 6]",
            r"`output_padding` expects less than the stride or the dilation \(below 2\), but gets 2"
            r" — torch refuses it too",
        ),
        (
            "conv_transpose2d: {out: 4, kernel: 1, padding: 1}",
            "[8, 2, 2]",
            r"expects an output of at least 1 per axis, .* gives 0×0 for a 8×2×2 input — lower",
        ),
        (
            "conv_transpose2d: {out: 4, kernel: 3}",
            "[8, 16]",
            r"expects a C×H×W input, but gets 8×16 — for a C×L input use `conv_transpose1d`",
        ),
        (
            "conv_transpose2d: {out: 5, kernel: 3, groups: 2}",
            "[8, 6, 6]",
            r"`out` expects a multiple of groups=2, but gets 5",
        ),
        (
            "conv_transpose1d: {out: 4, kernel: 3, padding: -1}",
            "[8, 6]",
            r"`padding` expects an integer ≥ 0, but gets -1",
        ),
        (
            "conv_transpose2d: {out_channels: 4, kernel: 3}",
            "[8, 6, 6]",
            r"no argument `out_channels` — .*archcalc writes `out`",
        ),
        (
            "upsample: {scale: 2, size: 12}",
            "[8, 6, 6]",
            r"upsample expects exactly one of `scale` and `size`, but gets both — ",
        ),
        ("upsample: {mode: bilinear}", "[8, 6, 6]", r"exactly one of .* but gets neither"),
        (
            "upsample: {scale: 2, mode: bilinear}",
            "[8, 6]",
            r"expects a C×H×W input for mode bilinear, but gets 8×6 — for a C×L input use "
            r"`mode: linear`",
        ),
        (
            "upsample: {scale: 2, mode: bicubic}",
            "[8, 6, 6]",
            r"`mode` expects one of nearest, linear, bilinear, trilinear, but gets 'bicubic'",
        ),
        (
            "upsample: {scale: 2, align_corners: false}",
            "[8, 6, 6]",
            r"`align_corners` expects an interpolating mode .* the mode is nearest — torch ",
        ),
        ("upsample: 0", "[8, 6, 6]", r"`scale` expects a positive finite number, but gets 0"),
        ("upsample: -.inf", "[8, 6, 6]", r"`scale` expects a positive finite number"),
        (
            "upsample: [2, 2]",
            "[8, 6]",
            r"expects one `scale` per spatial axis of its 8×6 input \(1\), but gets 2",
        ),
        ("upsample: 0.1", "[8, 6, 6]", r"⌊n·scale⌋ gives 0×0 for a 8×6×6 input — "),
        (
            "upsample: {scale_factor: 2}",
            "[8, 6, 6]",
            r"no argument `scale_factor` — `scale_factor` is torch's name; archcalc writes `scale`",
        ),
        ("upsample: {size: [4, 0]}", "[8, 6, 6]", r"`size` expects a positive integer"),
        (
            "pixel_shuffle: 2",
            "[6, 4, 4]",
            r"expects channels divisible by upscale_factor² = 4, but gets 6 channels — ",
        ),
        ("pixel_shuffle: 2", "[8, 4, 4, 4]", r"expects a C×H×W input, but gets 8×4×4×4"),
        (
            "pixel_unshuffle: 2",
            "[8, 5, 4]",
            r"height and width divisible by downscale_factor=2, but gets 8×5×4 — ",
        ),
        ("pixel_shuffle: 0", "[8, 4, 4]", r"`upscale_factor` expects a positive integer"),
        (
            "center_crop: [7, 4]",
            "[8, 6, 6]",
            r"expects an input of at least 7×4, but gets 8×6×6 — .*`pad` it first",
        ),
        (
            "center_crop: [4, 4, 4]",
            "[8, 6, 6]",
            r"expects one `size` per spatial axis of its 8×6×6 input \(2\), but gets 3",
        ),
        ("center_crop: {}", "[8, 6, 6]", r"center_crop expects argument `size`, but it is missing"),
        ("center_crop: 1.5", "[8, 6, 6]", r"`size` expects a positive integer or one per axis"),
        (
            "pad: {padding: 6, mode: reflect}",
            "[8, 6, 6]",
            r"expects reflect padding less than each axis' size, but pads 6 on an axis of 6",
        ),
        (
            "pad: {padding: 7, mode: circular}",
            "[8, 6, 6]",
            r"expects circular padding at most each axis' size, but pads 7",
        ),
        (
            "pad: {padding: 1, mode: reflect, value: 2}",
            "[8, 6, 6]",
            r"`value` expects mode constant, but the mode is reflect — ",
        ),
        ("pad: {padding: 1, mode: zeros}", "[8, 6, 6]", r"`mode` expects one of constant, "),
        ("pad: -1", "[8, 6, 6]", r"`padding` expects integers ≥ 0, but gets `-1` — "),
        (
            "pad: {padding: [[1, 2, 3], 1]}",
            "[8, 6, 6]",
            r"`padding` expects \[before, after\] for an axis, but gets 3 values",
        ),
        (
            "pad: [1, 1, 1]",
            "[8, 6, 6]",
            r"expects one `padding` entry per spatial axis of its 8×6×6 input \(2\), but gets 3",
        ),
        ("pad: {padding: 1, value: .inf}", "[8, 6, 6]", r"`value` expects a finite number"),
        ("pad: 1", "[8]", r"expects a feature map .* but gets 8 — pad works on feature maps"),
    ],
)
def test_resampling_mistakes_are_located_errors(layer: str, input_: str, message: str) -> None:
    with pytest.raises(archcalc.ArchcalcError, match=message) as err:
        archcalc.analyze(_load(layer, input_))
    assert str(err.value).startswith("k.yaml:"), str(err.value)
    assert "layers[0]" in str(err.value) or str(err.value).startswith("k.yaml:3:")
