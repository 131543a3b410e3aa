"""`archcalc.export`: a torch module as a spec, and back, with the same weights.

Every CNN of torchvision 0.29's classification, segmentation and video lists
is listed below with what export does with it: a round trip, or the refusal
it is expected to give (attention, detection). CI runs the round trip on a sample at
small inputs, where the checks are the same (every layer's shape, parameters,
MACs and receptive field against summarize's, and the outputs of the built
spec loaded strictly with the module's state_dict); the whole list runs in
`python benchmarks/export_roundtrip.py`, which prints a table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import archcalc
from archcalc.bridge.export import Refusal, export_model
from archcalc.bridge.export.roundtrip import check
from archcalc.bridge.summarize import summarize

IMAGE = (3, 224, 224)
CLIP = (3, 16, 112, 112)


class Case(NamedTuple):
    """One torchvision model: where it lives, how it is made, and what export does with it."""

    family: str  # classification, segmentation, video
    name: str
    kwargs: dict[str, Any]
    shape: tuple[int, ...]  # the input its numbers are checked at
    small: tuple[int, ...]  # the smallest convenient input for running it
    refusal: tuple[str, str] | None  # (module path and class, the op's words) when refused

    @property
    def id(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.kwargs.items() if "weights" not in k)
        return f"{self.name}({extra})" if extra else self.name

    def make(self, device: str | None = None) -> nn.Module:
        package = {
            "classification": torchvision.models,
            "segmentation": torchvision.models.segmentation,
            "video": torchvision.models.video,
        }[self.family]
        factory: Callable[..., nn.Module] = getattr(package, self.name)
        with torch.device(device) if device else _nothing():
            return factory(weights=None, **self.kwargs)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


ATTENTION = "attention"
NO_AUX = {"aux_logits": False, "init_weights": True}
NO_BACKBONE = {"weights_backbone": None}


def _classification(name: str) -> Case:
    small = (3, 64, 64)
    kwargs: dict[str, Any] = {}
    shape = IMAGE
    refusal: tuple[str, str] | None = None
    if name.startswith(("vit_", "swin_")):
        layer = "encoder.layers.encoder_layer_0.self_attention (MultiheadAttention)"
        refusal = (layer if name.startswith("vit") else "features.1.0.attn", ATTENTION)
    elif name == "maxvit_t":
        refusal = ("blocks.0.layers.0.layers.window_attention", ATTENTION)
    elif name == "googlenet":
        kwargs = NO_AUX
    elif name == "inception_v3":
        kwargs, shape, small = NO_AUX, (3, 299, 299), (3, 96, 96)
    return Case("classification", name, kwargs, shape, small, refusal)


CLASSIFICATION = [
    _classification(n)
    for n in (
        "alexnet",
        "convnext_base",
        "convnext_large",
        "convnext_small",
        "convnext_tiny",
        "densenet121",
        "densenet161",
        "densenet169",
        "densenet201",
        "efficientnet_b0",
        "efficientnet_b1",
        "efficientnet_b2",
        "efficientnet_b3",
        "efficientnet_b4",
        "efficientnet_b5",
        "efficientnet_b6",
        "efficientnet_b7",
        "efficientnet_v2_l",
        "efficientnet_v2_m",
        "efficientnet_v2_s",
        "googlenet",
        "inception_v3",
        "maxvit_t",
        "mnasnet0_5",
        "mnasnet0_75",
        "mnasnet1_0",
        "mnasnet1_3",
        "mobilenet_v2",
        "mobilenet_v3_large",
        "mobilenet_v3_small",
        "regnet_x_16gf",
        "regnet_x_1_6gf",
        "regnet_x_32gf",
        "regnet_x_3_2gf",
        "regnet_x_400mf",
        "regnet_x_800mf",
        "regnet_x_8gf",
        "regnet_y_128gf",
        "regnet_y_16gf",
        "regnet_y_1_6gf",
        "regnet_y_32gf",
        "regnet_y_3_2gf",
        "regnet_y_400mf",
        "regnet_y_800mf",
        "regnet_y_8gf",
        "resnet101",
        "resnet152",
        "resnet18",
        "resnet34",
        "resnet50",
        "resnext101_32x8d",
        "resnext101_64x4d",
        "resnext50_32x4d",
        "shufflenet_v2_x0_5",
        "shufflenet_v2_x1_0",
        "shufflenet_v2_x1_5",
        "shufflenet_v2_x2_0",
        "squeezenet1_0",
        "squeezenet1_1",
        "swin_b",
        "swin_s",
        "swin_t",
        "swin_v2_b",
        "swin_v2_s",
        "swin_v2_t",
        "vgg11",
        "vgg11_bn",
        "vgg13",
        "vgg13_bn",
        "vgg16",
        "vgg16_bn",
        "vgg19",
        "vgg19_bn",
        "vit_b_16",
        "vit_b_32",
        "vit_h_14",
        "vit_l_16",
        "vit_l_32",
        "wide_resnet101_2",
        "wide_resnet50_2",
    )
]

SEGMENTATION = [
    Case("segmentation", n, NO_BACKBONE, IMAGE, (3, 64, 64), None)
    for n in (
        "deeplabv3_mobilenet_v3_large",
        "deeplabv3_resnet101",
        "deeplabv3_resnet50",
        "fcn_resnet101",
        "fcn_resnet50",
        "lraspp_mobilenet_v3_large",
    )
]

VIDEO = (
    [Case("video", n, {}, CLIP, (3, 4, 32, 32), None) for n in ("mc3_18", "r2plus1d_18", "r3d_18")]
    + [
        # S3D's last pooling window is 2×7×7 at 1/32 of the input: it needs 16×224×224.
        Case("video", "s3d", {}, (3, 16, 224, 224), (3, 16, 224, 224), None),
        Case(
            "video", "mvit_v1_b", {}, CLIP, CLIP, ("blocks.0.attn (MultiscaleAttention)", ATTENTION)
        ),
        Case(
            "video", "mvit_v2_s", {}, CLIP, CLIP, ("blocks.0.attn (MultiscaleAttention)", ATTENTION)
        ),
    ]
    + [
        Case("video", n, {}, CLIP, CLIP, ("features.0.0.attn", ATTENTION))
        for n in ("swin3d_b", "swin3d_s", "swin3d_t")
    ]
)

MODELS = CLASSIFICATION + SEGMENTATION + VIDEO

# Detection models are refused as a whole: anchors, box decoding and NMS.
DETECTION = {
    n: ("rpn (RegionProposalNetwork)" if "rcnn" in n else "anchor_generator", "detection")
    for n in torchvision.models.list_models(module=torchvision.models.detection)
}

# CI's sample of the round trip: one of each architecture family, at small inputs.
SAMPLE = (
    "resnet18",
    "mobilenet_v2",
    "densenet121",
    "googlenet",
    "shufflenet_v2_x0_5",
    "efficientnet_b0",
    "regnet_y_400mf",
    "convnext_tiny",
    "squeezenet1_1",
    "fcn_resnet50",
    "deeplabv3_mobilenet_v3_large",
    "lraspp_mobilenet_v3_large",
    "r2plus1d_18",
)


def _case(name: str) -> Case:
    return next(c for c in MODELS if c.name == name)


def test_every_torchvision_model_is_listed() -> None:
    listed = {(c.family, c.name) for c in MODELS}
    for family, package in (
        ("classification", torchvision.models),
        ("segmentation", torchvision.models.segmentation),
        ("video", torchvision.models.video),
    ):
        found = {(family, n) for n in torchvision.models.list_models(module=package)}
        assert found == {x for x in listed if x[0] == family}


# -- a user's own CNN ---------------------------------------------------------------------


class SqueezeExcite(nn.Module):
    """A gate: channels scaled by what the whole map says about them."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.expand = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.relu(self.reduce(self.pool(x)))
        return x * torch.sigmoid(self.expand(s))


class SmallNet(nn.Module):
    """Skips across scales both ways (a strided conv down, an upsampling back), an SE gate,
    functional activations and a functional head."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16))
        self.down = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.se = SqueezeExcite(32, 8)
        self.skip = nn.Conv2d(16, 32, 1, stride=2)
        self.lateral = nn.Conv2d(32, 16, 1)
        self.head = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.stem(x))
        y = self.se(F.relu(self.down(x))) + self.skip(x)
        x = x + F.interpolate(self.lateral(y), scale_factor=2, mode="nearest")
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def _trained_stats(module: nn.Module) -> nn.Module:
    """Batch-norm statistics other than 0 and 1, so that loading them is tested; layer norms
    and ConvNeXt's layer scales (1e-6, which would hide its blocks) away from their init."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
            if isinstance(m, nn.LayerNorm) and m.weight is not None:
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
        for name, p in module.named_parameters():
            if name.endswith("layer_scale"):
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
    return module


@pytest.mark.parametrize("flat", [False, True], ids=["folded", "flat"])
def test_a_custom_cnn_round_trips(flat: bool) -> None:
    torch.manual_seed(0)
    module = _trained_stats(SmallNet())
    exported = export_model(module, (3, 32, 32), flat=flat)
    result = check(module, (3, 32, 32), exported)
    assert result.problems == []
    assert result.layers == 9  # every module call, row by row
    assert result.logits_diff is not None and result.logits_diff <= 1e-5
    kinds = [leaf.kind for leaf in exported.spec.leaves()]
    for kind in ("relu", "sigmoid", "upsample", "flatten", "adaptive_avg_pool2d"):
        assert kind in kinds  # the functional calls are layers of the spec
    graph = archcalc.analyze(exported.spec).graph
    assert graph is not None
    merges = sorted(n.op for n in graph.nodes if n.is_merge and n.written)
    assert merges == ["add", "add", "mul"]


def _cbr(c_in: int, c: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())


class Stack(nn.Module):
    """Four identical blocks in a Sequential: a `repeat` keeps their paths body.0 … body.3."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = _cbr(3, 16)
        self.body = nn.Sequential(*[_cbr(16, 16) for _ in range(4)])
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.stem(x)))


def test_identical_calls_become_a_repeat() -> None:
    module = _trained_stats(Stack())
    exported = export_model(module, (3, 16, 16))
    assert "  - repeat:\n      name: body\n      times: 4\n" in exported.text
    result = check(module, (3, 16, 16), exported)
    assert result.problems == [] and result.layers == 18
    flat = export_model(module, (3, 16, 16), flat=True)
    assert "repeat" not in flat.text


def test_the_built_spec_has_exactly_the_module_keys() -> None:
    module = SmallNet()
    spec = archcalc.export(module, (3, 32, 32))
    assert list(archcalc.build(spec).state_dict()) == list(module.state_dict())


# -- torchvision --------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLE)
def test_torchvision_sample_round_trips(name: str) -> None:
    case = _case(name)
    torch.manual_seed(0)
    module = _trained_stats(case.make())
    exported = export_model(module, case.small, name=name)
    result = check(module, case.small, exported)
    assert result.problems == []
    assert result.logits_diff is not None and result.logits_diff <= 1e-5


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_flat_export_round_trips(name: str) -> None:
    case = _case(name)
    torch.manual_seed(0)
    module = _trained_stats(case.make())
    exported = export_model(module, case.small, flat=True)
    result = check(module, case.small, exported)
    assert result.problems == []
    assert "params:" not in exported.text  # flat: no parameterised block


@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v2", "densenet121"])
def test_folded_yaml_is_short_and_exact(name: str) -> None:
    module = getattr(torchvision.models, name)(weights=None).to("meta")
    exported = export_model(module, IMAGE, name=name)
    lines = exported.text.splitlines()
    assert len(lines) < 120
    assert any(line.strip().startswith("params:") for line in lines)  # folding happened
    result = check(module, IMAGE, exported, logits=False)  # the numbers at 224 on meta
    assert result.problems == []
    assert result.params == sum(p.numel() for p in module.parameters())


def test_resnet50_reads_like_a_hand_written_spec() -> None:
    module = torchvision.models.resnet50(weights=None).to("meta")
    text = archcalc.bridge.export.export_yaml(module, IMAGE)
    # Bottlenecks of every stage share one block: conv3 is always 4 × conv1's channels.
    assert "out: $c * 4" in text
    assert "bottleneck_downsample: {name: 0, c: 128, stride: 2}" in text


REFUSED = [c for c in MODELS if c.refusal is not None]


@pytest.mark.parametrize("case", REFUSED, ids=[c.id for c in REFUSED])
def test_expected_refusals_name_the_module_and_op(case: Case) -> None:
    assert case.refusal is not None
    where, op = case.refusal
    module = case.make("meta")
    with pytest.raises(Refusal) as err:
        export_model(module, case.shape)
    line = str(err.value)
    assert "\n" not in line
    assert err.value.where is not None and err.value.where.startswith(where)
    assert op in line


@pytest.mark.parametrize("name", sorted(DETECTION))
def test_detection_models_are_refused(name: str) -> None:
    where, op = DETECTION[name]
    factory = getattr(torchvision.models.detection, name)
    with torch.device("meta"):
        module = factory(weights=None, weights_backbone=None)
    with pytest.raises(Refusal) as err:
        export_model(module, IMAGE)
    assert err.value.where is not None and err.value.where.startswith(where)
    assert op in str(err.value)


def test_an_auxiliary_head_forward_never_calls_is_refused() -> None:
    with torch.device("meta"):
        module = torchvision.models.googlenet(weights=None, init_weights=True)
    with pytest.raises(Refusal, match=r"^aux1 \(InceptionAux\): not called: .* aux_logits=False"):
        export_model(module, IMAGE)


# -- what needs more than a block call ----------------------------------------------------


class CNBlockLike(nn.Module):
    """ConvNeXt's block in small: a scale the block holds itself, and a channels-last
    stretch (permute, layer norm, Linear, GELU, Linear, permute back)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.up = nn.Linear(c, 2 * c)
        self.act = nn.GELU()
        self.down = nn.Linear(2 * c, c)
        self.layer_scale = nn.Parameter(torch.full((c, 1, 1), 0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.down(self.act(self.up(self.norm(y)))).permute(0, 3, 1, 2)
        return x + self.layer_scale * y


class TinyConvNeXt(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 2, stride=2)
        self.blocks = nn.Sequential(CNBlockLike(8), CNBlockLike(8))
        self.head = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)).mean((2, 3)))


@pytest.mark.parametrize("flat", [False, True], ids=["folded", "flat"])
def test_a_scale_held_by_its_block_and_channels_last_layers_round_trip(flat: bool) -> None:
    torch.manual_seed(0)
    module = _trained_stats(TinyConvNeXt())
    exported = export_model(module, (3, 16, 16), flat=flat)
    result = check(module, (3, 16, 16), exported)
    assert result.problems == []
    assert result.logits_diff is not None and result.logits_diff <= 1e-5
    built = archcalc.build(exported.spec)
    # blocks.0.layer_scale, where the block holds it (listed where it runs, after the Linears)
    assert sorted(built.state_dict()) == sorted(module.state_dict())
    assert "per_position: true" in exported.text
    # A fresh scale holds its init in every element, which the spec writes; trained, the
    # kind's default stands (the weights come from the state_dict).
    assert "init: 0.5" in export_model(TinyConvNeXt(), (3, 16, 16), flat=flat).text
    assert "init" not in exported.text
    # The permutes are no layers: the spec keeps C first, and torch's shapes are its own.
    assert "blocks.0.up" in exported.channels_last
    assert not any("permute" in leaf.kind for leaf in exported.spec.leaves())


def test_a_container_that_gives_two_tensors_is_written_under_dotted_names() -> None:
    torch.manual_seed(0)
    module = TwoOutputs()
    for flat in (False, True):
        exported = export_model(module, (3, 16, 16), flat=flat)
        assert "name: encoder.one" in exported.text
        assert "from: encoder.one" in exported.text  # the encoder's first tensor, by name
        result = check(module, (3, 16, 16), exported)
        assert result.problems == [] and result.layers == 4
        assert result.logits_diff is not None and result.logits_diff <= 1e-5


# -- what a spec cannot say ---------------------------------------------------------------


class OwnBias(nn.Module):
    """A container that adds a parameter of its own: only a scale has a spec form."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.bias = nn.Parameter(torch.zeros(4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.bias


class OwnBuffer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.register_buffer("gain", torch.ones(4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gain * self.conv(x)


class ChannelsLastConv(nn.Module):
    """A layer that depends on where the channels are, run on a channels-last tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class OtherPermute(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.permute(0, 1, 3, 2))


class AddsChannelsLast(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.permute(0, 2, 3, 1)
        return (self.fc(y) + y).permute(0, 3, 1, 2)


class Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3), Gate())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Gate(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if x.mean() > 0 else -x


class Difference(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 1)
        self.b = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) - self.b(x)


class TwoOutputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()
        self.head = nn.Conv2d(8, 2, 1)
        self.side = nn.Conv2d(4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low, high = self.encoder(x)
        return self.head(high) + F.interpolate(self.side(low), scale_factor=0.5)


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.one = nn.Conv2d(3, 4, 3, padding=1)
        self.two = nn.Conv2d(4, 8, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        low = self.one(x)
        return low, self.two(low)


class SharedConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.conv(x))


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(4, 4, 1)
        self.b = nn.Conv2d(4, 4, 1)
        self.b.weight = self.a.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x))


class Aliased(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)
        self.alias = self.conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.alias(self.conv(x))


class Reserved(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.shortcut = nn.Conv2d(4, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x)


class Nothing(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous()


@pytest.mark.parametrize(
    ("module", "where", "words"),
    [
        (Branchy(), "body.1 (Gate)", "Tensor.__bool__: the forward reads a tensor's value"),
        (Difference(), "(root) (Difference)", "subtracts"),
        (SharedConv(), "conv (Conv2d)", "called twice with the same weights"),
        (Tied(), "b (Conv2d)", "its weight is the tensor a.weight holds too"),
        (Aliased(), "alias (Conv2d)", "it is the module conv too"),
        (Reserved(), "shortcut (Conv2d)", "`shortcut` is reserved by archcalc's build"),
        (Nothing(), "(root)", "the network returns its input"),
        (OwnBias(), "(root) (OwnBias)", "own parameters: its forward uses its own tensors (bias)"),
        (OwnBuffer(), "(root) (OwnBuffer)", "own parameters"),
        (ChannelsLastConv(), "pool (MaxPool2d)", "permute: it runs on a channels-last tensor"),
        (OtherPermute(), "(root) (OtherPermute)", "torch permute: reorders axes"),
        (AddsChannelsLast(), "(root) (AddsChannelsLast)", "reads a channels-last tensor"),
    ],
    ids=[
        "data-dependent",
        "subtraction",
        "called-twice",
        "tied",
        "aliased",
        "reserved",
        "none",
        "own-bias",
        "own-buffer",
        "channels-last-pool",
        "other-permute",
        "channels-last-add",
    ],
)
def test_what_a_spec_cannot_say_is_one_located_line(
    module: nn.Module, where: str, words: str
) -> None:
    shape = (
        (4, 16, 16) if isinstance(module, (SharedConv, Tied, Aliased, Reserved)) else (3, 16, 16)
    )
    with pytest.raises(Refusal) as err:
        export_model(module, shape)
    assert err.value.where == where
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_export_numbers_match_summarize_on_a_meta_model() -> None:
    module = torchvision.models.resnet18(weights=None).to("meta")
    spec = archcalc.export(module, IMAGE)
    ours, theirs = archcalc.analyze(spec), summarize(module, IMAGE)
    assert ours.totals.params == theirs.totals.params == 11_689_512
    assert ours.totals.macs == theirs.totals.macs
    assert ours.final is not None and theirs.final is not None
    assert ours.final.field == theirs.final.field
    assert ours.final.output_shape == theirs.final.output_shape
