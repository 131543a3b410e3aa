"""summarize runs on meta tensors, falls back to a real forward only where values matter."""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from archcalc.bridge.summarize import summarize


class Gate(nn.Module):
    """Data-dependent control flow: a meta tensor has no value to branch on."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if y.sum() >= 0:  # zeros in, bias out: either branch has the same shape
            return torch.relu(y)
        return y


def test_data_dependent_forward_falls_back_to_a_real_one_and_says_so() -> None:
    a = summarize(Gate(), (1, 8, 8))
    assert sum("summarised with a real forward" in n for n in a.notes) == 1
    assert a.totals.macs == 2 * 6 * 6 * 9
    assert a.totals.params == 20


def test_parameters_are_not_copied_or_touched() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Flatten(), nn.LazyLinear(4))
    model(torch.zeros(1, 3, 8, 8))  # materialise the lazy layer, then watch the tensors
    before = {k: (v.data_ptr(), v.clone()) for k, v in model.state_dict().items()}
    a = summarize(model, (3, 8, 8))
    assert not any("real forward" in n for n in a.notes)
    for k, v in model.state_dict().items():
        assert v.data_ptr() == before[k][0] and torch.equal(v, before[k][1]), k
    assert a.totals.params == sum(p.numel() for p in model.parameters())


def test_vit_attention_is_costed_as_torchvision_says() -> None:
    weights = torchvision.models.ViT_B_16_Weights.IMAGENET1K_V1
    a = summarize(torchvision.models.vit_b_16(), (3, 224, 224))
    assert a.totals.uncounted == ()
    assert round(a.totals.macs / 1e9, 3) == weights.meta["_ops"]
    assert a.totals.params == weights.meta["num_params"]


class _Attend(nn.Module):
    def __init__(self, mha: nn.MultiheadAttention, branch: bool) -> None:
        super().__init__()
        self.mha = mha
        self.branch = branch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.branch and x.sum() != 0:  # needs values: the real forward, on the fused path
            x = x + 1
        return self.mha(x, x, x, need_weights=False)[0]


def test_fused_attention_on_a_real_forward_costs_what_the_unfused_path_does() -> None:
    mha = nn.MultiheadAttention(16, 4, batch_first=True)
    unfused = summarize(_Attend(mha, False), (10, 16))
    fused = summarize(_Attend(mha, True), (10, 16))
    assert any("real forward" in n for n in fused.notes)
    assert not any("real forward" in n for n in unfused.notes)
    assert fused.totals.macs == unfused.totals.macs == 4 * 10 * 16 * 16 + 2 * 10 * 10 * 16
    assert fused.totals.uncounted == ()


class _Spectral(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fft.fft(x @ self.fc.weight).real  # a costed matmul, an uncostable fft


def test_a_row_keeps_its_counted_part_and_names_the_uncounted_op() -> None:
    a = summarize(_Spectral(), (8,))
    row = a.rows[0]
    assert row.macs == 64
    assert row.note is not None and "MACs partly counted: no cost rule for _fft_" in row.note
    assert a.totals.uncounted == ()
    assert any("partly counted" in n for n in a.notes)
