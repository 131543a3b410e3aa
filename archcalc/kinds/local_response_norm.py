"""local_response_norm: AlexNet's cross-channel normalisation, torch.nn.LocalResponseNorm."""

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
    require_maps,
)

if TYPE_CHECKING:
    import torch.nn


# Torch pads the squared input with size − 1 channels and averages windows of
# `size` channels, so its memory and time grow with `size` whatever the input:
# size 2**31 − 1 on a 3×8×8 map asks for tens of gigabytes. Real networks use 5
# (AlexNet, GoogLeNet); a window wider than this is a typo.
MAX_SIZE = 1024


@dataclass(frozen=True)
class LRNArgs:
    size: int
    alpha: float
    beta: float
    k: float


def parse(r: ArgReader) -> LRNArgs:
    args = LRNArgs(
        size=r.int_(
            "size",
            maximum=MAX_SIZE,
            hint="AlexNet and GoogLeNet use 5; torch's memory and time grow with the size",
        ),
        # alpha ≥ 0 and k > 0 keep the base k + α·mean(x²) positive, so its
        # power β is never the NaN of a negative number's fractional power.
        alpha=r.float_("alpha", 1e-4, lo=0.0),
        beta=r.float_("beta", 0.75, lo=0.0),
        k=r.float_("k", 1.0, lo=0.0, lo_open=True),
    )
    r.done()
    return args


def apply(a: LRNArgs, shape: Shape) -> Effect:
    require_maps(shape, "local_response_norm")
    return Effect(shape)


def operation(a: LRNArgs, shape: Shape) -> str:
    return f"LocalResponseNorm({a.size}, alpha={a.alpha:g}, beta={a.beta:g}, k={a.k:g})"


def to_torch(a: LRNArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    return nn.LocalResponseNorm(a.size, alpha=a.alpha, beta=a.beta, k=a.k)


def from_torch(m: Any, shape: Shape) -> FromTorch | None:
    """An nn.LocalResponseNorm's arguments, or None outside the bounds a spec may write."""
    if not 1 <= m.size <= MAX_SIZE or m.alpha < 0 or m.beta < 0 or m.k <= 0:
        return None
    return FromTorch(LRNArgs(m.size, float(m.alpha), float(m.beta), float(m.k)))


def saves(a: LRNArgs, shape: Shape, ctx: SaveContext) -> Saved:
    """torch's functional form: x·x padded on channels and averaged (its input saved), then
    (k + α·avg)^β (its base and result saved) divides the input (saved). A map of two or
    three spatial axes averages with avg_pool3d, which CPU autocast runs in float32."""
    positions = 1
    for n in shape[1:]:
        positions *= n
    dtype = ctx.fp32() if len(shape) > 2 else ctx.dtype
    padded = Own((shape[0] + a.size - 1) * positions, dtype=dtype)
    full = Own(shape[0] * positions, dtype=dtype)
    out = "float32" if "float32" in (dtype, ctx.dtype) else ctx.dtype
    return Saved(out, input=ctx.dtype, own=(padded, full, full))


KINDS = [
    LayerKind(
        name="local_response_norm",
        parse=parse,
        apply=apply,
        operation=operation,
        to_torch=to_torch,
        main_arg="size",
        summary="normalise across `size` neighbouring channels (size, alpha, beta, k)",
        torch_type="LocalResponseNorm",
        from_torch=from_torch,
        # Across channels only, per position: no window on H and W. Not a
        # normaliser in lint's sense: it rescales, it does not re-centre.
        traits=Traits(),
        window=no_window,
        rf_step=elementwise_step,
        saves=saves,
    )
]
