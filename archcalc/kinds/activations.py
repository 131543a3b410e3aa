"""Elementwise activations: relu and its relatives, saturating and smooth ones, softmax, identity.

Each is torch's module with torch's defaults; arguments are bounded to finite
floats a float32 kernel computes without overflowing to inf or NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
    MAX_FLOAT,
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
    saves_input,
    saves_output,
    saves_view,
    simple_kind,
)

if TYPE_CHECKING:
    import torch.nn


# A slope this steep makes the negative half dominate the positive; beyond it a
# value is a typo (1e2 for 1e-2), and at 1e300 torch's float32 multiply is inf.
MAX_SLOPE = 100.0
# SELU's fixed constants (Klambauer et al. 2017, as torch.nn.SELU uses them):
# its steepest slope is scale·alpha, on the negative side at 0.
_SELU_SCALE = 1.0507009873554804934193349852946
_SELU_ALPHA = 1.6732632423543772848170429916717

_RELU = Traits(activation="relu", max_derivative=1.0)


def _traits(activation: Any, max_derivative: float | None) -> Traits:
    return Traits(activation=activation, max_derivative=max_derivative)


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


def _bounded(value: float, lo: float, hi: float) -> bool:
    """Whether a float read from a torch module is one a spec could write."""
    return isinstance(value, (int, float)) and lo <= float(value) <= hi


def _leaky_from(m: Any, shape: Shape) -> FromTorch | None:
    slope = m.negative_slope
    if not _bounded(slope, -MAX_SLOPE, MAX_SLOPE):
        return None
    return FromTorch(LeakyReluArgs(float(slope)))


def _softmax_torch(a: None, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    # dim=1 is the channel / feature axis once torch adds the batch dimension.
    return nn.Softmax(dim=1)


def _softmax_from(m: Any, shape: Shape) -> FromTorch | None:
    # None is torch's legacy choice, dim 1 for 2-D and 4-D inputs; a negative
    # dim is the channel axis only when the input's rank says so.
    dim = m.dim
    if dim is None or dim == 1 or (shape and dim == -len(shape)):
        return FromTorch(None)
    return None


@dataclass(frozen=True)
class EluArgs:
    alpha: float


def _elu_parse(r: ArgReader) -> EluArgs:
    # α ≥ 0 keeps ELU monotonic (α = 0 is ReLU); a steeper negative side is a typo.
    args = EluArgs(r.float_("alpha", 1.0, lo=0.0, hi=MAX_SLOPE))
    r.done()
    return args


def _elu_torch(a: EluArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    return nn.ELU(alpha=a.alpha)


def _elu_from(m: Any, shape: Shape) -> FromTorch | None:
    return FromTorch(EluArgs(float(m.alpha))) if _bounded(m.alpha, 0.0, MAX_SLOPE) else None


@dataclass(frozen=True)
class SoftplusArgs:
    beta: float
    threshold: float


def _softplus_parse(r: ArgReader) -> SoftplusArgs:
    # torch computes log(1 + exp(β·x)) / β: β = 0 divides by zero and a negative
    # β mirrors the curve, so β > 0. Above `threshold` (in β·x) it is x itself.
    args = SoftplusArgs(
        beta=r.float_("beta", 1.0, lo=0.0, lo_open=True),
        threshold=r.float_("threshold", 20.0),
    )
    r.done()
    return args


def _softplus_operation(a: SoftplusArgs, shape: Shape) -> str:
    extra = []
    if a.beta != 1.0:
        extra.append(f"beta={a.beta:g}")
    if a.threshold != 20.0:
        extra.append(f"threshold={a.threshold:g}")
    return f"Softplus({', '.join(extra)})"


def _softplus_torch(a: SoftplusArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    return nn.Softplus(beta=a.beta, threshold=a.threshold)


def _softplus_from(m: Any, shape: Shape) -> FromTorch | None:
    beta, threshold = m.beta, m.threshold
    if not (
        _bounded(beta, 0.0, MAX_FLOAT) and beta > 0 and _bounded(threshold, -MAX_FLOAT, MAX_FLOAT)
    ):
        return None
    return FromTorch(SoftplusArgs(float(m.beta), float(m.threshold)))


@dataclass(frozen=True)
class PReluArgs:
    per_channel: bool  # torch's num_parameters = C (the input's axis 1), else 1


def _prelu_parse(r: ArgReader) -> PReluArgs:
    args = PReluArgs(r.bool_("per_channel", False))
    r.done()
    return args


def _prelu_apply(a: PReluArgs, shape: Shape) -> Effect:
    if not shape:
        raise ShapeError(f"expects an input with a channel axis, but gets {fmt_shape(shape)}")
    # One learnt slope per channel (or feature), or one for all.
    return Effect(shape, params=shape[0] if a.per_channel else 1)


def _prelu_operation(a: PReluArgs, shape: Shape) -> str:
    # Per channel on one channel is torch's default PReLU(): say so the same way.
    n = shape[0] if a.per_channel else 1
    return f"PReLU(num_parameters={n})" if n > 1 else "PReLU()"


def _prelu_torch(a: PReluArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    return nn.PReLU(num_parameters=shape[0] if a.per_channel else 1)


def _prelu_from(m: Any, shape: Shape) -> FromTorch | None:
    n = int(m.num_parameters)
    if n == 1:
        return FromTorch(PReluArgs(False))
    # num_parameters must be the channel count; torch itself refuses another at run time.
    if shape and shape[0] != n:
        return None
    return FromTorch(PReluArgs(True), (n,))


def _prelu_saves(a: PReluArgs, shape: Shape, ctx: SaveContext) -> Saved:
    # CPU autocast runs prelu in low precision: its input and slopes are saved as copies.
    n = shape[0] if a.per_channel else 1
    return Saved(ctx.lower(), input=ctx.lower(), weights=n if ctx.autocast else 0)


def _activation(
    name: str,
    parse: Any,
    operation: Any,
    to_torch: Any,
    torch_type: str,
    from_torch: Any,
    summary: str,
    traits: Traits,
    *,
    apply: Any = None,
    main_arg: str | None = None,
    saves: Any = saves_input,
) -> LayerKind[Any]:
    """An elementwise kind with arguments: same shape out, no window."""
    return LayerKind(
        name=name,
        parse=parse,
        apply=apply or (lambda a, s: Effect(s)),
        operation=operation,
        to_torch=to_torch,
        main_arg=main_arg,
        summary=summary,
        torch_type=torch_type,
        from_torch=from_torch,
        traits=traits,
        window=no_window,
        rf_step=elementwise_step,
        saves=saves,
    )


KINDS = [
    # relu, tanh, sigmoid and softmax differentiate through their output; the rest
    # (simple_kind's default) through their input.
    simple_kind("relu", "ReLU", "max(0, x)", traits=_RELU, saves=saves_output),
    _activation(
        "leaky_relu",
        _leaky_parse,
        lambda a, s: f"LeakyReLU({a.negative_slope:g})",
        _leaky_torch,
        "LeakyReLU",
        _leaky_from,
        "max(0, x) + slope·min(0, x) (negative_slope)",
        # sup |f′| = max(1, |slope|): an argument's, so not a constant of the kind
        _traits("relu", None),
        main_arg="negative_slope",
    ),
    simple_kind("relu6", "ReLU6", "min(max(0, x), 6)", traits=_RELU),
    _activation(
        "prelu",
        _prelu_parse,
        _prelu_operation,
        _prelu_torch,
        "PReLU",
        _prelu_from,
        "leaky ReLU with a learnt slope, one or one per channel (per_channel)",
        _traits("relu", None),  # the slope is learnt
        apply=_prelu_apply,
        saves=_prelu_saves,
    ),
    _activation(
        "elu",
        _elu_parse,
        lambda a, s: "ELU()" if a.alpha == 1.0 else f"ELU(alpha={a.alpha:g})",
        _elu_torch,
        "ELU",
        _elu_from,
        "x, or alpha·(eˣ − 1) below 0 (alpha)",
        _traits("smooth", None),  # sup |f′| = max(1, alpha)
        main_arg="alpha",
    ),
    simple_kind(
        "selu",
        "SELU",
        "self-normalising ELU, torch's fixed scale and alpha",
        traits=_traits("smooth", _SELU_SCALE * _SELU_ALPHA),
    ),
    simple_kind(
        "tanh",
        "Tanh",
        "hyperbolic tangent",
        traits=_traits("saturating", 1.0),
        saves=saves_output,
    ),
    simple_kind(
        "sigmoid",
        "Sigmoid",
        "logistic sigmoid",
        traits=_traits("saturating", 0.25),
        saves=saves_output,
    ),
    simple_kind(
        "hardsigmoid",
        "Hardsigmoid",
        "piecewise-linear sigmoid: clamp(x/6 + 1/2, 0, 1)",
        traits=_traits("saturating", 1 / 6),
    ),
    # sup |f′| of the smooth ones, found numerically on a fine grid (float64):
    # GELU 1.1289 at x ≈ 2.12, SiLU 1.0998 at x ≈ 2.40, Mish 1.0885 at x ≈ 2.22.
    simple_kind(
        "gelu",
        "GELU",
        "Gaussian error linear unit",
        traits=_traits("smooth", 1.1289041451825208),
        # The tanh approximation is another function; a spec writes the exact one.
        from_torch=lambda m, s: FromTorch(None) if m.approximate == "none" else None,
    ),
    simple_kind(
        "silu", "SiLU", "x·sigmoid(x), a.k.a. swish", traits=_traits("smooth", 1.0998393201285284)
    ),
    simple_kind(
        "hardswish",
        "Hardswish",
        "x·hardsigmoid(x), MobileNetV3's swish",
        traits=_traits("smooth", 1.5),  # (2x + 3)/6 at x = 3
    ),
    simple_kind(
        "mish", "Mish", "x·tanh(softplus(x))", traits=_traits("smooth", 1.0884981612515674)
    ),
    _activation(
        "softplus",
        _softplus_parse,
        _softplus_operation,
        _softplus_torch,
        "Softplus",
        _softplus_from,
        "log(1 + exp(beta·x))/beta, x above threshold (beta, threshold)",
        _traits("smooth", 1.0),  # f′ = sigmoid(β·x) < 1, then 1 in the linear part
        main_arg="beta",
    ),
    simple_kind(
        "softmax",
        "Softmax",
        "softmax over channels / features",
        operation="Softmax(dim=1)",
        to_torch=_softmax_torch,
        from_torch=_softmax_from,
        # Its Jacobian's entries are p(δ − p), at most 1/4.
        traits=_traits("softmax", 0.25),
        saves=saves_output,
    ),
    simple_kind(
        "identity",
        "Identity",
        "passes its input through",
        traits=Traits(max_derivative=1.0, pass_through=True),
        saves=saves_view,
    ),
]
