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

import archcalc
from archcalc.analysis import Analysis
from archcalc.bridge.summarize import summarize
from tests.helpers import EXAMPLES


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


class _ChannelsLast(nn.Module):
    """A convnext block's middle: to channels last, per-position layers, and back."""

    def __init__(self, mixes: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2)
        self.norm = nn.LayerNorm((9, 4) if mixes else 4)  # over W and C: positions meet
        self.fc = nn.Linear(4, 8)
        self.act = nn.GELU()
        self.out = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.fc(self.norm(self.conv(x).permute(0, 2, 3, 1))))
        return self.out(y.permute(0, 3, 1, 2))


def test_a_permute_to_channels_last_is_followed_through_per_position_layers() -> None:
    a = summarize(_ChannelsLast(), (3, 19, 19))
    conv = next(r for r in a.rows if r.path == "conv")
    assert conv.receptive_field is not None
    assert all(r.receptive_field == conv.receptive_field for r in a.rows[1:])
    mixed = summarize(_ChannelsLast(mixes=True), (3, 19, 19))
    assert mixed.rows[-1].receptive_field is None
    assert "native_layer_norm" in (mixed.rows[1].note or "")


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("shufflenet_v2_x1_0", torchvision.models),
        ("convnext_tiny", torchvision.models),
        ("r3d_18", torchvision.models.video),
        ("resnet18", torchvision.models),
    ],
)
def test_the_final_field_is_the_example_specs(name: str, family: Any) -> None:
    """The spec writes each layer out; the module has channel shuffles, permutes, views."""
    spec = archcalc.analyze(archcalc.load(EXAMPLES / f"{name}.yaml"))
    with torch.device("meta"):
        model = getattr(family, name)(weights=None)
    a = summarize(model, spec.input_shape)
    assert spec.final is not None and a.final is not None
    assert a.final.field == spec.final.field
