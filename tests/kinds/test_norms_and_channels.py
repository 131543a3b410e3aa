"""groupnorm, instancenorm1d/2d/3d, layernorm, layer_scale, drop_path, channel_shuffle, chunk
and split against the real torch (and torchvision) modules: shapes, parameters, buffers and
outputs; every mistake a located error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.convnext import CNBlock, LayerNorm2d
from torchvision.ops import StochasticDepth

import archcalc
from archcalc.bridge.modules import Chunk, DropPath, LayerNormChannels, LayerScale, Split
from archcalc.bridge.summarize import summarize
from archcalc.bridge.summarize.torch_kinds import known_kind
from archcalc.design.lint import NORMALISERS, PASS_THROUGH, lint
from archcalc.kinds import REGISTRY
from tests.helpers import EXAMPLES


class _ChannelsLast(nn.Module):
    """What a torch user writes for a norm over channels at any rank: channels last and back."""

    def __init__(self, norm: nn.LayerNorm) -> None:
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.movedim(1, -1)).movedim(-1, 1)


class _Scaled(nn.Module):
    """ConvNeXt's scale as torchvision's CNBlock applies it: its ``layer_scale`` times x."""

    def __init__(self, layer_scale: nn.Parameter) -> None:
        super().__init__()
        self.layer_scale = layer_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_scale * x


class _Fn(nn.Module):
    """A tensor method as a module (``x.chunk(2, 1)[1]``)."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


# (kind, its arguments, an input shape, what a torch user writes for it)
CASES: list[tuple[str, Any, tuple[int, ...], nn.Module]] = [
    ("groupnorm", {"groups": 4, "eps": 1e-6}, (8, 5, 5), nn.GroupNorm(4, 8, eps=1e-6)),
    ("groupnorm", {"groups": 3, "affine": False}, (6, 7), nn.GroupNorm(3, 6, affine=False)),
    ("groupnorm", 2, (6,), nn.GroupNorm(2, 6)),
    ("groupnorm", 1, (4, 2, 3, 3), nn.GroupNorm(1, 4)),
    ("instancenorm1d", {"affine": True}, (4, 9), nn.InstanceNorm1d(4, affine=True)),
    ("instancenorm2d", None, (4, 6, 5), nn.InstanceNorm2d(4)),
    (
        "instancenorm2d",
        {"track_running_stats": True, "momentum": 0.3},
        (4, 6, 5),
        nn.InstanceNorm2d(4, momentum=0.3, track_running_stats=True),
    ),
    (
        "instancenorm3d",
        {"affine": True, "track_running_stats": True, "eps": 1e-3},
        (3, 2, 4, 4),
        nn.InstanceNorm3d(3, eps=1e-3, affine=True, track_running_stats=True),
    ),
    ("layernorm", {"eps": 1e-6}, (8, 5, 5), LayerNorm2d(8, eps=1e-6)),
    ("layernorm", None, (12,), nn.LayerNorm(12)),
    ("layernorm", {"bias": False}, (6, 10), _ChannelsLast(nn.LayerNorm(6, bias=False))),
    (
        "layernorm",
        {"elementwise_affine": False},
        (5, 2, 3, 3),
        _ChannelsLast(nn.LayerNorm(5, elementwise_affine=False)),
    ),
    ("layer_scale", 0.5, (8, 5, 5), _Scaled(CNBlock(8, 0.5, 0.0).layer_scale)),
    ("layer_scale", {"init": 2.0}, (6,), _Scaled(nn.Parameter(torch.full((6,), 2.0)))),
    ("drop_path", 0.2, (8, 5, 5), StochasticDepth(0.2, "row")),
    ("channel_shuffle", 2, (8, 5, 5), nn.ChannelShuffle(2)),
    ("channel_shuffle", 3, (6, 7), nn.ChannelShuffle(3)),
    ("chunk", {"chunks": 2, "index": 1}, (8, 5, 5), _Fn(lambda x: x.chunk(2, 1)[1])),
    ("chunk", {"chunks": 4, "index": 2}, (5, 3), _Fn(lambda x: x.chunk(4, 1)[2])),
    ("chunk", {"chunks": 3, "index": 0}, (7,), _Fn(lambda x: x.chunk(3, 1)[0])),
    (
        "split",
        {"sizes": [3, 1, 4], "index": 2},
        (8, 5, 5),
        _Fn(lambda x: x.split([3, 1, 4], 1)[2]),
    ),
    ("split", {"sizes": [2, 4], "index": 0}, (6,), _Fn(lambda x: x.split([2, 4], 1)[0])),
]


def _spec(kind: str, args: Any, shape: tuple[int, ...]) -> archcalc.Spec:
    layer = kind if args is None else {kind: args}
    return archcalc.from_dict({"input": list(shape), "layers": [layer]})


@pytest.mark.parametrize(
    ("kind", "args", "shape", "module"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_shapes_params_and_buffers_are_torch_s(
    kind: str, args: Any, shape: tuple[int, ...], module: nn.Module
) -> None:
    spec = _spec(kind, args, shape)
    (row,) = archcalc.analyze(spec).rows
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(0))
    module.eval()
    with torch.no_grad():
        expected = module(x)
    assert row.output_shape == tuple(expected.shape[1:])
    assert row.params == sum(p.numel() for p in module.parameters())
    assert row.buffers == sum(b.numel() for b in module.buffers())
    assert row.macs == 0

    # The built module holds the same tensors, in the same order (randomised, so that a swap
    # would show), and gives the same output.
    built = archcalc.build(spec).eval()
    state = {
        k: (torch.rand_like(v) + 0.5 if "running_var" in k else torch.randn_like(v))
        if v.is_floating_point()
        else v
        for k, v in built.state_dict().items()
    }
    built.load_state_dict(state)
    theirs = module.state_dict()
    module.load_state_dict(dict(zip(theirs, state.values(), strict=True)))
    with torch.no_grad():
        torch.testing.assert_close(built(x), module(x), rtol=0, atol=1e-6)


def test_layernorm_channels_is_torchvision_s_layernorm2d_exactly() -> None:
    theirs = LayerNorm2d(96, eps=1e-6).eval()
    with torch.no_grad():
        theirs.weight.normal_()
        theirs.bias.normal_()
    ours = LayerNormChannels(96, eps=1e-6).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 96, 7, 9, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))


def test_layer_scale_has_torchvision_s_layout_and_init() -> None:
    block = CNBlock(96, 1e-6, 0.0)
    ours = LayerScale(96, rank=2, init=1e-6)
    assert ours.layer_scale.shape == block.layer_scale.shape
    assert torch.equal(ours.layer_scale, block.layer_scale)


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_drop_path_trains_as_torchvision_s_stochastic_depth(p: float) -> None:
    x = torch.randn(64, 4, 3, 3)
    ours, theirs = DropPath(p).train(), StochasticDepth(p, "row").train()
    torch.manual_seed(5)
    got = ours(x)
    torch.manual_seed(5)
    assert torch.equal(got, theirs(x))
    assert torch.equal(ours.eval()(x), x)
    if 0 < p < 1:  # whole samples dropped, the rest scaled by 1/(1 - p)
        kept = got.flatten(1).ne(0).any(1)
        assert 0 < kept.sum() < 64
        torch.testing.assert_close(got[kept], x[kept] / (1 - p))


@pytest.mark.parametrize("channels", range(1, 13))
@pytest.mark.parametrize("chunks", range(1, 7))
def test_chunk_follows_torch_chunk_or_says_why_not(channels: int, chunks: int) -> None:
    pieces = torch.zeros(1, channels, 2).chunk(chunks, dim=1)
    for index in range(chunks):
        spec = _spec("chunk", {"chunks": chunks, "index": index}, (channels, 2))
        if index < len(pieces):
            assert archcalc.analyze(spec).output_shape == tuple(pieces[index].shape[1:])
        else:
            with pytest.raises(archcalc.ArchcalcError, match=rf"expects piece {index} of"):
                archcalc.analyze(spec)


def _error(text: str) -> archcalc.ArchcalcError:
    with pytest.raises(archcalc.ArchcalcError) as err:
        archcalc.analyze(archcalc.loads(text, filename="k.yaml"))
    return err.value


@pytest.mark.parametrize(
    ("layers", "at", "message", "hint"),
    [
        (
            ["groupnorm: {groups: 32}"],
            "groupnorm",
            "layers[0] (groupnorm groupnorm_0): expects channels divisible by groups (32), but "
            "gets 48 channels (48×8×8)",
            "`groups: 24` divides 48",
        ),
        (
            ["channel_shuffle: 5"],
            "channel_shuffle",
            "expects channels divisible by groups (5), but gets 48 channels",
            "`channel_shuffle: 4` divides 48",
        ),
        (
            ["flatten", "channel_shuffle: 2"],
            "channel_shuffle",
            "expects a feature map",
            "`flatten`",
        ),
        (
            ["instancenorm2d: {affine: true}", "flatten", "instancenorm1d"],
            "instancenorm1d",
            "expects a C×L input, but gets 3072",
            "put it before `flatten`",
        ),
        (["instancenorm1d"], "instancenorm1d", "expects a C×L input", "use `instancenorm2d`"),
        (["chunk: {chunks: 2, index: 2}"], "2}", "`index` expects at most 1", "0 to 1"),
        (
            ["chunk: {chunks: 40, index: 30}"],
            "chunk",
            "expects piece 30 of 40 chunks, but torch.chunk cuts 48 channels into 24 pieces of 2",
            "`split",
        ),
        (
            ["split: {sizes: [16, 16], index: 0}"],
            "split",
            "expects sizes that add up to the input's 48 channels (48×8×8), but they add up to 32",
            "torch.split",
        ),
        (["split: {sizes: 16, index: 0}"], "16", "`sizes` expects a list of integers", None),
        (["split: {sizes: [16, 0], index: 0}"], "0]", "`sizes` expects a positive", None),
        (["split: {sizes: [48]}"], "{sizes", "split expects argument `index`", None),
        (["layer_scale: {init: abc}"], "abc", "`init` expects a number", None),
        (["drop_path: 1.5"], "1.5", "`p` expects a number in [0, 1]", None),
        (["drop_path"], "drop_path", "drop_path expects argument `p`", None),
        (["groupnorm: {num_groups: 4}"], "num_groups", "no argument `num_groups`", "`groups`"),
        (["layernorm: {normalized_shape: 48}"], "normalized", "no argument", "inferred from"),
        (["groupnorm: {groups: 4, num_channels: 48}"], "num_ch", "no argument", "inferred"),
        (["layernorm: {eps: 0}"], "0}", "`eps` expects a number in (0, ∞)", None),
        (["layernorm: {eps: 1e-6}"], "1e-6", "gets '1e-6'", "YAML reads `1e-6` as text"),
        (["layer_scale: {init: x}"], "x}", "`init` expects a number", "`init: 1.0e-06`"),
    ],
)
def test_mistakes_are_located_errors(
    layers: list[str], at: str, message: str, hint: str | None
) -> None:
    text = "input: [48, 8, 8]\nlayers:\n" + "".join(f"  - {layer}\n" for layer in layers)
    err = _error(text)
    before = text[: text.index(at, text.index("layers:"))]
    line, col = before.count("\n") + 1, len(before) - before.rfind("\n")
    assert (err.file, err.line, err.col) == ("k.yaml", line, col), str(err)
    assert message in str(err)
    if hint is not None:
        assert err.hint is not None and hint in err.hint, str(err)


def test_a_computed_index_is_blamed_at_its_expression() -> None:
    err = _error(
        "input: [4, 8, 8]\nblocks:\n  piece:\n    params: [i]\n    layers:\n"
        "      - chunk: {chunks: 2, index: $i + 1}\nlayers:\n  - piece: {i: 1}\n"
    )
    assert (err.line, "`index` expects at most 1, but gets 2") == (6, err.message)


@pytest.mark.parametrize(
    ("module", "shape", "kind", "operation"),
    [
        (nn.GroupNorm(8, 32, eps=1e-6), (32, 4, 4), "groupnorm", "GroupNorm(8, 32, eps=1e-06)"),
        (
            nn.InstanceNorm1d(4, affine=True),
            (4, 9),
            "instancenorm1d",
            "InstanceNorm1d(4, affine=True)",
        ),
        (nn.InstanceNorm3d(4), (), "instancenorm3d", "InstanceNorm3d(4)"),
        (nn.LayerNorm(10), (10,), "layernorm", "LayerNorm(10)"),
        (nn.LayerNorm(10), (), "layernorm", "LayerNorm(10)"),
        (LayerNorm2d(96, eps=1e-6), (96, 7, 7), "layernorm", "LayerNormChannels(96, eps=1e-06)"),
        (LayerNormChannels(6), (6, 9), "layernorm", "LayerNormChannels(6)"),
        (LayerNormChannels(6), (), "layernorm", "LayerNormChannels(6)"),
        (StochasticDepth(0.1, "row"), (4, 3, 3), "drop_path", "DropPath(0.1)"),
        (DropPath(0.25), (4,), "drop_path", "DropPath(0.25)"),
        (LayerScale(4, 1, 0.1), (4, 9), "layer_scale", "LayerScale(4, init=0.1)"),
        (nn.ChannelShuffle(2), (4, 3, 3), "channel_shuffle", "ChannelShuffle(groups=2)"),
        (Chunk(2, 1), (4, 3, 3), "chunk", "Chunk(chunks=2, index=1)"),
        (Split((1, 3), 1), (4, 3, 3), "split", "Split(sizes=[1, 3], index=1)"),
    ],
    ids=repr,
)
def test_torch_modules_read_back_as_their_kind(
    module: nn.Module, shape: tuple[int, ...], kind: str, operation: str
) -> None:
    known = known_kind(module, shape)
    assert known is not None
    assert (known.kind, known.operation()) == (kind, operation)


@pytest.mark.parametrize(
    ("module", "shape"),
    [
        (nn.LayerNorm(9), (4, 9)),  # over the last axis of a map, not its channels
        (nn.LayerNorm((4, 9)), (4, 9)),
        (LayerNorm2d(4), (4, 9)),  # torchvision's permutes a C×H×W map only
        (LayerNormChannels(5), (4, 3, 3)),
        (StochasticDepth(0.1, "batch"), (4, 3, 3)),
        (LayerScale(4, 2, 0.1), (4, 9)),  # a C×1×1 scale on a C×L map broadcasts wrongly
    ],
    ids=repr,
)
def test_inexpressible_modules_stay_unknown(module: nn.Module, shape: tuple[int, ...]) -> None:
    assert known_kind(module, shape) is None


def test_torchvision_s_convnext_downsampling_summarises_as_its_spec() -> None:
    tv = nn.Sequential(
        LayerNorm2d(8, eps=1e-6), nn.Conv2d(8, 16, 2, stride=2), StochasticDepth(0.1, "row")
    )
    spec = archcalc.loads(
        "input: [8, 8, 8]\nlayers:\n  - layernorm: {eps: 1.0e-6}\n"
        "  - conv2d: {out: 16, kernel: 2, stride: 2}\n  - drop_path: 0.1\n"
    )
    fields = ("kind", "operation", "params", "output_shape", "receptive_field")
    ours = archcalc.analyze(spec).rows
    theirs = summarize(tv.eval(), (8, 8, 8)).rows
    assert [[getattr(r, f) for f in fields] for r in theirs] == [
        [getattr(r, f) for f in fields] for r in ours
    ]


def test_traits_make_norms_normalisers_and_drop_path_a_pass_through() -> None:
    norms = {"groupnorm", "instancenorm1d", "instancenorm2d", "instancenorm3d", "layernorm"}
    assert norms <= NORMALISERS
    assert "drop_path" in PASS_THROUGH
    assert not {"layer_scale", "channel_shuffle", "chunk", "split"} & (NORMALISERS | PASS_THROUGH)
    for name in (*norms, "layer_scale", "drop_path", "channel_shuffle", "chunk", "split"):
        step = REGISTRY[name].rf_step
        assert step is not None and step(None, (4, 4, 4)) is None


@pytest.mark.parametrize(
    ("norm", "flagged"),
    [
        ("batchnorm2d", True),
        ("instancenorm2d: {track_running_stats: true}", True),
        ("layernorm", False),
        ("groupnorm: 2", False),
        ("instancenorm2d", False),
    ],
)
def test_drop_path_before_a_norm_is_flagged_only_where_running_statistics_shift(
    norm: str, flagged: bool
) -> None:
    # Li et al.'s variance shift is in running statistics; per-sample norms have none.
    spec = archcalc.loads(
        f"input: [4, 8, 8]\nlayers:\n  - drop_path: 0.2\n  - conv2d: {{out: 4, kernel: 3}}\n"
        f"  - {norm}\n"
    )
    codes = [f.code for f in lint(archcalc.analyze(spec)).findings]
    assert ("AC107" in codes) is flagged


def test_convnext_tiny_s_stochastic_depth_rises_as_torchvision_s() -> None:
    # The spec writes 0.1·i/17 to 4 decimals (eval ignores it; training would not).
    with torch.device("meta"):
        theirs = torchvision.models.convnext_tiny()
    expected = [m.p for m in theirs.modules() if isinstance(m, StochasticDepth)]
    with torch.device("meta"):
        built = archcalc.build(archcalc.load(EXAMPLES / "convnext_tiny.yaml"))
    ours = [m.p for m in built.modules() if isinstance(m, DropPath)]
    assert len(ours) == len(expected) == 18
    assert all(abs(a - b) <= 5e-5 for a, b in zip(ours, expected, strict=True)), ours


def test_linear_per_position_is_convnext_s_channels_last_linear() -> None:
    """ConvNeXt's pointwise nn.Linear on its channels-last tensor, written C first."""
    torch.manual_seed(0)
    theirs = nn.Sequential(_Fn(lambda x: x.permute(0, 2, 3, 1)), nn.Linear(8, 12))
    spec = _spec("linear", {"out": 12, "per_position": True}, (8, 5, 5))
    (row,) = archcalc.analyze(spec).rows
    (linear,) = [r for r in summarize(theirs, (8, 5, 5)).rows if r.kind == "linear"]
    assert row.output_shape == (12, 5, 5) and linear.output_shape == (5, 5, 12)
    assert (row.params, row.macs) == (linear.params, linear.macs) == (8 * 12 + 12, 8 * 12 * 25)
    assert row.receptive_field is not None and row.receptive_field.size == (1, 1)
    built = archcalc.build(spec).eval()
    built.load_state_dict({f"linear_0.{k}": v for k, v in theirs[1].state_dict().items()})
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(built(x), theirs(x).permute(0, 3, 1, 2))
    assert known_kind(built.linear_0, (8, 5, 5)).args.per_position  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("args", "shape", "words"),
    [
        ({"out": 4}, (8, 5, 5), "expects a flat input, but gets 8×5×5 — add `flatten`"),
        ({"out": 4, "per_position": True}, (8,), "with per_position expects a map"),
    ],
)
def test_linear_per_position_only_on_maps(args: Any, shape: tuple[int, ...], words: str) -> None:
    with pytest.raises(archcalc.ArchcalcError, match=words.replace("`", ".")):
        archcalc.analyze(_spec("linear", args, shape))
