"""batchnorm1d, batchnorm2d, batchnorm3d: torch.nn.BatchNorm1d / 2d / 3d.

batchnorm1d takes a flat input (features) or a C×L one, as torch's does.

γ and β are parameters; the running mean, variance and batch counter are
buffers, counted apart (torchinfo and Keras mix the two).
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
    ShapeError,
    Traits,
    elementwise_step,
    fmt_shape,
    no_window,
    require_spatial,
)

if TYPE_CHECKING:
    import torch.nn


@dataclass(frozen=True)
class BatchNormArgs:
    eps: float
    momentum: float
    affine: bool
    track_running_stats: bool


def parse(r: ArgReader) -> BatchNormArgs:
    args = BatchNormArgs(
        eps=r.float_("eps", 1e-5, lo=0.0, lo_open=True),
        momentum=r.float_("momentum", 0.1, lo=0.0, hi=1.0),
        affine=r.bool_("affine", True),
        track_running_stats=r.bool_("track_running_stats", True),
    )
    r.done()
    return args


def _effect(a: BatchNormArgs, channels: int, shape: Shape) -> Effect:
    return Effect(
        output_shape=shape,
        params=2 * channels if a.affine else 0,
        # running_mean, running_var, and the scalar num_batches_tracked
        buffers=2 * channels + 1 if a.track_running_stats else 0,
    )


def apply_nd(a: BatchNormArgs, shape: Shape, rank: int) -> Effect:
    c, _ = require_spatial(shape, rank, f"batchnorm{rank}d")
    return _effect(a, c, shape)


def apply_1d(a: BatchNormArgs, shape: Shape) -> Effect:
    if len(shape) not in (1, 2):
        raise ShapeError(
            f"expects a flat input or a C×L one, but gets {fmt_shape(shape)}",
            hint=f"use `batchnorm{len(shape) - 1}d` on {RANK_SHAPES[len(shape) - 1]} feature maps"
            if len(shape) - 1 in RANK_SHAPES
            else None,
        )
    return _effect(a, shape[0], shape)


def operation(a: BatchNormArgs, shape: Shape, torch_name: str) -> str:
    extra = ""
    if a.eps != 1e-5:
        extra += f", eps={a.eps:g}"
    if a.momentum != 0.1:
        extra += f", momentum={a.momentum:g}"
    if not a.affine:
        extra += ", affine=False"
    if not a.track_running_stats:
        extra += ", track_running_stats=False"
    return f"{torch_name}({shape[0]}{extra})"


def _torch(a: BatchNormArgs, shape: Shape, torch_name: str) -> torch.nn.Module:
    import torch.nn as nn

    cls = getattr(nn, torch_name)
    return cls(
        shape[0],
        eps=a.eps,
        momentum=a.momentum,
        affine=a.affine,
        track_running_stats=a.track_running_stats,
    )


def from_torch(m: Any, shape: Shape) -> FromTorch:
    """An nn.BatchNorm1d/2d's arguments; torch's momentum None (a running average) reads as 0.1."""
    momentum = 0.1 if m.momentum is None else float(m.momentum)
    args = BatchNormArgs(float(m.eps), momentum, bool(m.affine), bool(m.track_running_stats))
    return FromTorch(args, (m.num_features,))


def saves(a: BatchNormArgs, shape: Shape, ctx: SaveContext) -> Saved:
    """Its input and the batch's mean and inverse deviation per channel; CPU keeps those in
    float32 for a low-precision input once a float32 weight or running statistic is given."""
    stats = "float32" if a.affine or a.track_running_stats else ctx.dtype
    return Saved(ctx.dtype, input=ctx.dtype, own=(Own(0, 2 * shape[0], stats),))


_TRAITS = Traits(normaliser=True)


def _kind(rank: int) -> LayerKind[BatchNormArgs]:
    torch_name = f"BatchNorm{rank}d"
    on = "features or C×L" if rank == 1 else RANK_SHAPES[rank]
    return LayerKind(
        name=f"batchnorm{rank}d",
        parse=parse,
        apply=apply_1d if rank == 1 else lambda a, s: apply_nd(a, s, rank),
        operation=lambda a, s: operation(a, s, torch_name),
        to_torch=lambda a, s: _torch(a, s, torch_name),
        torch_type=torch_name,
        from_torch=from_torch,
        traits=_TRAITS,
        window=no_window,
        rf_step=elementwise_step,
        saves=saves,
        summary=f"batch normalisation over the channels of {on} "
        "(eps, momentum, affine, track_running_stats)",
    )


# batchnorm2d first: the order `archcalc kinds` lists them in, as before other ranks.
KINDS = [_kind(2), _kind(1), _kind(3)]
