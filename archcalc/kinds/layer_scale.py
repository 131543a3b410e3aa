"""layer_scale: a learnt scale per channel (ConvNeXt's, CaiT's), archcalc's LayerScale.

``layer_scale · x`` with one parameter per channel (feature), laid out as torchvision's
``CNBlock.layer_scale`` (C×1×1 on a C×H×W map) so that its weights load as they are, and
filled with ``init`` (ConvNeXt's 1e-6 by default). The multiply is elementwise: no MACs, as
FlopCounterMode counts none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
    MAX_FLOAT,
    ArgReader,
    Effect,
    FromTorch,
    LayerKind,
    SaveContext,
    Saved,
    Shape,
    Traits,
    elementwise_step,
    no_window,
)
from archcalc.kinds.norms import channels_of

if TYPE_CHECKING:
    import torch.nn


@dataclass(frozen=True)
class LayerScaleArgs:
    init: float


def parse(r: ArgReader) -> LayerScaleArgs:
    args = LayerScaleArgs(init=r.float_("init", 1e-6))
    r.done()
    return args


def apply(a: LayerScaleArgs, shape: Shape) -> Effect:
    return Effect(output_shape=shape, params=channels_of(shape, "layer_scale"))


def to_torch(a: LayerScaleArgs, shape: Shape) -> torch.nn.Module:
    from archcalc.bridge.modules import LayerScale

    return LayerScale(shape[0], rank=len(shape) - 1, init=a.init)


def from_torch(m: Any, shape: Shape) -> FromTorch | None:
    """archcalc's LayerScale, when its parameter fits the input (C, then 1 per spatial axis)."""
    layout = tuple(m.layer_scale.shape)
    init = m.init
    if not isinstance(init, (int, float)) or not abs(init) <= MAX_FLOAT:
        return None
    if shape and layout != (shape[0], *(1,) * (len(shape) - 1)):
        return None
    return FromTorch(LayerScaleArgs(float(init)), layout[:1])


def saves(a: LayerScaleArgs, shape: Shape, ctx: SaveContext) -> Saved:
    """Its input, for the scale's gradient; the float32 scale promotes a low-precision input,
    so the output is float32."""
    return Saved("float32", input=ctx.dtype)


KINDS = [
    LayerKind(
        name="layer_scale",
        parse=parse,
        apply=apply,
        operation=lambda a, s: f"LayerScale({s[0]}, init={a.init:g})",
        to_torch=to_torch,
        main_arg="init",
        summary="a learnt scale per channel, C parameters starting at `init` (ConvNeXt) (init)",
        torch_type="LayerScale",
        from_torch=from_torch,
        traits=Traits(),
        window=no_window,
        rf_step=elementwise_step,
        saves=saves,
    )
]
