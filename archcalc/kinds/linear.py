"""linear: a fully connected layer, torch.nn.Linear.

On a flat input it is the usual dense layer. With ``per_position: true`` it runs on a map
(C×L, C×H×W, C×D×H×W) over the channels at every position, as ConvNeXt's ``nn.Linear`` on its
channels-last tensor does: a 1×1 convolution's arithmetic with Linear's out×in weight, built
as archcalc's LinearChannels so that such a state_dict loads as it is. Without the flag a map
is refused, since a forgotten ``flatten`` is the likelier mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
    ArgReader,
    Effect,
    FromTorch,
    LayerKind,
    SaveContext,
    Saved,
    Shape,
    ShapeError,
    Traits,
    elementwise_step,
    fmt_shape,
    no_window,
)

if TYPE_CHECKING:
    import torch.nn


@dataclass(frozen=True)
class LinearArgs:
    out: int
    bias: bool
    per_position: bool = False


def parse(r: ArgReader) -> LinearArgs:
    args = LinearArgs(
        out=r.int_("out"), bias=r.bool_("bias", True), per_position=r.bool_("per_position", False)
    )
    r.done()
    return args


def apply(a: LinearArgs, shape: Shape) -> Effect:
    if a.per_position and len(shape) < 2:
        raise ShapeError(
            f"with per_position expects a map (C×L, C×H×W or C×D×H×W), but gets {fmt_shape(shape)}",
            hint="drop `per_position` on a flat input",
        )
    if not a.per_position and len(shape) != 1:
        raise ShapeError(
            f"expects a flat input, but gets {fmt_shape(shape)}",
            # the likely mistake first; `per_position` is in the kind's summary and docs
            hint="add `flatten` (or `global_avg_pool`) before it",
        )
    n = shape[0]
    positions = 1
    for d in shape[1:]:
        positions *= d
    return Effect(
        output_shape=(a.out, *shape[1:]),
        params=n * a.out + (a.out if a.bias else 0),
        macs=n * a.out * positions,
    )


def operation(a: LinearArgs, shape: Shape) -> str:
    extra = ", bias=False" if not a.bias else ""
    name = "LinearChannels" if a.per_position else "Linear"
    return f"{name}({shape[0]}, {a.out}{extra})"


def to_torch(a: LinearArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    if a.per_position:
        from archcalc.bridge.modules import LinearChannels

        return LinearChannels(shape[0], a.out, bias=a.bias)
    return nn.Linear(shape[0], a.out, bias=a.bias)


def from_torch(m: Any, shape: Shape) -> FromTorch:
    """An nn.Linear's arguments, or archcalc's LinearChannels'; in_features is what its
    operation text reads. (An nn.Linear on a channels-last map is read as ``per_position`` by
    ``archcalc export``, which follows the layout; the module alone cannot say it.)"""
    per_position = type(m).__name__ == "LinearChannels"
    args = LinearArgs(m.out_features, m.bias is not None, per_position)
    return FromTorch(args, (m.in_features, 1) if per_position else (m.in_features,))


def saves(a: LinearArgs, shape: Shape, ctx: SaveContext) -> Saved:
    """Its input, for the weight's gradient, and its weight, for the input's (only when the
    input needs one); under autocast both in low precision (copies: the weight's is made
    either way)."""
    cast = shape[0] * a.out if ctx.autocast else 0
    return Saved(ctx.lower(), input=ctx.lower(), weights=cast if ctx.grad else 0, casts=cast)


def scratch(a: LinearArgs, shape: Shape, out_shape: Shape, ctx: SaveContext, batch: int) -> int:
    """Under autocast on CPU, a matrix multiply larger than 16×16×16 runs on oneDNN, which
    gives every thread a blocking buffer: 128 bytes per input feature, the features rounded
    up to 32 plus 8, at most 512 (1,024 past 1,024 features, for more than one row), and a
    float32 row of up to 64 outputs per row, a row being a sample (or, ``per_position``, a
    sample's position). Measured from 10×10 to 9,216×4,096, batch 1 to 16, one and two
    threads: within 1%, but for how the per-row part splits between threads."""
    if not ctx.autocast:
        return 0
    k = shape[0]
    m = batch * prod(shape[1:])
    if m * k * a.out <= 16 * 16 * 16:
        return 0  # torch's own kernel
    features = k if k <= 512 else 512 if k <= 1024 or m == 1 else 1024
    panel = (-(-features // 32) * 32 + 8) * 128
    return ctx.threads * (panel + 4 * min(a.out, 64) * m)


KINDS = [
    LayerKind(
        name="linear",
        parse=parse,
        apply=apply,
        operation=operation,
        to_torch=to_torch,
        main_arg="out",
        summary="fully connected layer (out, bias, per_position: over the channels at every "
        "position of a map, ConvNeXt's)",
        torch_type="Linear",
        torch_aliases=("LinearChannels",),
        from_torch=from_torch,
        traits=Traits(weighted=True),
        # A flat input has no H and W: every unit already sees all of it.
        window=no_window,
        rf_step=elementwise_step,
        saves=saves,
        scratch=scratch,
    )
]
