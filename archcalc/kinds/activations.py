"""Elementwise activations: relu, leaky_relu, tanh, sigmoid, gelu, softmax, identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from archcalc.kinds.base import ArgReader, Effect, LayerKind, Shape, simple_kind

if TYPE_CHECKING:
    import torch.nn


# A slope this steep makes the negative half dominate the positive; beyond it a
# value is a typo (1e2 for 1e-2), and at 1e300 torch's float32 multiply is inf.
MAX_SLOPE = 100.0


@dataclass(frozen=True)
class LeakyReluArgs:
    negative_slope: float


def _leaky_parse(r: ArgReader) -> LeakyReluArgs:
    args = LeakyReluArgs(r.float_("negative_slope", 0.01, lo=-MAX_SLOPE, hi=MAX_SLOPE))
    r.done()
    return args


def _leaky_torch(a: LeakyReluArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    return nn.LeakyReLU(a.negative_slope)


def _softmax_torch(a: None, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    # dim=1 is the channel / feature axis once torch adds the batch dimension.
    return nn.Softmax(dim=1)


_softmax = simple_kind(
    "softmax", "Softmax", "softmax over channels / features", operation="Softmax(dim=1)"
)

KINDS = [
    simple_kind("relu", "ReLU", "max(0, x)"),
    LayerKind(
        name="leaky_relu",
        parse=_leaky_parse,
        apply=lambda a, s: Effect(s),
        operation=lambda a, s: f"LeakyReLU({a.negative_slope:g})",
        to_torch=_leaky_torch,
        main_arg="negative_slope",
        summary="max(0, x) + slope·min(0, x) (negative_slope)",
    ),
    simple_kind("tanh", "Tanh", "hyperbolic tangent"),
    simple_kind("sigmoid", "Sigmoid", "logistic sigmoid"),
    simple_kind("gelu", "GELU", "Gaussian error linear unit"),
    LayerKind(
        name="softmax",
        parse=_softmax.parse,
        apply=_softmax.apply,
        operation=_softmax.operation,
        to_torch=_softmax_torch,
        summary=_softmax.summary,
    ),
    simple_kind("identity", "Identity", "passes its input through"),
]
