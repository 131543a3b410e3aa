"""groupnorm, instancenorm1d/2d/3d and layernorm: the normalisations other than batch norm.

groupnorm (torch.nn.GroupNorm) normalises each sample over groups of channels and every
position; instancenorm{1,2,3}d (torch.nn.InstanceNorm1d/2d/3d) each channel of each sample
over its positions; layernorm each position over its channels: ConvNeXt's LayerNorm2d on a
C×H×W map (archcalc's LayerNormChannels at any rank), torch.nn.LayerNorm(F) on features.

γ and β are parameters; only instance norm that tracks running statistics has buffers.
Group and instance norm compute their statistics from the whole sample, in eval mode too;
the receptive field, as for batch norm, follows the window path only, so these are
elementwise steps.
"""

from __future__ import annotations

import math
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
    ShapeError,
    Traits,
    elementwise_step,
    fmt_shape,
    no_window,
    require_maps,
    require_spatial,
)

if TYPE_CHECKING:
    import torch.nn

_TRAITS = Traits(normaliser=True)
_EPS = 1e-5  # torch's default for every normalisation here


def _eps(r: ArgReader, default: float = _EPS) -> float:
    # eps > 0 keeps 1/sqrt(var + eps) finite on a constant input.
    return r.float_("eps", default, lo=0.0, lo_open=True)


def _eps_text(eps: float) -> str:
    return "" if eps == _EPS else f", eps={eps:g}"


def channels_of(shape: Shape, what: str) -> int:
    """The channels of a map of any rank, or the features of a flat input."""
    if len(shape) == 1:
        return shape[0]
    c, _ = require_maps(shape, what)
    return c


def divisor_below(n: int, most: int) -> int:
    """The largest divisor of ``n`` that is at most ``most`` (1 at worst), in O(√n)."""
    best = 1
    for d in range(1, math.isqrt(n) + 1):
        if n % d == 0:
            for v in (d, n // d):
                if best < v <= most:
                    best = v
    return best


# -- groupnorm -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupNormArgs:
    groups: int
    eps: float
    affine: bool


def _group_parse(r: ArgReader) -> GroupNormArgs:
    args = GroupNormArgs(groups=r.int_("groups"), eps=_eps(r), affine=r.bool_("affine", True))
    r.done()
    return args


def _group_apply(a: GroupNormArgs, shape: Shape) -> Effect:
    c = channels_of(shape, "groupnorm")
    if c % a.groups:
        raise ShapeError(
            f"expects channels divisible by groups ({a.groups}), but gets {c} channels "
            f"({fmt_shape(shape)})",
            hint=f"`groups: {divisor_below(c, a.groups)}` divides {c}",
        )
    return Effect(output_shape=shape, params=2 * c if a.affine else 0)


def _group_operation(a: GroupNormArgs, shape: Shape) -> str:
    extra = _eps_text(a.eps) + ("" if a.affine else ", affine=False")
    return f"GroupNorm({a.groups}, {shape[0]}{extra})"


def _group_torch(a: GroupNormArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    return nn.GroupNorm(a.groups, shape[0], eps=a.eps, affine=a.affine)


def _group_from(m: Any, shape: Shape) -> FromTorch | None:
    if m.eps <= 0 or m.num_groups < 1:
        return None
    args = GroupNormArgs(int(m.num_groups), float(m.eps), bool(m.affine))
    return FromTorch(args, (int(m.num_channels),))


def _stats(affine: bool, ctx: SaveContext) -> str:
    # CPU normalises a low-precision input with float32 statistics once a float32 weight
    # (or running statistic) takes part, and in the input's dtype otherwise.
    return "float32" if affine else ctx.dtype


def _group_saves(a: GroupNormArgs, shape: Shape, ctx: SaveContext) -> Saved:
    """Its input, and a mean and inverse deviation per sample and group."""
    return Saved(ctx.dtype, input=ctx.dtype, own=(Own(2 * a.groups, dtype=_stats(a.affine, ctx)),))


# -- instancenorm1d/2d/3d --------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceNormArgs:
    eps: float
    momentum: float
    affine: bool
    track_running_stats: bool


def _instance_parse(r: ArgReader) -> InstanceNormArgs:
    args = InstanceNormArgs(
        eps=_eps(r),
        momentum=r.float_("momentum", 0.1, lo=0.0, hi=1.0),
        affine=r.bool_("affine", False),
        track_running_stats=r.bool_("track_running_stats", False),
    )
    r.done()
    return args


def _instance_apply(a: InstanceNormArgs, shape: Shape, rank: int) -> Effect:
    # Torch reads a batch of one rank lower as unbatched (InstanceNorm1d takes (N, F) as one
    # C×L sample), so each kind takes its own rank only.
    c, sizes = require_spatial(shape, rank, f"instancenorm{rank}d")
    # torch normalises by the sample's own statistics unless it tracks running ones, and
    # refuses a single position to compute them over, in eval mode too
    if not a.track_running_stats and all(n == 1 for n in sizes):
        raise ShapeError(
            f"expects more than one position per channel to normalise over, but gets "
            f"{fmt_shape(shape)}",
            hint="torch refuses it; normalise before pooling to 1, or set "
            "`track_running_stats: true` to use running statistics in eval mode",
        )
    return Effect(
        output_shape=shape,
        params=2 * c if a.affine else 0,
        # running_mean, running_var, and the scalar num_batches_tracked
        buffers=2 * c + 1 if a.track_running_stats else 0,
    )


def _instance_operation(a: InstanceNormArgs, shape: Shape, torch_name: str) -> str:
    extra = _eps_text(a.eps)
    if a.momentum != 0.1:
        extra += f", momentum={a.momentum:g}"
    if a.affine:
        extra += ", affine=True"
    if a.track_running_stats:
        extra += ", track_running_stats=True"
    return f"{torch_name}({shape[0]}{extra})"


def _instance_torch(a: InstanceNormArgs, shape: Shape, torch_name: str) -> torch.nn.Module:
    import torch.nn as nn

    module: torch.nn.Module = getattr(nn, torch_name)(
        shape[0],
        eps=a.eps,
        momentum=a.momentum,
        affine=a.affine,
        track_running_stats=a.track_running_stats,
    )
    return module


def _instance_from(m: Any, shape: Shape) -> FromTorch | None:
    """An nn.InstanceNorm*d's arguments; momentum None (a running average) reads as 0.1,
    as for batch norm."""
    momentum = 0.1 if m.momentum is None else float(m.momentum)
    if m.eps <= 0 or not 0.0 <= momentum <= 1.0:
        return None
    args = InstanceNormArgs(float(m.eps), momentum, bool(m.affine), bool(m.track_running_stats))
    return FromTorch(args, (int(m.num_features),))


def _instance_saves(a: InstanceNormArgs, shape: Shape, ctx: SaveContext) -> Saved:
    """torch runs it as batch norm over N·C channels: the input, a mean and inverse deviation
    per sample and channel, and the weight and running statistics repeated N times (the
    statistics cast to a low-precision input's dtype unless a weight is given)."""
    copies = 2 + a.affine + 2 * a.track_running_stats
    stats = Own(copies * shape[0], dtype=_stats(a.affine, ctx))
    if not ctx.contiguous:  # reshaped to (1, N·C, …), a strided input is copied first
        positions = 1
        for n in shape:
            positions *= n
        return Saved(ctx.dtype, own=(Own(positions, dtype=ctx.dtype), stats))
    return Saved(ctx.dtype, input=ctx.dtype, own=(stats,))


def _instance_kind(rank: int) -> LayerKind[InstanceNormArgs]:
    torch_name = f"InstanceNorm{rank}d"
    return LayerKind(
        name=f"instancenorm{rank}d",
        parse=_instance_parse,
        apply=lambda a, s: _instance_apply(a, s, rank),
        operation=lambda a, s: _instance_operation(a, s, torch_name),
        to_torch=lambda a, s: _instance_torch(a, s, torch_name),
        summary=f"instance normalisation of each channel of {RANK_SHAPES[rank]} over its "
        "positions (eps, momentum, affine: false, track_running_stats: false)",
        torch_type=torch_name,
        from_torch=_instance_from,
        traits=_TRAITS,
        window=no_window,
        rf_step=elementwise_step,
        saves=_instance_saves,
    )


# -- layernorm -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerNormArgs:
    eps: float
    elementwise_affine: bool
    bias: bool


def _layer_parse(r: ArgReader) -> LayerNormArgs:
    args = LayerNormArgs(
        eps=_eps(r),
        elementwise_affine=r.bool_("elementwise_affine", True),
        bias=r.bool_("bias", True),
    )
    r.done()
    return args


def _layer_apply(a: LayerNormArgs, shape: Shape) -> Effect:
    c = channels_of(shape, "layernorm")
    # torch has no bias without the elementwise affine
    per_channel = (1 + a.bias) if a.elementwise_affine else 0
    return Effect(output_shape=shape, params=per_channel * c)


def _layer_operation(a: LayerNormArgs, shape: Shape) -> str:
    extra = _eps_text(a.eps)
    if not a.elementwise_affine:
        extra += ", elementwise_affine=False"
    elif not a.bias:
        extra += ", bias=False"
    name = "LayerNorm" if len(shape) == 1 else "LayerNormChannels"
    return f"{name}({shape[0]}{extra})"


def _layer_torch(a: LayerNormArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    from archcalc.bridge.modules import LayerNormChannels

    cls = nn.LayerNorm if len(shape) == 1 else LayerNormChannels
    return cls(shape[0], eps=a.eps, elementwise_affine=a.elementwise_affine, bias=a.bias)


def _layer_from(m: Any, shape: Shape) -> FromTorch | None:
    """nn.LayerNorm over features, archcalc's LayerNormChannels, torchvision's LayerNorm2d.

    Only a norm over one axis, the channel (feature) one, has a spec form: nn.LayerNorm on a
    map normalises its last axis, and torchvision's LayerNorm2d runs on C×H×W only.
    """
    if len(m.normalized_shape) != 1 or m.eps <= 0:
        return None
    c = int(m.normalized_shape[0])
    name = type(m).__name__
    if shape:
        if shape[0] != c:
            return None
        if name == "LayerNorm" and len(shape) != 1:
            return None
        if name == "LayerNorm2d" and len(shape) != 3:
            return None
    affine = bool(m.elementwise_affine)
    args = LayerNormArgs(float(m.eps), affine, m.bias is not None if affine else True)
    # Uncalled, a channels module is known to run on a map, not its size: a C×1 stands for it,
    # since the operation text reads only the channels and whether the input is flat.
    op_shape = shape or ((c,) if name == "LayerNorm" else (c, 1))
    return FromTorch(args, op_shape)


def _layer_saves(a: LayerNormArgs, shape: Shape, ctx: SaveContext) -> Saved:
    """Its input, and a mean and inverse deviation per sample and position."""
    positions = 1
    for n in shape[1:]:
        positions *= n
    dtype = _stats(a.elementwise_affine, ctx)
    # a map's channels are moved last for the norm and back: the output is strided
    moved = len(shape) > 1 and positions > 1 and shape[0] > 1
    return Saved(ctx.dtype, input=ctx.dtype, own=(Own(2 * positions, dtype=dtype),), strided=moved)


KINDS = [
    LayerKind(
        name="groupnorm",
        parse=_group_parse,
        apply=_group_apply,
        operation=_group_operation,
        to_torch=_group_torch,
        main_arg="groups",
        summary="group normalisation: channels in `groups` groups, each normalised over its "
        "channels and positions (groups, eps, affine); any rank or features",
        torch_type="GroupNorm",
        from_torch=_group_from,
        traits=_TRAITS,
        window=no_window,
        rf_step=elementwise_step,
        saves=_group_saves,
    ),
    *(_instance_kind(rank) for rank in (2, 1, 3)),
    LayerKind(
        name="layernorm",
        parse=_layer_parse,
        apply=_layer_apply,
        operation=_layer_operation,
        to_torch=_layer_torch,
        summary="layer normalisation over the channels at every position (features for a flat "
        "input), as ConvNeXt's LayerNorm2d (eps, elementwise_affine, bias)",
        torch_type="LayerNormChannels",
        torch_aliases=("LayerNorm", "torchvision.models.convnext.LayerNorm2d"),
        from_torch=_layer_from,
        traits=_TRAITS,
        window=no_window,
        rf_step=elementwise_step,
        saves=_layer_saves,
    ),
]
