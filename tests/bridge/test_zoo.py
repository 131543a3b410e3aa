"""The modern zoo against the real torchvision models: parameters, buffers, MACs, every conv /
linear / batch-norm output shape, and the same logits once torchvision's weights are loaded.

Nothing is downloaded (``weights=None``). archcalc's paths cannot spell torchvision's dotted keys
(``layer1.0.conv1`` has dots inside one name), and no mapping ships for these models, so the test
translates keys by position: both state_dicts list their tensors in execution order, and every
pair must agree in shape and in the last part of the key (``weight``, ``running_mean``, …) before
``load_state_dict(strict=True)`` takes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import archcalc
from tests.bridge.test_equivalence import randomise_batchnorm
from tests.helpers import EXAMPLES

ZOO = ["resnet50", "densenet121", "squeezenet1_0", "mobilenet_v2", "efficientnet_b0"]
# The leaves compared shape by shape: the kinds that hold weights, in execution order.
LEAF_TYPES = {nn.Conv2d: "conv2d", nn.Linear: "linear", nn.BatchNorm2d: "batchnorm2d"}


class Run(NamedTuple):
    """One torchvision model run once on one input, with what the test needs from that run."""

    model: nn.Module
    x: torch.Tensor
    logits: torch.Tensor
    macs: int
    leaves: list[tuple[str, tuple[int, ...]]]  # (archcalc kind, output shape without the batch)


@pytest.fixture(scope="module", params=ZOO)
def real(request: pytest.FixtureRequest) -> Iterator[tuple[str, Run]]:
    """Each torchvision model built and run once for all the checks on it."""
    name: str = request.param
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    randomise_batchnorm(model)
    leaves: list[tuple[str, tuple[int, ...]]] = []
    handles = [
        module.register_forward_hook(
            lambda m, _i, out, kind=kind: leaves.append((kind, tuple(out.shape[1:])))
        )
        for module in model.modules()
        for cls, kind in LEAF_TYPES.items()
        if type(module) is cls
    ]
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        logits = model(x)
    for handle in handles:
        handle.remove()
    macs = counter.get_total_flops() // 2  # a multiply-add is two FLOPs
    yield name, Run(model, x, logits, macs, leaves)


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


def _by_position(
    ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """torchvision's tensors under archcalc's keys, paired in order; each pair must agree."""
    assert len(ours) == len(theirs)
    renamed = {}
    for (key, mine), (their_key, tensor) in zip(ours.items(), theirs.items(), strict=True):
        assert key.rsplit(".", 1)[-1] == their_key.rsplit(".", 1)[-1], (key, their_key)
        assert mine.shape == tensor.shape, (key, their_key)
        renamed[key] = tensor
    return renamed


def test_torchvision_s_weights_give_torchvision_s_logits(real: tuple[str, Run]) -> None:
    name, run = real
    model = archcalc.build(archcalc.load(EXAMPLES / f"{name}.yaml")).eval()
    model.load_state_dict(_by_position(model.state_dict(), run.model.state_dict()), strict=True)
    with torch.no_grad():
        got = model(run.x)
    assert got.shape == (1, 1000)
    assert run.logits.std() > 1e-3  # logits that differ from class to class: a real check
    torch.testing.assert_close(got, run.logits, rtol=0, atol=1e-5)
