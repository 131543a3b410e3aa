"""linear: a fully connected layer, torch.nn.Linear."""

from __future__ import annotations

from dataclasses import dataclass
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


def parse(r: ArgReader) -> LinearArgs:
    args = LinearArgs(out=r.int_("out"), bias=r.bool_("bias", True))
    r.done()
    return args


def apply(a: LinearArgs, shape: Shape) -> Effect:
    if len(shape) != 1:
        raise ShapeError(
            f"expects a flat input, but gets {fmt_shape(shape)}",
            hint="add `flatten` (or `global_avg_pool`) before it",
        )
    n = shape[0]
    return Effect(
        output_shape=(a.out,),
        params=n * a.out + (a.out if a.bias else 0),
        macs=n * a.out,
    )


def operation(a: LinearArgs, shape: Shape) -> str:
    extra = ", bias=False" if not a.bias else ""
    return f"Linear({shape[0]}, {a.out}{extra})"


def to_torch(a: LinearArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    return nn.Linear(shape[0], a.out, bias=a.bias)


def from_torch(m: Any, shape: Shape) -> FromTorch:
    """An nn.Linear's arguments; in_features is what its operation text reads."""
    return FromTorch(LinearArgs(m.out_features, m.bias is not None), (m.in_features,))


def saves(a: LinearArgs, shape: Shape, ctx: SaveContext) -> Saved:
    """Its input, for the weight's gradient, and its weight, for the input's (only when the
    input needs one); under autocast both in low precision (copies)."""
    copy = shape[0] * a.out if ctx.autocast and ctx.grad else 0
    return Saved(ctx.lower(), input=ctx.lower(), weights=copy)


def scratch(a: LinearArgs, shape: Shape, out_shape: Shape, ctx: SaveContext, batch: int) -> int:
    """Under autocast on CPU, oneDNN's matrix multiply keeps a blocking buffer on every thread
    it runs (one per sample at most): a panel of up to 512 (1,024 past 1,024 inputs) input
    rows of 128 bytes each, and about 3 KiB more (measured from 84×10 to 9216×4096)."""
    if not ctx.autocast:
        return 0
    k = shape[0]
    rows = k if k <= 512 else 512 if k <= 1024 else 1024
    return min(ctx.threads, batch) * (rows * 128 + 2880)


KINDS = [
    LayerKind(
        name="linear",
        parse=parse,
        apply=apply,
        operation=operation,
        to_torch=to_torch,
        main_arg="out",
        summary="fully connected layer (out, bias)",
        torch_type="Linear",
        from_torch=from_torch,
        traits=Traits(weighted=True),
        # A flat input has no H and W: every unit already sees all of it.
        window=no_window,
        rf_step=elementwise_step,
        saves=saves,
        scratch=scratch,
    )
]
