"""drop_path: stochastic depth by sample, archcalc's DropPath.

As ``torchvision.ops.StochasticDepth(p, "row")``: while training, each sample's whole
tensor is zeroed with probability p and the survivors scaled by 1 / (1 − p), which drops a
residual branch for that sample; the identity in eval mode. No parameters, no cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
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
)

if TYPE_CHECKING:
    import torch.nn


@dataclass(frozen=True)
class DropPathArgs:
    p: float


def parse(r: ArgReader) -> DropPathArgs:
    args = DropPathArgs(r.float_("p", lo=0.0, hi=1.0, hint="e.g. `drop_path: 0.1`"))
    r.done()
    return args


def to_torch(a: DropPathArgs, shape: Shape) -> torch.nn.Module:
    from archcalc.bridge.modules import DropPath

    return DropPath(a.p)


def from_torch(m: Any, shape: Shape) -> FromTorch | None:
    """archcalc's DropPath, or torchvision's StochasticDepth by sample ("row"); its "batch"
    mode, which drops the whole batch at once, has no spec form."""
    p = m.p
    if getattr(m, "mode", "row") != "row" or not isinstance(p, (int, float)):
        return None
    return FromTorch(DropPathArgs(float(p))) if 0.0 <= p <= 1.0 else None


def saves(a: DropPathArgs, shape: Shape, ctx: SaveContext) -> Saved:
    """One survival factor per sample, which the output was multiplied by; p = 0 returns
    the input itself."""
    if a.p == 0.0:
        return Saved(ctx.dtype, view=True)
    return Saved(ctx.dtype, own=(Own(1, dtype=ctx.dtype),))


KINDS = [
    LayerKind(
        name="drop_path",
        parse=parse,
        apply=lambda a, s: Effect(s),
        operation=lambda a, s: f"DropPath({a.p:g})",
        to_torch=to_torch,
        main_arg="p",
        summary="stochastic depth: zeroes a whole sample with probability p while training, "
        "as torchvision's StochasticDepth(p, 'row') (p)",
        torch_type="DropPath",
        torch_aliases=("torchvision.ops.stochastic_depth.StochasticDepth",),
        from_torch=from_torch,
        # The identity at inference, as dropout is.
        traits=Traits(pass_through=True),
        window=no_window,
        rf_step=elementwise_step,
        saves=saves,
    )
]
