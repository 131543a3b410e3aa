"""examples/unet.yaml and examples/unet_padded.yaml against a plain torch U-Net written here
as people write one (an nn.Module with an explicit forward; the skips cropped by torchvision's
center_crop): parameters, buffers, every convolution's output shape, MACs as
torch.utils.flop_counter counts them, and the same output once the plain model's weights are
loaded into archcalc's module by position (both state_dicts list tensors in execution order).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import pytest
import torch
import torchvision.transforms.functional as tvf
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import archcalc
from tests.bridge.test_equivalence import randomise_batchnorm
from tests.helpers import EXAMPLES


class DoubleConv(nn.Module):
    """Two 3×3 convolutions with ReLU: valid (the paper's), or padded with batch norm."""

    def __init__(self, c_in: int, c_out: int, padded: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for c in (c_in, c_out):
            if padded:
                layers += [nn.Conv2d(c, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out)]
            else:
                layers.append(nn.Conv2d(c, c_out, 3))
            layers.append(nn.ReLU(inplace=True))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class UNet(nn.Module):
    def __init__(self, padded: bool, in_channels: int = 1, classes: int = 2) -> None:
        super().__init__()
        self.padded = padded
        self.enc1 = DoubleConv(in_channels, 64, padded)
        self.enc2 = DoubleConv(64, 128, padded)
        self.enc3 = DoubleConv(128, 256, padded)
        self.enc4 = DoubleConv(256, 512, padded)
        self.pool = nn.MaxPool2d(2)
        self.bottom = DoubleConv(512, 1024, padded)
        self.up4 = nn.ConvTranspose2d(1024, 512, 2, stride=2)
        self.dec4 = DoubleConv(1024, 512, padded)
        self.up3 = nn.ConvTranspose2d(512, 256, 2, stride=2)
        self.dec3 = DoubleConv(512, 256, padded)
        self.up2 = nn.ConvTranspose2d(256, 128, 2, stride=2)
        self.dec2 = DoubleConv(256, 128, padded)
        self.up1 = nn.ConvTranspose2d(128, 64, 2, stride=2)
        self.dec1 = DoubleConv(128, 64, padded)
        self.classifier = nn.Conv2d(64, classes, 1)

    def join(self, skip: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        if not self.padded:
            skip = tvf.center_crop(skip, list(up.shape[-2:]))
        return torch.cat([skip, up], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        e3 = self.enc3(self.pool(e2))
        e4 = self.enc4(self.pool(e3))
        b = self.bottom(self.pool(e4))
        d4 = self.dec4(self.join(e4, self.up4(b)))
        d3 = self.dec3(self.join(e3, self.up3(d4)))
        d2 = self.dec2(self.join(e2, self.up2(d3)))
        d1 = self.dec1(self.join(e1, self.up1(d2)))
        return self.classifier(d1)


CONVS = {nn.Conv2d: "conv2d", nn.ConvTranspose2d: "conv_transpose2d"}


class Run(NamedTuple):
    model: nn.Module
    x: torch.Tensor
    y: torch.Tensor
    macs: int
    convs: list[tuple[str, tuple[int, ...]]]


@pytest.fixture(scope="module", params=["unet", "unet_padded"])
def run(request: pytest.FixtureRequest) -> Iterator[tuple[str, Run]]:
    """The plain U-Net for each example, run once under FlopCounterMode with conv hooks."""
    name: str = request.param
    torch.manual_seed(0)
    model = UNet(padded=name == "unet_padded").eval()
    randomise_batchnorm(model)
    convs: list[tuple[str, tuple[int, ...]]] = []
    handles = [
        m.register_forward_hook(
            lambda _m, _i, out, kind=kind: convs.append((kind, tuple(out.shape[1:])))
        )
        for m in model.modules()
        for cls, kind in CONVS.items()
        if type(m) is cls
    ]
    shape = archcalc.load(EXAMPLES / f"{name}.yaml").input_shape
    x = torch.randn(1, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(x)
    for handle in handles:
        handle.remove()
    yield name, Run(model, x, y, counter.get_total_flops() // 2, convs)


def _analysis(name: str) -> archcalc.Analysis:
    return archcalc.analyze(archcalc.load(EXAMPLES / f"{name}.yaml"))


def test_params_buffers_and_macs_are_torch_s(run: tuple[str, Run]) -> None:
    name, r = run
    totals = _analysis(name).totals
    assert totals.params == sum(p.numel() for p in r.model.parameters())
    assert totals.buffers == sum(b.numel() for b in r.model.buffers())
    assert totals.macs == r.macs


def test_every_convolution_has_torch_s_output_shape(run: tuple[str, Run]) -> None:
    name, r = run
    a = _analysis(name)
    ours = [(row.kind, row.output_shape) for row in a.rows if row.kind in CONVS.values()]
    # The paper's "23 convolutional layers": 18 3×3, 4 up-convolutions and the 1×1.
    assert len(ours) == 23
    assert ours == r.convs
    assert a.output_shape == tuple(r.y.shape[1:])


def test_the_plain_model_s_weights_give_its_output(run: tuple[str, Run]) -> None:
    name, r = run
    built = archcalc.build(archcalc.load(EXAMPLES / f"{name}.yaml")).eval()
    ours, theirs = built.state_dict(), r.model.state_dict()
    assert len(ours) == len(theirs)
    renamed = {}
    for (key, mine), (their_key, tensor) in zip(ours.items(), theirs.items(), strict=True):
        assert key.rsplit(".", 1)[-1] == their_key.rsplit(".", 1)[-1], (key, their_key)
        assert mine.shape == tensor.shape, (key, their_key)
        renamed[key] = tensor
    built.load_state_dict(renamed, strict=True)
    with torch.no_grad():
        got = built(r.x)
    assert r.y.std() > 1e-3  # outputs that vary: a real check
    torch.testing.assert_close(got, r.y, rtol=0, atol=1e-5)
