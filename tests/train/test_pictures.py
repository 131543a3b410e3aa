"""The three pictures: valid PNGs of the expected layout, drawn without side effects."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

import archcalc
from archcalc.train import pictures
from archcalc.train.loop import EpochMetrics
from tests.train.conftest import SEED_SPEC


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def test_curves_draws_loss_and_accuracy(tmp_path: Path) -> None:
    history = [
        EpochMetrics(e, 1.0 / e, 0.9 + e / 100, 0.95 + e / 100, 10.0, 1e4) for e in (1, 2, 3)
    ]
    pictures.curves(history, tmp_path / "curves.png", title="mnist-cnn")
    assert png_size(tmp_path / "curves.png") == (900, 360)  # 9×3.6 inches at 100 dpi


@pytest.mark.parametrize(
    ("conv", "size"),
    [
        # 16 filters of 1×3×3: 4×4 tiles, each enlarged 16× to 48 px, 2 px between and around.
        (nn.Conv2d(1, 16, 3), (4 * (48 + 2) + 2, 4 * (48 + 2) + 2)),
        # 8 colour filters of 5×5: enlarged 10× to 50 px; ceil(sqrt(8)) = 3 per row, 3 rows.
        (nn.Conv2d(3, 8, 5), (3 * (50 + 2) + 2, 3 * (50 + 2) + 2)),
        # 4 filters over 6 channels: one row per filter, one 3×3 tile per input channel.
        (nn.Conv2d(6, 4, 3), (6 * (48 + 2) + 2, 4 * (48 + 2) + 2)),
    ],
    ids=["grey", "colour", "many-channels"],
)
def test_filters_grid_layout(tmp_path: Path, conv: nn.Conv2d, size: tuple[int, int]) -> None:
    pictures.filters(conv, tmp_path / "filters.png")
    assert png_size(tmp_path / "filters.png") == size


def test_feature_maps_traces_every_conv_and_pool_layer(tmp_path: Path) -> None:
    spec = archcalc.load(SEED_SPEC)
    model = archcalc.build(spec)
    model.train()
    rows = [r for r in archcalc.analyze(spec).rows if r.kind in ("conv2d", "maxpool2d")]
    layers = [(r.path, model.get_submodule(r.path)) for r in rows]
    image = torch.randn(1, 28, 28)
    drawn = pictures.feature_maps(model, image, layers, tmp_path / "maps.png", title="a 7")
    assert drawn == [
        "input 1×28×28",
        "conv1 16×28×28",
        "pool1 16×14×14",
        "conv2 32×14×14",
        "pool2 32×7×7",
    ]
    assert png_size(tmp_path / "maps.png")[0] == 1000
    assert model.training  # restored
    assert all(not m._forward_hooks for _, m in layers)  # hooks removed
    assert [name for name, _ in pictures.conv_and_pool_layers(model)] == [n for n, _ in layers]


def test_first_image_of_a_label() -> None:
    assert pictures.first_image_of(torch.tensor([3, 7, 7]), 7) == 1
    assert pictures.first_image_of(torch.tensor([3, 1]), 7) == 0
