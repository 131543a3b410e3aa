"""examples/m5.yaml against M5 written in plain torch, the way an audio tutorial writes it.

The reference below is an ``nn.Module`` with its own ``forward``: functional ReLUs and a
global average pool spelt ``F.avg_pool1d(x, x.shape[-1])``, so nothing in it comes from
archcalc. The spec must match it in parameters, buffers, MACs (FlopCounterMode's count),
every module's output shape, and logits once the reference's weights are loaded by position.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import archcalc
from tests.bridge.test_equivalence import randomise_batchnorm
from tests.helpers import EXAMPLES

SPEC = EXAMPLES / "m5.yaml"
N_CLASSES = 35
# The reference's module types as the spec's kinds, for pairing output shapes in order.
KINDS = {
    nn.Conv1d: "conv1d",
    nn.BatchNorm1d: "batchnorm1d",
    nn.MaxPool1d: "maxpool1d",
    nn.Linear: "linear",
}


class M5(nn.Module):
    """Dai et al. 2017's M5: an 80-wide stride-4 filter bank, then three 3-wide convolutions."""

    def __init__(self, n_input: int = 1, n_output: int = N_CLASSES) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(n_input, 128, kernel_size=80, stride=4)
        self.bn1 = nn.BatchNorm1d(128)
        self.pool1 = nn.MaxPool1d(4)
        self.conv2 = nn.Conv1d(128, 128, kernel_size=3)
        self.bn2 = nn.BatchNorm1d(128)
        self.pool2 = nn.MaxPool1d(4)
        self.conv3 = nn.Conv1d(128, 256, kernel_size=3)
        self.bn3 = nn.BatchNorm1d(256)
        self.pool3 = nn.MaxPool1d(4)
        self.conv4 = nn.Conv1d(256, 512, kernel_size=3)
        self.bn4 = nn.BatchNorm1d(512)
        self.pool4 = nn.MaxPool1d(4)
        self.fc1 = nn.Linear(512, n_output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(F.relu(self.bn1(self.conv1(x))))
        x = self.pool2(F.relu(self.bn2(self.conv2(x))))
        x = self.pool3(F.relu(self.bn3(self.conv3(x))))
        x = self.pool4(F.relu(self.bn4(self.conv4(x))))
        x = F.avg_pool1d(x, x.shape[-1]).squeeze(-1)
        return self.fc1(x)


class Run:
    """The reference built, given non-trivial batch norms, and run once on one input."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.model = M5().eval()
        randomise_batchnorm(self.model)
        self.shapes: list[tuple[str, tuple[int, ...]]] = []
        handles = [
            module.register_forward_hook(
                lambda m, _i, out: self.shapes.append((KINDS[type(m)], tuple(out.shape[1:])))
            )
            for module in self.model.modules()
            if type(module) in KINDS
        ]
        shape = archcalc.load(SPEC).input_shape
        self.x = torch.randn(1, *shape, generator=torch.Generator().manual_seed(1))
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            self.logits = self.model(self.x)
        for handle in handles:
            handle.remove()
        self.macs = counter.get_total_flops() // 2  # a multiply-add is two FLOPs


@pytest.fixture(scope="module")
def run() -> Run:
    return Run()


@pytest.fixture(scope="module")
def analysis() -> archcalc.Analysis:
    return archcalc.analyze(archcalc.load(SPEC))


def test_params_buffers_and_macs_are_the_plain_model_s(
    run: Run, analysis: archcalc.Analysis
) -> None:
    assert analysis.totals.params == sum(p.numel() for p in run.model.parameters())
    assert analysis.totals.buffers == sum(b.numel() for b in run.model.buffers())
    assert analysis.totals.macs == run.macs


def test_every_layer_has_the_plain_model_s_output_shape(
    run: Run, analysis: archcalc.Analysis
) -> None:
    kinds = set(KINDS.values())
    ours = [(r.kind, r.output_shape) for r in analysis.rows if r.kind in kinds]
    assert len(ours) == len(run.shapes) == 13
    assert ours == run.shapes
    # The functional parts the hooks cannot see: the pooled features and the logits.
    assert analysis.rows[-1].output_shape == tuple(run.logits.shape[1:]) == (N_CLASSES,)


def test_the_plain_model_s_weights_give_its_logits(run: Run) -> None:
    built = archcalc.build(archcalc.load(SPEC)).eval()
    ours, theirs = built.state_dict(), run.model.state_dict()
    assert len(ours) == len(theirs)
    renamed = {}
    for (key, mine), (their_key, tensor) in zip(ours.items(), theirs.items(), strict=True):
        assert key.rsplit(".", 1)[-1] == their_key.rsplit(".", 1)[-1], (key, their_key)
        assert mine.shape == tensor.shape, (key, their_key)
        renamed[key] = tensor
    built.load_state_dict(renamed, strict=True)
    with torch.no_grad():
        got = built(run.x)
    assert run.logits.std() > 1e-3  # logits that differ from class to class: a real check
    torch.testing.assert_close(got, run.logits, rtol=0, atol=1e-5)
