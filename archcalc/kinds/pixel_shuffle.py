"""pixel_shuffle and pixel_unshuffle: channels to space and back, torch.nn.PixelShuffle /
PixelUnshuffle, on C×H×W only (torch would read another rank's axes as the wrong ones).

``pixel_shuffle: r`` turns C·r² × H × W into C × rH × rW: output position (i, j)
holds input position (⌊i/r⌋, ⌊j/r⌋), each of its r² channels a different
output pixel. Its receptive-field step is nearest upsampling's: kernel 1,
stride 1/r, pad_before 0, so from there the field's numbers are exact
Fractions (the average field), unit 0's exact (see upsample.py). It has no
Window, which holds whole input units only.

``pixel_unshuffle: r`` turns C × H × W into C·r² × H/r × W/r, H and W
multiples of r (torch refuses others): every output position gathers one
r × r block, a window of kernel r and stride r.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
    ArgReader,
    Effect,
    FromTorch,
    LayerKind,
    RFStep,
    Shape,
    ShapeError,
    SpatialStep,
    Traits,
    Window,
    fmt_shape,
    no_window,
    require_spatial,
    saves_nothing,
    window_step,
)

if TYPE_CHECKING:
    import torch.nn

# r² channels per output channel must stay an integer archcalc accepts.
MAX_FACTOR = 46_340  # ⌊√(2³¹ − 1)⌋


@dataclass(frozen=True)
class ShuffleArgs:
    factor: int


def _parse(r: ArgReader, name: str) -> ShuffleArgs:
    args = ShuffleArgs(
        r.int_(name, maximum=MAX_FACTOR, hint="the channels grow or shrink by its square")
    )
    r.done()
    return args


def _shuffle_apply(a: ShuffleArgs, shape: Shape) -> Effect:
    c, (h, w) = require_spatial(shape, 2, "pixel_shuffle")
    block = a.factor * a.factor
    if c % block:
        raise ShapeError(
            f"expects channels divisible by upscale_factor² = {block}, but gets {c} channels",
            hint=f"C·{block} channels become C channels at {a.factor}× the height and width; "
            f"make the layer before output a multiple of {block}",
        )
    return Effect(output_shape=(c // block, h * a.factor, w * a.factor), rf=_shuffle_step(a, shape))


def _shuffle_step(a: ShuffleArgs, shape: Shape) -> RFStep:
    stride = Fraction(1, a.factor) if a.factor > 1 else 1
    return SpatialStep(kernel=(1, 1), stride=(stride, stride), pad_before=(0, 0))


def _unshuffle_window(a: ShuffleArgs, shape: Shape) -> Window:
    r = a.factor
    return Window(kernel=(r, r), stride=(r, r), dilation=(1, 1), pads=((0, 0), (0, 0)))


def _unshuffle_apply(a: ShuffleArgs, shape: Shape) -> Effect:
    c, (h, w) = require_spatial(shape, 2, "pixel_unshuffle")
    r = a.factor
    if h % r or w % r:
        raise ShapeError(
            f"expects a height and width divisible by downscale_factor={r}, "
            f"but gets {fmt_shape(shape)}",
            hint="torch refuses a remainder; crop or pad the input to a multiple first",
        )
    return Effect(output_shape=(c * r * r, h // r, w // r), rf=_unshuffle_window(a, shape).step())


def _to_torch(a: ShuffleArgs, cls: str) -> torch.nn.Module:
    import torch.nn as nn

    module: torch.nn.Module = getattr(nn, cls)(a.factor)
    return module


def _from_torch(m: Any, attribute: str) -> FromTorch:
    return FromTorch(ShuffleArgs(int(getattr(m, attribute))))


KINDS = [
    LayerKind(
        name="pixel_shuffle",
        parse=lambda r: _parse(r, "upscale_factor"),
        apply=_shuffle_apply,
        operation=lambda a, s: f"PixelShuffle(upscale_factor={a.factor})",
        to_torch=lambda a, s: _to_torch(a, "PixelShuffle"),
        main_arg="upscale_factor",
        summary="C·r²×H×W to C×rH×rW, channels into space (upscale_factor)",
        torch_type="PixelShuffle",
        from_torch=lambda m, s: _from_torch(m, "upscale_factor"),
        traits=Traits(),
        window=no_window,
        rf_step=_shuffle_step,
        saves=saves_nothing,  # a copy in another order
    ),
    LayerKind(
        name="pixel_unshuffle",
        parse=lambda r: _parse(r, "downscale_factor"),
        apply=_unshuffle_apply,
        operation=lambda a, s: f"PixelUnshuffle(downscale_factor={a.factor})",
        to_torch=lambda a, s: _to_torch(a, "PixelUnshuffle"),
        main_arg="downscale_factor",
        summary="C×H×W to C·r²×H/r×W/r, space into channels (downscale_factor)",
        torch_type="PixelUnshuffle",
        from_torch=lambda m, s: _from_torch(m, "downscale_factor"),
        traits=Traits(),
        window=_unshuffle_window,
        rf_step=window_step(_unshuffle_window),
        saves=saves_nothing,
    ),
]
