"""flatten: C×H×W → C·H·W, torch.nn.Flatten."""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING

from archcalc.kinds.base import GLOBAL, Effect, LayerKind, Shape, no_args

if TYPE_CHECKING:
    import torch.nn


def apply(a: None, shape: Shape) -> Effect:
    return Effect(output_shape=(prod(shape),), rf=GLOBAL if len(shape) > 1 else None)


def to_torch(a: None, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    return nn.Flatten()


KINDS = [
    LayerKind(
        name="flatten",
        parse=no_args,
        apply=apply,
        operation=lambda a, s: "Flatten()",
        to_torch=to_torch,
        summary="flatten C×H×W into one vector",
    )
]
