"""Receptive fields through a container's functional glue, checked against the layer forms.

A channel shuffle moves whole channels, so a network's fields are those of
the same network without it; ``F.interpolate`` reads the input as
``nn.Upsample`` does, so a container calling it has the module's fields; a
flatten at any rank makes every unit see the whole input.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from archcalc.analysis import Analysis
from archcalc.bridge.summarize import summarize


def fields(a: Analysis) -> list[Any]:
    return [(r.path, r.receptive_field) for r in a.rows]


def test_a_channel_shuffle_keeps_every_field(monkeypatch: pytest.MonkeyPatch) -> None:
    with torch.device("meta"):
        model = torchvision.models.shufflenet_v2_x0_5()
    shuffled = summarize(model, (3, 224, 224))
    monkeypatch.setattr(torchvision.models.shufflenetv2, "channel_shuffle", lambda x, groups: x)
    plain = summarize(model, (3, 224, 224))
    assert fields(shuffled) == fields(plain)
    assert shuffled.final is not None and plain.final is not None
    assert shuffled.final.field == plain.final.field
    assert all(r.receptive_field is not None for r in shuffled.rows)


class _Interpolating(nn.Module):
    def __init__(self, **how: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2)
        self.how = how
        self.act = nn.ReLU()  # its row shows the field the resize left

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(F.interpolate(self.conv(x), **self.how))


@pytest.mark.parametrize(
    "how",
    [
        {"scale_factor": 2, "mode": "bilinear"},
        {"scale_factor": 3, "mode": "nearest"},
        {"size": (29, 13), "mode": "bilinear"},
        {"size": (29, 13), "mode": "bilinear", "align_corners": True},
        {"scale_factor": 1.5, "mode": "bilinear", "align_corners": False},
        {"size": 20, "mode": "nearest"},
    ],
)
def test_interpolate_reads_as_upsample_does(how: dict[str, Any]) -> None:
    functional = summarize(_Interpolating(**how), (3, 17, 17))
    layers = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.Upsample(**how), nn.ReLU())
    layer = summarize(layers, (3, 17, 17))
    assert functional.output_shape == layer.output_shape
    assert functional.rows[-1].receptive_field == layer.rows[-1].receptive_field
    assert functional.rows[-1].receptive_field is not None


class _Flat3d(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 3)
        self.fc = nn.Linear(4 * 2 * 3 * 4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).view(x.shape[0], -1))


def test_a_flatten_at_any_rank_sees_the_whole_input() -> None:
    a = summarize(_Flat3d(), (3, 4, 5, 6))
    fc = a.rows[-1]
    assert fc.receptive_field is not None and fc.receptive_field.whole
    assert fc.receptive_field.size == (4, 5, 6)


class _Regroup(nn.Module):
    """Moves spatial axes (not followed) or channels only (followed)."""

    def __init__(self, dims: tuple[int, ...]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).permute(*self.dims).contiguous()


def test_a_permute_is_followed_only_where_it_keeps_the_spatial_axes() -> None:
    kept = summarize(nn.Sequential(_Regroup((1, 0, 2, 3)), nn.ReLU()), (3, 9, 9))
    moved = summarize(nn.Sequential(_Regroup((0, 2, 3, 1)), nn.ReLU()), (3, 9, 9))
    assert kept.rows[-1].receptive_field is not None
    assert moved.rows[-1].receptive_field is None
    assert "aten.permute" in (moved.rows[-1].note or "")
