"""build(spec): every kind becomes the torch module a user would write, named by its spec path."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
import torch
from torch import nn

import archcalc
from archcalc.bridge.modules import (
    CenterCrop,
    Chunk,
    Concat,
    DropPath,
    GlobalAvgPool,
    GlobalMaxPool,
    LayerNormChannels,
    LayerScale,
    Residual,
    Split,
)
from archcalc.kinds import REGISTRY
from tests.helpers import EXAMPLES

pytestmark = pytest.mark.filterwarnings(
    "ignore:Using padding='same' with even kernel:UserWarning"  # built here on purpose
)

# One row per kind: the spec's layer, its input, and the module written by hand in torch.
KIND_TABLE: list[tuple[str, Any, list[int], nn.Module]] = [
    (
        "conv2d",
        {
            "out": 8,
            "kernel": [3, 5],
            "stride": 2,
            "padding": [1, 2],
            "dilation": [1, 2],
            "groups": 2,
            "bias": False,
        },
        [4, 16, 16],
        nn.Conv2d(4, 8, (3, 5), stride=2, padding=(1, 2), dilation=(1, 2), groups=2, bias=False),
    ),
    (
        "conv2d",
        {"out": 3, "kernel": 4, "padding": "same"},
        [2, 9, 9],
        nn.Conv2d(2, 3, 4, padding="same"),
    ),
    (
        "maxpool2d",
        {"kernel": [3, 2], "stride": [2, 1], "padding": 1, "dilation": [1, 2], "ceil_mode": True},
        [1, 9, 9],
        nn.MaxPool2d((3, 2), stride=(2, 1), padding=1, dilation=(1, 2), ceil_mode=True),
    ),
    ("maxpool2d", 2, [1, 8, 8], nn.MaxPool2d(2)),  # stride defaults to the kernel, as in torch
    (
        "avgpool2d",
        {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
        [1, 9, 9],
        nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    ),
    ("global_avg_pool", None, [5, 7, 7], GlobalAvgPool(flatten=True)),
    ("global_avg_pool", {"flatten": False}, [5, 7, 7], GlobalAvgPool(flatten=False)),
    ("adaptive_avg_pool2d", [2, 3], [5, 7, 7], nn.AdaptiveAvgPool2d((2, 3))),
    (
        "batchnorm2d",
        {"eps": 1e-3, "momentum": 0.2},
        [6, 4, 4],
        nn.BatchNorm2d(6, eps=1e-3, momentum=0.2),
    ),
    (
        "batchnorm2d",
        {"affine": False, "track_running_stats": False},
        [6, 4, 4],
        nn.BatchNorm2d(6, affine=False, track_running_stats=False),
    ),
    ("batchnorm1d", None, [10], nn.BatchNorm1d(10)),
    ("relu", None, [3], nn.ReLU()),
    ("leaky_relu", 0.2, [3], nn.LeakyReLU(0.2)),
    ("tanh", None, [3], nn.Tanh()),
    ("sigmoid", None, [3], nn.Sigmoid()),
    ("gelu", None, [3], nn.GELU()),
    ("softmax", None, [3, 2, 2], nn.Softmax(dim=1)),
    ("flatten", None, [3, 2, 2], nn.Flatten()),
    ("linear", {"out": 7, "bias": False}, [12], nn.Linear(12, 7, bias=False)),
    ("linear", 7, [12], nn.Linear(12, 7)),
    ("dropout", 0.25, [12], nn.Dropout(0.25)),
    (
        "local_response_norm",
        {"size": 5, "alpha": 1e-3, "beta": 0.5, "k": 2.0},
        [8, 4, 4],
        nn.LocalResponseNorm(5, alpha=1e-3, beta=0.5, k=2.0),
    ),
    ("identity", None, [3], nn.Identity()),
    ("relu6", None, [3], nn.ReLU6()),
    ("prelu", None, [3], nn.PReLU()),
    ("prelu", {"per_channel": True}, [4, 2, 2], nn.PReLU(4)),
    ("elu", {"alpha": 0.5}, [3], nn.ELU(alpha=0.5)),
    ("selu", None, [3], nn.SELU()),
    ("hardsigmoid", None, [3], nn.Hardsigmoid()),
    ("silu", None, [3], nn.SiLU()),
    ("hardswish", None, [3], nn.Hardswish()),
    ("mish", None, [3], nn.Mish()),
    ("softplus", {"beta": 2.0, "threshold": 10.0}, [3], nn.Softplus(beta=2.0, threshold=10.0)),
    ("dropout2d", 0.25, [3, 4, 4], nn.Dropout2d(0.25)),
    # Other ranks: the same rules on C×L and C×D×H×W.
    (
        "conv1d",
        {"out": 4, "kernel": 5, "stride": 2, "padding": 2, "dilation": 2, "groups": 2},
        [2, 30],
        nn.Conv1d(2, 4, 5, stride=2, padding=2, dilation=2, groups=2),
    ),
    (
        "conv3d",
        {"out": 4, "kernel": [3, 1, 1], "stride": [1, 2, 2], "padding": [1, 0, 0], "bias": False},
        [2, 4, 6, 6],
        nn.Conv3d(2, 4, (3, 1, 1), stride=(1, 2, 2), padding=(1, 0, 0), bias=False),
    ),
    (
        "maxpool1d",
        {"kernel": 3, "stride": 2, "ceil_mode": True},
        [2, 9],
        nn.MaxPool1d(3, 2, ceil_mode=True),
    ),
    ("maxpool3d", [1, 2, 2], [2, 3, 8, 8], nn.MaxPool3d((1, 2, 2))),
    ("avgpool1d", {"kernel": 4, "padding": 1}, [2, 9], nn.AvgPool1d(4, padding=1)),
    ("avgpool3d", 2, [2, 4, 4, 4], nn.AvgPool3d(2)),
    ("adaptive_avg_pool1d", 3, [2, 10], nn.AdaptiveAvgPool1d(3)),
    ("adaptive_avg_pool3d", [1, 2, 2], [2, 3, 6, 6], nn.AdaptiveAvgPool3d((1, 2, 2))),
    ("adaptive_max_pool1d", 3, [2, 10], nn.AdaptiveMaxPool1d(3)),
    ("adaptive_max_pool2d", [2, 3], [5, 7, 7], nn.AdaptiveMaxPool2d((2, 3))),
    ("adaptive_max_pool3d", 1, [2, 3, 6, 6], nn.AdaptiveMaxPool3d(1)),
    ("global_avg_pool", None, [5, 16], GlobalAvgPool(flatten=True)),
    ("global_avg_pool", {"flatten": False}, [5, 2, 3, 3], GlobalAvgPool(flatten=False)),
    ("global_max_pool", None, [5, 7, 7], GlobalMaxPool(flatten=True)),
    ("global_max_pool", {"flatten": False}, [5, 16], GlobalMaxPool(flatten=False)),
    ("batchnorm1d", None, [6, 16], nn.BatchNorm1d(6)),
    ("batchnorm3d", {"eps": 1e-3}, [6, 2, 4, 4], nn.BatchNorm3d(6, eps=1e-3)),
    ("dropout1d", 0.1, [3, 8], nn.Dropout1d(0.1)),
    ("dropout3d", 0.1, [3, 2, 4, 4], nn.Dropout3d(0.1)),
    # Normalisations other than batch norm, ConvNeXt's and ShuffleNet's channel moves.
    ("groupnorm", {"groups": 4, "eps": 1e-6}, [8, 6, 6], nn.GroupNorm(4, 8, eps=1e-6)),
    ("groupnorm", {"groups": 2, "affine": False}, [6], nn.GroupNorm(2, 6, affine=False)),
    ("instancenorm1d", {"affine": True}, [4, 10], nn.InstanceNorm1d(4, affine=True)),
    ("instancenorm2d", None, [4, 6, 6], nn.InstanceNorm2d(4)),
    (
        "instancenorm3d",
        {"track_running_stats": True, "momentum": 0.2},
        [4, 2, 4, 4],
        nn.InstanceNorm3d(4, momentum=0.2, track_running_stats=True),
    ),
    ("layernorm", {"eps": 1e-6}, [8, 6, 6], LayerNormChannels(8, eps=1e-6)),
    ("layernorm", {"bias": False}, [4, 10], LayerNormChannels(4, bias=False)),
    ("layernorm", None, [12], nn.LayerNorm(12)),
    ("layer_scale", 1e-6, [8, 6, 6], LayerScale(8, rank=2, init=1e-6)),
    ("layer_scale", {"init": 0.5}, [8, 2, 3, 3], LayerScale(8, rank=3, init=0.5)),
    ("drop_path", 0.1, [8, 6, 6], DropPath(0.1)),
    ("channel_shuffle", 2, [8, 6, 6], nn.ChannelShuffle(2)),
    ("chunk", {"chunks": 2, "index": 1}, [8, 6, 6], Chunk(2, 1)),
    ("split", {"sizes": [3, 5], "index": 0}, [8, 6, 6], Split((3, 5), 0)),
    # Resampling: up, down, crop and pad.
    (
        "conv_transpose2d",
        {"out": 6, "kernel": [3, 2], "stride": 2, "padding": 1, "output_padding": [1, 0]},
        [4, 5, 5],
        nn.ConvTranspose2d(4, 6, (3, 2), stride=2, padding=1, output_padding=(1, 0)),
    ),
    (
        "conv_transpose1d",
        {"out": 4, "kernel": 3, "dilation": 2, "groups": 2, "bias": False},
        [2, 9],
        nn.ConvTranspose1d(2, 4, 3, dilation=2, groups=2, bias=False),
    ),
    (
        "conv_transpose3d",
        {"out": 2, "kernel": 2, "stride": 2},
        [4, 2, 3, 3],
        nn.ConvTranspose3d(4, 2, 2, stride=2),
    ),
    ("upsample", 2, [3, 4, 5], nn.Upsample(scale_factor=2)),
    (
        "upsample",
        {"size": [7, 9], "mode": "bilinear", "align_corners": True},
        [3, 4, 5],
        nn.Upsample(size=(7, 9), mode="bilinear", align_corners=True),
    ),
    (
        "upsample",
        {"scale": 1.5, "mode": "linear"},
        [3, 8],
        nn.Upsample(scale_factor=1.5, mode="linear"),
    ),
    ("pixel_shuffle", 2, [8, 3, 3], nn.PixelShuffle(2)),
    ("pixel_unshuffle", 2, [2, 4, 6], nn.PixelUnshuffle(2)),
    ("center_crop", [3, 4], [2, 6, 6], CenterCrop((3, 4))),
    ("center_crop", 3, [2, 5, 5, 5], CenterCrop(3)),
    ("pad", 1, [2, 4, 4], nn.ConstantPad2d(1, 0.0)),
    (
        "pad",
        {"padding": [[0, 1], 2], "mode": "reflect"},
        [2, 4, 4],
        nn.ReflectionPad2d((2, 2, 0, 1)),
    ),
    ("pad", {"padding": 2, "mode": "replicate"}, [2, 5], nn.ReplicationPad1d(2)),
    (
        "pad",
        {"padding": [1, 0, 1], "mode": "circular"},
        [2, 3, 3, 3],
        nn.CircularPad3d((1, 1, 0, 0, 1, 1)),
    ),
    (
        "pad",
        {"padding": [0, [1, 0]], "value": -1.0},
        [2, 3, 3],
        nn.ConstantPad2d((1, 0, 0, 0), -1.0),
    ),
]


_WINDOW = ("kernel_size", "stride", "padding", "dilation", "output_size")


def hyperparameters(module: nn.Module) -> dict[str, Any]:
    """What defines a module apart from its weights: public attributes and tensor shapes.

    Pooling keeps a window argument as given (``3`` or ``(3, 3)``); both mean the same,
    one int per spatial axis of the module's rank (``MaxPool1d``: 1, ``MaxPool3d``: 3).
    """
    name = type(module).__name__
    rank = int(name[-2]) if name[-2:] in ("1d", "2d", "3d") else 2
    attrs = {
        k: (v,) * rank if k in _WINDOW and isinstance(v, int) else tuple(v) if k in _WINDOW else v
        for k, v in vars(module).items()
        if not k.startswith("_") and k != "training"
    }
    tensors = {n: tuple(t.shape) for n, t in [*module.named_parameters(), *module.named_buffers()]}
    return {"type": type(module), **attrs, **tensors}


def test_the_table_covers_every_kind() -> None:
    assert {kind for kind, *_ in KIND_TABLE} == set(REGISTRY)


@pytest.mark.parametrize(
    ("kind", "args", "input_shape", "expected"),
    KIND_TABLE,
    ids=[f"{row[0]}-{i}" for i, row in enumerate(KIND_TABLE)],
)
def test_each_kind_builds_the_module_torch_users_write(
    kind: str, args: Any, input_shape: list[int], expected: nn.Module
) -> None:
    layer = kind if args is None else {kind: args}
    spec = archcalc.from_dict({"input": input_shape, "layers": [layer]})
    model = archcalc.build(spec)
    built = model.get_submodule(f"{kind}_0")
    assert hyperparameters(built) == hyperparameters(expected)
    y = model.eval()(torch.randn(2, *input_shape))
    assert tuple(y.shape[1:]) == archcalc.analyze(spec).output_shape


def test_composites_are_real_modules_with_the_spec_semantics() -> None:
    spec = archcalc.loads("""
input: [3, 8, 8]
blocks:
  unit:
    params: [c]
    layers: [{conv2d: {name: conv, out: $c, kernel: 3, padding: 1}}, relu]
layers:
  - residual: {name: same, layers: [{conv2d: {name: conv, out: 3, kernel: 3, padding: 1}}]}
  - residual:
      name: down
      layers: [{conv2d: {name: conv, out: 4, kernel: 3, stride: 2, padding: 1}}]
      shortcut: [{conv2d: {name: proj, out: 4, kernel: 1, stride: 2}}]
  - concat:
      name: mix
      branches: [[unit: {c: 2}], [{maxpool2d: {kernel: 3, stride: 1, padding: 1}}]]
  - repeat: {name: more, times: 2, layers: [unit: {name: u, c: 5}]}
""")
    model = archcalc.build(spec).eval()
    same, down, mix, more = (model.get_submodule(p) for p in ("same", "down", "mix", "more"))
    assert isinstance(same, Residual) and same.shortcut is None
    assert isinstance(down, Residual) and isinstance(down.get_submodule("shortcut.proj"), nn.Conv2d)
    assert isinstance(mix, Concat)
    assert [name for name, _ in mix.named_children()] == ["branch1", "branch2"]
    assert isinstance(more.get_submodule("1.u.conv"), nn.Conv2d)

    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        # identity shortcut: conv(x) + x
        assert torch.equal(same(x), same.get_submodule("conv")(x) + x)
        # projection shortcut: conv(x) + proj(x), not conv(x) + x
        y = down(x)
        proj = down.get_submodule("shortcut.proj")
        assert torch.equal(y, down.get_submodule("conv")(x) + proj(x))
        # concat joins the branches on channels: 2 + 4
        z = mix(y)
        assert z.shape == (2, 6, 4, 4)
        branches = [mix.get_submodule(b)(y) for b in ("branch1", "branch2")]
        assert torch.equal(z, torch.cat(branches, dim=1))
        assert model(x).shape == (2, 5, 4, 4)
    # No lambdas inside: the model pickles, and prints its structure.
    assert isinstance(pickle.loads(pickle.dumps(model)).get_submodule("down"), Residual)
    assert "(shortcut): Sequential" in repr(model)


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
def test_module_names_are_the_spec_paths(name: str) -> None:
    spec = archcalc.load(EXAMPLES / f"{name}.yaml")
    with torch.device("meta"):  # structure only: no memory, no weight init for VGG's 138 M
        model = archcalc.build(spec)
    leaves = [n for n, m in model.named_modules() if not list(m.children())]
    # A written merge (add/mul/cat) is a row but no module: build runs it as a graph node.
    a = archcalc.analyze(spec)
    assert a.graph is not None
    modules = [
        row.path for row in a.rows if row.node is None or not a.graph.nodes[row.node].is_merge
    ]
    assert leaves == modules


@pytest.mark.parametrize(
    ("name", "path", "expected"),
    [
        ("resnet18", "conv1", nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)),
        ("resnet18", "layer2_0.res.shortcut.conv", nn.Conv2d(64, 128, 1, stride=2, bias=False)),
        ("resnet18", "layer4_1.res.bn2", nn.BatchNorm2d(512)),
        ("vgg16", "stage2.convs.0.conv", nn.Conv2d(64, 128, 3, padding=1)),
        ("vgg16", "fc6", nn.Linear(512 * 7 * 7, 4096)),
        (
            "googlenet",
            "inception4a.branches.branch4.maxpool2d_0",
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_nested_paths_reach_the_layer(name: str, path: str, expected: nn.Module) -> None:
    with torch.device("meta"):
        model = archcalc.build(archcalc.load(EXAMPLES / f"{name}.yaml"))
    assert hyperparameters(model.get_submodule(path)) == hyperparameters(expected)


def test_build_at_another_input_size_infers_the_sizes_again() -> None:
    model = archcalc.build(archcalc.load(EXAMPLES / "mnist_cnn.yaml"), input_shape=(1, 32, 32))
    assert model.get_submodule("fc1").in_features == 32 * 8 * 8
    assert model(torch.randn(1, 1, 32, 32)).shape == (1, 10)


def test_an_invalid_spec_fails_before_any_module_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = archcalc.loads("""
input: [1, 12, 12]
layers:
  - conv2d: {name: conv1, out: 8, kernel: 3}
  - maxpool2d: 2
  - conv2d: {name: conv2, out: 8, kernel: 7}
""")
    created: list[str] = []
    original = nn.Module.__init__

    def spy(self: nn.Module, *args: Any, **kwargs: Any) -> None:
        created.append(type(self).__name__)
        original(self, *args, **kwargs)

    monkeypatch.setattr(nn.Module, "__init__", spy)
    with pytest.raises(archcalc.ArchcalcError, match=r"layers\[2\] \(conv2d conv2\)"):
        archcalc.build(spec)
    assert created == []
    archcalc.build(archcalc.from_dict({"input": [1, 4, 4], "layers": ["relu"]}))
    assert created  # the spy does see modules being made


def test_a_name_torch_reserves_is_an_error() -> None:
    # Refused when the spec is read (so `archcalc check` catches it too), before any build.
    with pytest.raises(
        archcalc.ArchcalcError, match=r"the name `forward` is an attribute of torch\.nn\.Module"
    ):
        archcalc.build(
            archcalc.from_dict(
                {"input": [4], "layers": [{"linear": {"name": "forward", "out": 2}}]}
            )
        )


def test_a_layer_scale_is_saved_under_its_own_path() -> None:
    """As torchvision's CNBlock holds ``layer_scale`` itself: the key is the layer's path."""
    spec = archcalc.from_dict(
        {
            "input": [4, 3, 3],
            "layers": [{"conv2d": {"name": "conv", "out": 4, "kernel": 1}}, "layer_scale"],
        }
    )
    model = archcalc.build(spec)
    state = model.state_dict()
    assert list(state) == ["conv.weight", "conv.bias", "layer_scale_1"]
    assert [n for n, _ in model.named_parameters()][-1] == "layer_scale_1.layer_scale"
    fresh = archcalc.build(spec)
    fresh.load_state_dict({k: v + 1 for k, v in state.items()}, strict=True)
    assert torch.equal(fresh.layer_scale_1.layer_scale, state["layer_scale_1"] + 1)
    # torch's own key for the module's tensor loads too, and a wrapper keeps the prefix.
    torch_keys = {
        k.replace("layer_scale_1", "layer_scale_1.layer_scale"): v for k, v in state.items()
    }
    fresh.load_state_dict(torch_keys, strict=True)
    wrapped = nn.Sequential(fresh)
    assert "0.layer_scale_1" in wrapped.state_dict()
    wrapped.load_state_dict(wrapped.state_dict(), strict=True)
    pickle.loads(pickle.dumps(model))
