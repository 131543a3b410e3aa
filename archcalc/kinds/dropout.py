"""dropout: torch.nn.Dropout (no parameters, no cost)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from archcalc.kinds.base import ArgReader, Effect, LayerKind, Shape

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


KINDS = [
    LayerKind(
        name="dropout",
        parse=parse,
        apply=lambda a, s: Effect(s),
        operation=lambda a, s: f"Dropout({a.p:g})",
        to_torch=to_torch,
        main_arg="p",
        summary="zeroes a fraction p of activations while training (p)",
    )
]
