"""flatten: C×H×W → C·H·W, torch.nn.Flatten."""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
    GLOBAL,
    Effect,
    FromTorch,
    LayerKind,
    RFStep,
    SaveContext,
    Saved,
    Shape,
    Traits,
    no_args,
    no_window,
)

if TYPE_CHECKING:
    import torch.nn


def rf_step(a: None, shape: Shape) -> RFStep:
    # A flat input is already one vector: flattening it changes no unit's field.
    return GLOBAL if len(shape) > 1 else None


def apply(a: None, shape: Shape) -> Effect:
    return Effect(output_shape=(prod(shape),), rf=rf_step(a, shape))


def from_torch(m: Any, shape: Shape) -> FromTorch | None:
    """nn.Flatten over everything after the batch; another range has no spec form."""
    return FromTorch(None) if (m.start_dim, m.end_dim) == (1, -1) else None


def to_torch(a: None, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    return nn.Flatten()


def _saves(a: None, shape: Shape, ctx: SaveContext) -> Saved:
    """A view of a contiguous input; a strided one (a crop, a slice of channels) is copied."""
    return Saved(ctx.dtype, view=ctx.contiguous)


KINDS = [
    LayerKind(
        name="flatten",
        parse=no_args,
        apply=apply,
        operation=lambda a, s: "Flatten()",
        to_torch=to_torch,
        summary="flatten a feature map (C×L, C×H×W, C×D×H×W) into one vector",
        torch_type="Flatten",
        from_torch=from_torch,
        traits=Traits(),
        window=no_window,
        rf_step=rf_step,
        saves=_saves,
    )
]
