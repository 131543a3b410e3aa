"""dropout and dropout1d/2d/3d: torch.nn.Dropout / Dropout1d / Dropout2d / Dropout3d.

No parameters, no cost. The ranked kinds zero whole channels of a feature map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
    RANK_SHAPES,
    ArgReader,
    Effect,
    FromTorch,
    LayerKind,
    Own,
    SaveContext,
    Saved,
    Shape,
    Traits,
    elementwise_step,
    no_window,
    require_spatial,
)

if TYPE_CHECKING:
    import torch.nn


@dataclass(frozen=True)
class DropoutArgs:
    p: float


def parse(r: ArgReader) -> DropoutArgs:
    args = DropoutArgs(r.float_("p", 0.5, lo=0.0, hi=1.0))
    r.done()
    return args


def to_torch(a: DropoutArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    return nn.Dropout(a.p)


def _to_torch_nd(a: DropoutArgs, rank: int) -> torch.nn.Module:
    import torch.nn as nn

    module: torch.nn.Module = getattr(nn, f"Dropout{rank}d")(a.p)
    return module


def _apply_nd(a: DropoutArgs, shape: Shape, rank: int) -> Effect:
    # DropoutNd zeroes whole channels of a feature map of its rank; on another
    # rank torch warns and drops along the wrong axis, so it takes its own only.
    require_spatial(shape, rank, f"dropout{rank}d")
    return Effect(shape)


def _from_torch(m: Any, shape: Shape) -> FromTorch | None:
    p = m.p
    return FromTorch(DropoutArgs(float(p))) if 0.0 <= p <= 1.0 else None


def _saves(a: DropoutArgs, shape: Shape, ctx: SaveContext, per_channel: bool) -> Saved:
    """On CPU, the scaled noise the input was multiplied by, in the input's dtype: one value
    per element, or per channel for DropoutNd (CUDA's fused kernel keeps a 1-byte mask
    instead). p = 0 returns the input itself; p = 1 multiplies by a zero scalar."""
    if a.p == 0.0:
        return Saved(ctx.dtype, view=True)
    if a.p == 1.0:
        return Saved(ctx.dtype, own=(Own(0, 1, ctx.dtype),))
    n = shape[0]
    if not per_channel:
        for d in shape[1:]:
            n *= d
    return Saved(ctx.dtype, own=(Own(n, dtype=ctx.dtype),))


# Off at inference, so the output means what the layer before it says.
_TRAITS = Traits(pass_through=True)


def _nd_kind(rank: int) -> LayerKind[DropoutArgs]:
    return LayerKind(
        name=f"dropout{rank}d",
        parse=parse,
        apply=lambda a, s: _apply_nd(a, s, rank),
        operation=lambda a, s: f"Dropout{rank}d({a.p:g})",
        to_torch=lambda a, s: _to_torch_nd(a, rank),
        main_arg="p",
        summary=f"zeroes a fraction p of whole channels of {RANK_SHAPES[rank]} while training (p)",
        torch_type=f"Dropout{rank}d",
        from_torch=_from_torch,
        traits=_TRAITS,
        window=no_window,
        rf_step=elementwise_step,
        saves=lambda a, s, ctx: _saves(a, s, ctx, per_channel=True),
    )


KINDS = [
    LayerKind(
        name="dropout",
        parse=parse,
        apply=lambda a, s: Effect(s),
        operation=lambda a, s: f"Dropout({a.p:g})",
        to_torch=to_torch,
        main_arg="p",
        summary="zeroes a fraction p of activations while training (p)",
        torch_type="Dropout",
        from_torch=_from_torch,
        traits=_TRAITS,
        window=no_window,
        rf_step=elementwise_step,
        saves=lambda a, s, ctx: _saves(a, s, ctx, per_channel=False),
    ),
    *(_nd_kind(rank) for rank in (1, 2, 3)),
]
