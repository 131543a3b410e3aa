"""summarize(module): existing torch modules into the same Analysis a spec gives.

Every count is checked against what torch itself says (``model.parameters()``
deduplicates shared tensors) and, for the zoo, against the example specs,
which match torchvision exactly.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torchvision
from torch import nn

import archcalc
from archcalc.analysis import Analysis
from archcalc.bridge.summarize import summarize, summarize_target
from tests.helpers import EXAMPLES


def torch_counts(model: nn.Module) -> tuple[int, int, int]:
    """(params, trainable, buffers) as torch counts them: each tensor once."""
    params = list(model.parameters())
    return (
        sum(p.numel() for p in params),
        sum(p.numel() for p in params if p.requires_grad),
        sum(b.numel() for b in model.buffers()),
    )


def assert_consistent(a: Analysis, model: nn.Module) -> None:
    """Rows sum to the totals, and the totals are torch's own counts."""
    assert (a.totals.params, a.totals.trainable_params, a.totals.buffers) == torch_counts(model)
    assert sum(r.params for r in a.rows) == a.totals.params
    assert sum(r.trainable_params for r in a.rows) == a.totals.trainable_params
    assert sum(r.buffers for r in a.rows) == a.totals.buffers
    assert sum(r.macs for r in a.rows if r.macs is not None) == a.totals.macs
    assert a.totals.uncounted == tuple(r.path for r in a.rows if r.macs is None)
    assert a.source == "module"


# -- the zoo: same totals as the example specs ---------------------------------

ZOO: dict[str, dict[str, Any]] = {
    "resnet18": {},
    "vgg16": {},
    "alexnet": {},
    "googlenet": {"aux_logits": False, "init_weights": False},
}


def on_meta(name: str, **kwargs: Any) -> nn.Module:
    # Shapes, parameter counts and torch's FLOP formulas need no data: a model on
    # the meta device gives the same numbers without allocating 500 MB for vgg16.
    with torch.device("meta"):
        model: nn.Module = getattr(torchvision.models, name)(weights=None, **kwargs)
    return model


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_totals_match_the_example_specs(name: str) -> None:
    model = on_meta(name, **ZOO[name])
    a = summarize(model, (3, 224, 224))
    spec = archcalc.analyze(archcalc.load(EXAMPLES / f"{name}.yaml"))
    assert_consistent(a, model)
    assert (a.totals.params, a.totals.trainable_params, a.totals.buffers, a.totals.macs) == (
        spec.totals.params,
        spec.totals.trainable_params,
        spec.totals.buffers,
        spec.totals.macs,
    )
    assert a.totals.uncounted == ()
    assert a.output_shape == (1000,)


@pytest.fixture(scope="module")
def resnet18() -> tuple[nn.Module, Analysis]:
    model = on_meta("resnet18")
    return model, summarize(model, (3, 224, 224))


def test_resnet18_rows_match_the_spec_row_by_row(resnet18: tuple[nn.Module, Analysis]) -> None:
    # torchvision adds `identity` functionally and runs each block's relu twice;
    # the rows still line up one to one with the spec's, receptive fields included.
    _, a = resnet18
    spec = archcalc.analyze(archcalc.load(EXAMPLES / "resnet18.yaml"))
    assert len(a.rows) == len(spec.rows) == 60
    for mine, theirs in zip(a.rows, spec.rows, strict=True):
        assert (mine.kind, mine.params, mine.macs, mine.receptive_field) == (
            theirs.kind if theirs.kind != "global_avg_pool" else "adaptive_avg_pool2d",
            theirs.params,
            theirs.macs,
            theirs.receptive_field,
        ), mine.path
        if theirs.kind != "global_avg_pool":  # torch keeps 512×1×1 where the spec flattens
            assert mine.output_shape == theirs.output_shape, mine.path
    conv1 = a.rows[0]
    assert conv1.operation == "Conv2d(3, 64, 7, stride=2, pad=3, bias=False)"


def test_resnet18_relu_called_twice_counts_once(resnet18: tuple[nn.Module, Analysis]) -> None:
    _, a = resnet18
    relus = [r for r in a.rows if r.path == "layer1.0.relu"]
    assert len(relus) == 2
    assert relus[1].note == "call 2 of 2"
    assert all(r.calls == 2 for r in relus)


def test_resnet18_folds_by_module_depth(resnet18: tuple[nn.Module, Analysis]) -> None:
    model, a = resnet18
    top = a.rows_at_depth(1)
    assert [r.path for r in top] == [
        "conv1",
        "bn1",
        "relu",
        "maxpool",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "avgpool",
        "fc",
    ]
    layer4 = top[7]
    assert layer4.params == sum(p.numel() for p in model.get_submodule("layer4").parameters())
    assert layer4.output_shape == (512, 7, 7)
    assert sum(r.params for r in top) == a.totals.params
    assert sum(r.macs or 0 for r in top) == a.totals.macs


def test_modules_never_called_are_counted_and_named() -> None:
    # googlenet's auxiliary heads only run while training.
    model = on_meta("googlenet", aux_logits=True, init_weights=False)
    a = summarize(model, (3, 224, 224))
    assert_consistent(a, model)
    aux = [r for r in a.rows if r.path.startswith("aux")]
    assert sum(r.params for r in aux) == sum(
        p.numel() for m in ("aux1", "aux2") for p in model.get_submodule(m).parameters()
    )
    assert all(r.macs == 0 and r.note and "not called by forward" in r.note for r in aux)
    assert any("8 module(s) not called by forward" in n for n in a.notes)


# -- sharing: tied weights, repeated calls, one module under two names ---------


class TiedLM(nn.Module):
    """An embedding and an output head sharing one 50×16 matrix."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.mix = nn.Linear(16, 16)
        self.head = nn.Linear(16, 50, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mix(self.embed(x)))


def test_tied_weights_count_once() -> None:
    model = TiedLM()
    naive = sum(p.numel() for m in model.modules() for p in m.parameters(recurse=False))
    a = summarize(model, (7,), dtype=torch.long)
    assert_consistent(a, model)
    assert (naive, a.totals.params) == (800 + 272 + 800, 800 + 272)
    rows = {r.path: r for r in a.rows}
    assert [r.path for r in a.rows] == ["embed", "mix", "head"]
    assert (rows["embed"].params, rows["mix"].params, rows["head"].params) == (800, 272, 0)
    assert rows["head"].note == "shares weight with embed (counted there)"
    # the head still does its work: 7 tokens × 16 × 50
    assert (rows["mix"].macs, rows["head"].macs) == (7 * 16 * 16, 7 * 16 * 50)
    assert rows["head"].output_shape == (7, 50)


class Twice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.act(self.fc(x)))


def test_layer_called_twice_gives_two_rows_and_weights_once() -> None:
    model = Twice()
    a = summarize(model, (8,))
    assert_consistent(a, model)
    assert [(r.path, r.params, r.macs) for r in a.rows] == [
        ("fc", 8 * 8 + 8, 64),
        ("act", 0, 0),
        ("fc", 0, 64),
    ]
    assert a.rows[2].note == "call 2 of 2; weights shared with fc (first call)"
    assert a.totals.params == 72 and a.totals.macs == 128


def test_one_module_under_two_names_counts_once() -> None:
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    a = summarize(model, (4,))
    assert_consistent(a, model)
    assert [(r.path, r.params) for r in a.rows] == [("0", 20), ("1", 0), ("0", 0)]
    assert a.totals.params == 20


# -- parameters held by containers -------------------------------------------


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.scale = nn.Parameter(torch.ones(1))
        self.register_buffer("offset", torch.zeros(4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * self.scale + self.offset


class WithPos(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(1, 4, 8, 8))
        self.block = Block()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 8 * 8, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(x + self.pos))


def test_parameters_on_containers_get_their_own_rows() -> None:
    model = WithPos()
    a = summarize(model, (4, 8, 8))
    assert_consistent(a, model)
    assert [(r.path, r.kind, r.params, r.buffers) for r in a.rows] == [
        ("WithPos (own parameters)", "parameters", 4 * 8 * 8, 0),
        ("block (own parameters)", "parameters", 1, 4),
        ("block.conv", "conv2d", 4 * 4 * 9 + 4, 0),
        ("head.0", "flatten", 0, 0),
        ("head.1", "linear", 256 * 3 + 3, 0),
    ]
    assert a.rows[0].operation == "pos 1×4×8×8"
    assert a.rows[1].operation == "scale 1, offset 4×1×1"
    assert a.totals.params == 256 + 1 + 148 + 771
    # `x + pos`, `* scale` and `+ offset` are elementwise: the field goes straight through
    rf = {r.path: r.receptive_field for r in a.rows}
    assert rf["block.conv"] is not None and rf["block.conv"].size == (3, 3)
    assert rf["head.1"] is not None and rf["head.1"].whole


class Functional(nn.Module):
    """Pooling, a convolution and global pooling written as functions in forward."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.w = nn.Parameter(torch.zeros(2, 2, 3, 3))
        self.head = nn.Conv2d(2, 2, 1)
        self.fc = nn.Linear(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.max_pool2d(self.conv(x), 2)
        x = self.head(nn.functional.conv2d(x, self.w, padding=1))
        return self.fc(x.mean((2, 3)))


def test_functional_conv_and_pooling_are_followed_and_costed() -> None:
    model = Functional()
    a = summarize(model, (1, 10, 10))
    assert_consistent(a, model)
    rows = {r.path: r for r in a.rows}
    assert list(rows) == ["Functional (own parameters)", "conv", "head", "fc"]
    own = rows["Functional (own parameters)"]
    assert (own.params, own.macs, own.output_shape) == (36, 2 * 4 * 4 * 2 * 9, (2, 4, 4))
    assert own.receptive_field is None  # a container's own row is not a layer in the chain
    assert a.totals.macs == 2 * 8 * 8 * 9 + 576 + 2 * 4 * 4 * 2 + 2 * 3
    # conv 3 → max_pool2d(2) 4, jump 2 → conv2d(3, pad 1) 4 + 2·2 = 8 → 1×1 head keeps 8
    head = rows["head"].receptive_field
    assert head is not None and (head.size, head.jump, head.start) == ((8, 8), (2, 2), (1.5, 1.5))
    fc = rows["fc"].receptive_field
    assert fc is not None and fc.whole and fc.size == (10, 10)


# -- what archcalc cannot cost or follow -------------------------------------


class Spectral(nn.Module):
    """No cost rule for an FFT: neither archcalc nor torch's counter has one."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fft.fft2(x).real


class Swish(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class Project(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(5, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.w


class Mixer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.swish = Swish()
        self.spectral = Spectral()
        self.fc = nn.Linear(4 * 6 * 6, 5)
        self.project = Project()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.spectral(self.swish(self.conv(x)))
        x = torch.fft.ifft2(x).real  # functional work in the parent's forward
        return self.project(self.fc(torch.flatten(x, 1)))


def test_operations_without_a_cost_rule_are_uncounted_and_listed() -> None:
    model = Mixer()
    a = summarize(model, (2, 6, 6))
    assert_consistent(a, model)
    rows = {r.path: r for r in a.rows}
    assert list(rows) == ["conv", "swish", "spectral", "Mixer (own operations)", "fc", "project"]
    assert rows["conv"].macs == 4 * 6 * 6 * 2 * 9
    assert rows["swish"].macs == 0  # elementwise: no MACs by definition
    assert rows["project"].macs == 5 * 2  # an unknown class, but torch's matmul formula
    assert rows["spectral"].macs is None
    assert rows["Mixer (own operations)"].macs is None
    assert rows["Mixer (own operations)"].kind == "functional"
    assert a.totals.uncounted == ("spectral", "Mixer (own operations)")
    assert a.totals.macs == 4 * 6 * 6 * 2 * 9 + 144 * 5 + 10
    note = next(n for n in a.notes if n.startswith("MACs uncounted"))
    assert "2 of 6 rows" in note and "spectral, Mixer (own operations)" in note
    assert "the total MACs exclude them" in note
    assert rows["spectral"].note is not None
    assert "MACs uncounted: no cost rule for _fft_c2c" in rows["spectral"].note


def test_receptive_field_stops_where_it_cannot_be_followed() -> None:
    a = summarize(Mixer(), (2, 6, 6))
    rows = {r.path: r for r in a.rows}
    # through a known conv and an opaque but elementwise module, the field is known …
    assert rows["conv"].receptive_field is not None
    assert rows["swish"].receptive_field == rows["conv"].receptive_field
    # … an FFT mixes every position: archcalc says so and does not guess from there on
    assert rows["spectral"].receptive_field is None
    assert rows["spectral"].note is not None
    assert (
        "receptive field unknown: aten._fft_c2c in opaque module Spectral is not followed"
        in rows["spectral"].note
    )
    assert all(rows[p].receptive_field is None for p in ("fc", "project"))
    assert any(n.startswith("spectral: receptive field unknown") for n in a.notes)


def test_opaque_module_without_a_traced_output_is_named() -> None:
    class Noise(nn.Module):  # its output does not come from its input at all
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.zeros(x.shape, device=x.device)

    a = summarize(nn.Sequential(nn.Conv2d(1, 1, 3), Noise(), nn.Conv2d(1, 1, 3)), (1, 9, 9))
    assert a.rows[1].note == "receptive field unknown: opaque module Noise"
    assert [r.receptive_field is None for r in a.rows] == [False, True, True]


# -- the module is left exactly as found ---------------------------------------


def small_net() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.BatchNorm2d(4),
        nn.Dropout(0.5),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, 2),
    )


def snapshot(model: nn.Module) -> dict[str, Any]:
    return {
        "modes": [m.training for m in model.modules()],
        "grads": [p.requires_grad for p in model.parameters()],
        "devices": {t.device for t in [*model.parameters(), *model.buffers()]},
        "state": {k: v.clone() for k, v in model.state_dict().items()},
        "hooks": [len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()],
        "rng": torch.get_rng_state(),
    }


def assert_unchanged(before: dict[str, Any], model: nn.Module) -> None:
    after = snapshot(model)
    for key in ("modes", "grads", "devices", "hooks"):
        assert after[key] == before[key], key
    assert after["state"].keys() == before["state"].keys()
    assert all(torch.equal(after["state"][k], v) for k, v in before["state"].items())
    assert torch.equal(after["rng"], before["rng"])
    assert torch.is_grad_enabled()


def test_mode_grads_device_and_buffers_left_as_found() -> None:
    model = small_net().train()
    model[2].eval()  # a mixed mode must come back mixed
    model[0].weight.requires_grad_(False)
    before = snapshot(model)
    a = summarize(model, (1, 8, 8))
    assert_unchanged(before, model)
    assert_consistent(a, model)
    assert a.totals.trainable_params == a.totals.params - 36
    assert a.rows[0].trainable_params == 4 and a.rows[0].params == 40


def test_a_failing_forward_is_one_line_and_leaves_the_module_as_found() -> None:
    model = small_net().train()
    before = snapshot(model)
    with pytest.raises(
        archcalc.ArchcalcError,
        match=r"forward on an input of 3×8×8 fails in 0 "
        r"\(Conv2d\): RuntimeError: .*channels",
    ) as err:
        summarize(model, (3, 8, 8))
    assert "\n" not in str(err.value)
    assert_unchanged(before, model)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_the_modules_own_gpu() -> None:
    model = small_net().cuda()
    before = snapshot(model)
    a = summarize(model, (1, 8, 8))
    assert_unchanged(before, model)
    assert a.totals == summarize(small_net(), (1, 8, 8)).totals


@pytest.mark.parametrize("shape", [(), (3, 0, 8), (3, -1), (2.5,)])
def test_bad_input_shapes_are_user_errors(shape: tuple[Any, ...]) -> None:
    with pytest.raises(archcalc.ArchcalcError, match="input shape expects positive sizes"):
        summarize(small_net(), shape)


# -- `--module pkg.mod:attr` targets ----------------------------------------------


def test_target_with_keyword_arguments() -> None:
    a = summarize_target("torchvision.models:resnet18(num_classes=10)", (3, 32, 32))
    assert a.name == "torchvision.models:resnet18(num_classes=10)"
    assert a.rows[-1].params == 512 * 10 + 10
    assert a.output_shape == (10,)


def test_target_that_is_a_class_and_a_leaf() -> None:
    a = summarize_target("torch.nn:Identity", (3, 4, 4))
    assert [(r.path, r.kind, r.output_shape) for r in a.rows] == [
        ("Identity", "identity", (3, 4, 4))
    ]
    assert a.totals.params == 0


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nosuchmod:x", "cannot import `nosuchmod`: ModuleNotFoundError"),
        ("torchvision.models", "--module expects PKG.MOD:NAME, but gets 'torchvision.models'"),
        ("torchvision.models:resnet81", "has no attribute `resnet81` — did you mean `resnet18`?"),
        ("math:pi", "expects an nn.Module, a class or a factory, but gets float"),
        ("torch.nn:Conv2d", "calling `torch.nn:Conv2d` fails: TypeError"),
        ("torchvision.models:resnet18(weights='DEFAULT')", "archcalc never downloads weights"),
        ("torchvision.models:resnet18(n=__import__('os'))", "values must be literals"),
        ("torchvision.models:resnet18(3)", "values must be literals"),
    ],
)
def test_bad_targets_are_one_line_errors(target: str, message: str) -> None:
    with pytest.raises(archcalc.ArchcalcError) as err:
        summarize_target(target, (3, 32, 32))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_archcalc_exposes_summarize_lazily() -> None:
    assert archcalc.summarize is summarize


class _CachesOnItself(nn.Module):
    """Keeps a tensor made in its forward on itself, as torchvision's AnchorGenerator keeps
    its cell anchors, then reads values (a data-dependent op): meta fails after the cache."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.cache: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if not self.cache:
            self.cache = [torch.ones(4, device=y.device)]
            self.seen = y.shape[-1]
        return y[y > 0] if y.numel() else y


def test_a_module_caching_tensors_is_left_as_it_was() -> None:
    model = _CachesOnItself()
    analysis = summarize(model, (3, 8, 8))
    assert analysis.totals.params == sum(p.numel() for p in model.parameters())
    assert any("real forward" in n for n in analysis.notes)
    # what the summary's passes cached is gone: the meta tensor would break the module
    assert model.cache == [] and not hasattr(model, "seen")
    model(torch.randn(1, 3, 8, 8))  # and the module still runs as the user's own


def test_a_detection_model_summarises_with_its_memory() -> None:
    """torchvision's detectors: weights and backbone weights never downloaded, the meta pass
    falls back to a real one (their anchors and boxes read values), and the memory passes
    take a graph with constants and tensors of several ranks."""
    model = summarize_target(
        "torchvision.models.detection:fasterrcnn_mobilenet_v3_large_320_fpn", (3, 128, 128)
    )
    assert model.totals.params == 19_410_754  # torchvision's own count of this model
    assert any("real forward" in n for n in model.notes)
    from archcalc.analysis.footprint import footprint

    fp = footprint(model, batch=2)
    assert fp.training_peak >= fp.params + fp.gradients + fp.optimizer_state > 0
