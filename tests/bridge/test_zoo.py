"""The modern zoo against the real torchvision models: parameters, buffers, MACs, every conv /
linear / batch-norm output shape, every batch norm's eps and momentum, and the same logits once
torchvision's weights are loaded. Each model runs on an input of its spec's own size.

Nothing is downloaded (``weights=None``). The weights go in through the shipped mappings
(``archcalc/bridge/mappings/<name>.json``, written by ``benchmarks/make_mapping.py``), which
rename every torchvision key to the built spec's and load strictly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import archcalc
from archcalc.bridge.mapping import load_torchvision_weights
from tests.bridge.test_equivalence import randomise_batchnorm
from tests.helpers import EXAMPLES

# Each model with the arguments its spec follows; the input size is the spec's own `input`.
ZOO: dict[str, dict[str, Any]] = {
    "resnet50": {},
    "densenet121": {},
    "squeezenet1_0": {},
    "mobilenet_v2": {},
    "efficientnet_b0": {},
    "mobilenet_v3_large": {},
    "regnet_y_400mf": {},
    # Without the auxiliary head, which only runs in training (and has no place in a spec's
    # single path); init_weights=True says what torchvision would default to with a warning.
    "inception_v3": {"aux_logits": False, "init_weights": True},
    # A video network (torchvision.models.video): a 3×16×112×112 clip, one forward of a few
    # seconds on two cores, shared by every check below as the 2-D models' forward is.
    "r3d_18": {},
    "shufflenet_v2_x1_0": {},
    "convnext_tiny": {},
}
# The leaves compared shape by shape: the kinds that hold weights, in execution order.
LEAF_TYPES = {
    nn.Conv2d: "conv2d",
    nn.Conv3d: "conv3d",
    nn.Linear: "linear",
    nn.BatchNorm2d: "batchnorm2d",
    nn.BatchNorm3d: "batchnorm3d",
}


class Run(NamedTuple):
    """One torchvision model run once on one input, with what the test needs from that run."""

    model: nn.Module
    x: torch.Tensor
    logits: torch.Tensor
    macs: int
    leaves: list[tuple[str, tuple[int, ...]]]  # (archcalc kind, output shape without the batch)


@pytest.fixture(scope="module", params=list(ZOO))
def real(request: pytest.FixtureRequest) -> Iterator[tuple[str, Run]]:
    """Each torchvision model built and run once for all the checks on it."""
    name: str = request.param
    torch.manual_seed(0)
    # torchvision's registry finds a builder in any of its namespaces (r3d_18 is in .video).
    model = torchvision.models.get_model(name, weights=None, **ZOO[name]).eval()
    # inception_v3 rescales its input channels first when this is on; a spec has no such step.
    assert not getattr(model, "transform_input", False)
    randomise_batchnorm(model)
    _randomise_layer_norms_and_scales(model)
    leaves: list[tuple[str, tuple[int, ...]]] = []
    handles = [
        module.register_forward_hook(
            lambda m, _i, out, kind=kind: leaves.append(_as_written(kind, out))
        )
        for module in model.modules()
        for cls, kind in LEAF_TYPES.items()
        # r3d_18's Conv3DSimple is a Conv3d under another name: the layer a spec writes.
        if isinstance(module, cls)
    ]
    shape = archcalc.load(EXAMPLES / f"{name}.yaml").input_shape
    x = torch.randn(1, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        logits = model(x)
    for handle in handles:
        handle.remove()
    macs = counter.get_total_flops() // 2  # a multiply-add is two FLOPs
    yield name, Run(model, x, logits, macs, leaves)


def _randomise_layer_norms_and_scales(model: nn.Module) -> None:
    """Fresh layer norms are the identity, and ConvNeXt's scales of 1e-6 leave its blocks all
    but unseen in the logits: values under which a swap or a wrong block would show."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.LayerNorm) and module.weight is not None:
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
        for name, p in model.named_parameters():
            if name.endswith("layer_scale"):
                p.uniform_(0.5, 1.5)


def _as_written(kind: str, out: torch.Tensor) -> tuple[str, tuple[int, ...]]:
    """A leaf's kind and output shape as its spec writes it. ConvNeXt's pointwise layers are
    nn.Linear on channels-last maps (N, H, W, C): the spec's 1×1 convs, whose output is C×H×W."""
    if kind == "linear" and out.dim() == 4:
        return "conv2d", (out.shape[3], out.shape[1], out.shape[2])
    return kind, tuple(out.shape[1:])


def _analysis(name: str) -> archcalc.Analysis:
    return archcalc.analyze(archcalc.load(EXAMPLES / f"{name}.yaml"))


def test_params_buffers_and_macs_are_torchvision_s(real: tuple[str, Run]) -> None:
    name, run = real
    totals = _analysis(name).totals
    assert totals.params == sum(p.numel() for p in run.model.parameters())
    assert totals.buffers == sum(b.numel() for b in run.model.buffers())
    assert totals.macs == run.macs


def test_every_weight_layer_has_torchvision_s_output_shape(real: tuple[str, Run]) -> None:
    name, run = real
    kinds = set(LEAF_TYPES.values())
    ours = [(r.kind, r.output_shape) for r in _analysis(name).rows if r.kind in kinds]
    assert len(ours) == len(run.leaves)
    assert ours == run.leaves


@pytest.fixture(scope="module")
def built(real: tuple[str, Run]) -> nn.Module:
    """archcalc's module for the same spec, built once per model."""
    name, _ = real
    return archcalc.build(archcalc.load(EXAMPLES / f"{name}.yaml")).eval()


def _norm_settings(model: nn.Module) -> list[tuple[float, float | None]]:
    # Layer norms too (ConvNeXt's eps is 1e-6), which have no momentum.
    norms = (nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm)
    return [(m.eps, getattr(m, "momentum", None)) for m in model.modules() if isinstance(m, norms)]


def test_every_batch_norm_has_torchvision_s_eps_and_momentum(
    real: tuple[str, Run], built: nn.Module
) -> None:
    # eps changes eval-mode outputs (1e-3 against 1e-5 shows in the logits below); momentum
    # changes only training, which no other check here would see.
    _, run = real
    assert _norm_settings(built) == _norm_settings(run.model)


def test_torchvision_s_weights_give_torchvision_s_logits(
    real: tuple[str, Run], built: nn.Module
) -> None:
    name, run = real
    load_torchvision_weights(built, name, run.model)  # the shipped mapping, strict
    with torch.no_grad():
        got = built(run.x)
    assert got.shape == run.logits.shape
    assert run.logits.std() > 1e-3  # logits that differ from class to class: a real check
    torch.testing.assert_close(got, run.logits, rtol=0, atol=1e-5)
