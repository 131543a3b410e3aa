"""dropout and dropout2d: torch.nn.Dropout / Dropout2d (no parameters, no cost)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
    ArgReader,
    Effect,
    FromTorch,
    LayerKind,
    Shape,
    Traits,
    elementwise_step,
    no_window,
    require_image,
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


def _to_torch_2d(a: DropoutArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    return nn.Dropout2d(a.p)


def _apply_2d(a: DropoutArgs, shape: Shape) -> Effect:
    # Dropout2d zeroes whole channels of a feature map; on a flat input torch
    # warns and drops along the wrong axis, so it takes images only.
    require_image(shape, "dropout2d")
    return Effect(shape)


def _from_torch(m: Any, shape: Shape) -> FromTorch | None:
    p = m.p
    return FromTorch(DropoutArgs(float(p))) if 0.0 <= p <= 1.0 else None


# Off at inference, so the output means what the layer before it says.
_TRAITS = Traits(pass_through=True)

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
    ),
    LayerKind(
        name="dropout2d",
        parse=parse,
        apply=_apply_2d,
        operation=lambda a, s: f"Dropout2d({a.p:g})",
        to_torch=_to_torch_2d,
        main_arg="p",
        summary="zeroes a fraction p of whole channels while training (p)",
        torch_type="Dropout2d",
        from_torch=_from_torch,
        traits=_TRAITS,
        window=no_window,
        rf_step=elementwise_step,
    ),
]
