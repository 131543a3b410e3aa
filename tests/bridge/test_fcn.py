"""examples/fcn_resnet50.yaml against torchvision.models.segmentation.fcn_resnet50 (no weights
downloaded): parameters, buffers, MACs (FlopCounterMode), every conv / batch-norm output shape,
and the same ``model(x)["out"]`` once torchvision's weights are loaded through the shipped mapping.

Its own test rather than a row of test_zoo's ZOO: the model returns a dict of 21×H×W maps,
not a vector of 1,000 logits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.segmentation import fcn_resnet50

import archcalc
from archcalc.bridge.mapping import load_torchvision_weights
from tests.bridge.test_equivalence import randomise_batchnorm
from tests.helpers import EXAMPLES

SPEC = EXAMPLES / "fcn_resnet50.yaml"
LEAVES = {nn.Conv2d: "conv2d", nn.BatchNorm2d: "batchnorm2d"}


class Run(NamedTuple):
    model: nn.Module
    x: torch.Tensor
    out: torch.Tensor
    macs: int
    leaves: list[tuple[str, tuple[int, ...]]]


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    torch.manual_seed(0)
    model = fcn_resnet50(weights=None, weights_backbone=None, aux_loss=False).eval()
    randomise_batchnorm(model)
    leaves: list[tuple[str, tuple[int, ...]]] = []
    handles = [
        m.register_forward_hook(
            lambda _m, _i, out, kind=kind: leaves.append((kind, tuple(out.shape[1:])))
        )
        for m in model.modules()
        for cls, kind in LEAVES.items()
        if type(m) is cls
    ]
    x = torch.randn(1, *archcalc.load(SPEC).input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(x)["out"]
    for handle in handles:
        handle.remove()
    yield Run(model, x, out, counter.get_total_flops() // 2, leaves)


def test_params_buffers_and_macs_are_torchvision_s(run: Run) -> None:
    a = archcalc.analyze(archcalc.load(SPEC))
    assert a.totals.params == sum(p.numel() for p in run.model.parameters())
    assert a.totals.buffers == sum(b.numel() for b in run.model.buffers())
    assert a.totals.macs == run.macs
    assert a.output_shape == tuple(run.out.shape[1:]) == (21, 224, 224)


def test_every_conv_and_batch_norm_has_torchvision_s_output_shape(run: Run) -> None:
    a = archcalc.analyze(archcalc.load(SPEC))
    ours = [(r.kind, r.output_shape) for r in a.rows if r.kind in LEAVES.values()]
    assert ours == run.leaves
    # The dilated stages keep 1/8 of the input: layer4's last conv is still 28×28.
    assert ("conv2d", (2048, 28, 28)) in ours


def test_torchvision_s_weights_give_torchvision_s_segmentation(run: Run) -> None:
    built = archcalc.build(archcalc.load(SPEC)).eval()
    load_torchvision_weights(built, "fcn_resnet50", run.model)  # the shipped mapping, strict
    assert [(m.eps, m.momentum) for m in built.modules() if isinstance(m, nn.BatchNorm2d)] == [
        (m.eps, m.momentum) for m in run.model.modules() if isinstance(m, nn.BatchNorm2d)
    ]
    with torch.no_grad():
        got = built(run.x)
    assert run.out.std() > 1e-3
    torch.testing.assert_close(got, run.out, rtol=0, atol=1e-5)
