"""Pooling to a fixed output size, at every rank.

global_avg_pool and global_max_pool reduce every spatial axis to one value
per channel; adaptive_{avg,max}_pool{1,2,3}d to a given size per axis
(torch.nn.AdaptiveAvgPool2d and the rest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
    GLOBAL,
    RANK_SHAPES,
    ArgReader,
    Axes,
    Effect,
    FromTorch,
    LayerKind,
    Own,
    RFStep,
    SaveContext,
    Saved,
    Shape,
    Traits,
    Window,
    global_step,
    no_window,
    pair_text,
    require_maps,
    require_spatial,
    torch_axes,
)

if TYPE_CHECKING:
    import torch.nn


@dataclass(frozen=True)
class GlobalPoolArgs:
    flatten: bool


def _global_parse(r: ArgReader) -> GlobalPoolArgs:
    args = GlobalPoolArgs(flatten=r.bool_("flatten", True))
    r.done()
    return args


def _global_apply(a: GlobalPoolArgs, shape: Shape, what: str) -> Effect:
    c, sizes = require_maps(shape, what)
    return Effect(output_shape=(c,) if a.flatten else (c, *(1 for _ in sizes)), rf=GLOBAL)


def _global_operation(a: GlobalPoolArgs, shape: Shape, word: str) -> str:
    rank = max(1, len(shape) - 1)
    return f"Adaptive{word}Pool{rank}d(1)" + (" + Flatten()" if a.flatten else "")


def _global_torch(a: GlobalPoolArgs, cls: str) -> torch.nn.Module:
    from archcalc.bridge import modules

    module: torch.nn.Module = getattr(modules, cls)(flatten=a.flatten)
    return module


@dataclass(frozen=True)
class AdaptiveArgs:
    output: Axes


def _adaptive_parse(r: ArgReader, rank: int) -> AdaptiveArgs:
    args = AdaptiveArgs(output=r.axes("output", rank))
    r.done()
    return args


def _adaptive_window(a: AdaptiveArgs, shape: Shape) -> Window | None:
    """The nearest regular window to torch's, for an input of its rank (None for another).

    Torch's window for output i spans [⌊i·n/o⌋, ⌈(i+1)·n/o⌉). When o divides n
    that is a plain pool with kernel = stride = n/o; otherwise windows differ
    in size and this one (first window, mean stride) is the nearest regular one.
    """
    if len(shape) != len(a.output) + 1:
        return None
    sizes = shape[1:]
    kernel = tuple(-(-n // o) for n, o in zip(sizes, a.output, strict=True))
    stride = tuple(max(1, n // o) for n, o in zip(sizes, a.output, strict=True))
    return Window(
        kernel=kernel,
        stride=stride,
        dilation=(1,) * len(sizes),
        pads=((0, 0),) * len(sizes),
    )


def _adaptive_step(a: AdaptiveArgs, shape: Shape) -> RFStep:
    if all(o == 1 for o in a.output):
        return GLOBAL  # one window over everything, whatever the input
    window = _adaptive_window(a, shape)
    return None if window is None else window.step()


def _adaptive_apply(a: AdaptiveArgs, shape: Shape, what: str) -> Effect:
    c, _ = require_spatial(shape, len(a.output), what)
    return Effect(output_shape=(c, *a.output), rf=_adaptive_step(a, shape))


def _adaptive_from(m: Any, s: Shape, rank: int) -> FromTorch | None:
    if getattr(m, "return_indices", False):
        return None
    out = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size,) * rank
    # torch: None keeps that axis's input size
    known = len(s) == rank + 1
    size = tuple(s[1 + a] if o is None and known else (o or 1) for a, o in enumerate(out))
    return FromTorch(AdaptiveArgs(torch_axes(size, rank)))


def _adaptive_torch(a: AdaptiveArgs, torch_name: str) -> torch.nn.Module:
    import torch.nn as nn

    module: torch.nn.Module = getattr(nn, torch_name)(a.output)
    return module


def _pool_dtype(shape: Shape, ctx: SaveContext) -> str:
    # CPU autocast runs the 3-D adaptive pools in float32 (and so global pooling of a clip).
    return ctx.fp32() if len(shape) == 4 else ctx.dtype


def _saves(outputs: Axes, shape: Shape, ctx: SaveContext, is_max: bool) -> Saved:
    """Max pooling saves its input and the int64 index of every output; average pooling
    its input, except to a single value per channel, which torch computes as a mean."""
    dtype = _pool_dtype(shape, ctx)
    if is_max:
        n = shape[0]
        for o in outputs:
            n *= o
        return Saved(dtype, input=dtype, own=(Own(n, dtype="int64"),))
    if all(o == 1 for o in outputs):
        return Saved(dtype)
    return Saved(dtype, input=dtype)


def _scratch(outputs: Axes, shape: Shape, ctx: SaveContext, batch: int) -> int:
    """Without grad, torch's CPU adaptive max pooling still computes its int64 indices."""
    if ctx.training:
        return 0
    n = batch * shape[0]
    for o in outputs:
        n *= o
    return n * 8


def _global_kind(word: str, cls: str) -> LayerKind[GlobalPoolArgs]:
    name = f"global_{word.lower()}_pool"
    what = "average" if word == "Avg" else "maximum"
    return LayerKind(
        name=name,
        parse=_global_parse,
        apply=lambda a, s: _global_apply(a, s, name),
        operation=lambda a, s: _global_operation(a, s, word),
        to_torch=lambda a, s: _global_torch(a, cls),
        summary=f"the {what} over every spatial axis, flattened to C unless `flatten: false`",
        torch_type=cls,  # archcalc.bridge.modules: AdaptiveNdPool(1) + Flatten
        # the input shape, when known, names the pool of its rank in the operation text
        from_torch=lambda m, s: FromTorch(GlobalPoolArgs(bool(m.flatten)), s),
        traits=Traits(),
        window=no_window,
        rf_step=global_step,
        saves=lambda a, s, ctx: _saves((1,) * (len(s) - 1), s, ctx, word == "Max"),
        scratch=(lambda a, s, out, ctx, n: _scratch((1,) * (len(s) - 1), s, ctx, n))
        if word == "Max"
        else None,
    )


def _adaptive_kind(word: str, rank: int) -> LayerKind[AdaptiveArgs]:
    name, torch_name = f"adaptive_{word.lower()}_pool{rank}d", f"Adaptive{word}Pool{rank}d"
    what = "average" if word == "Avg" else "max"
    return LayerKind(
        name=name,
        parse=lambda r: _adaptive_parse(r, rank),
        apply=lambda a, s: _adaptive_apply(a, s, name),
        operation=lambda a, s: f"{torch_name}({pair_text(a.output)})",
        to_torch=lambda a, s: _adaptive_torch(a, torch_name),
        main_arg="output",
        summary=f"{what} pooling of {RANK_SHAPES[rank]} to a fixed output size (output)",
        torch_type=torch_name,
        from_torch=lambda m, s: _adaptive_from(m, s, rank),
        traits=Traits(),
        window=_adaptive_window,
        rf_step=_adaptive_step,
        saves=lambda a, s, ctx: _saves(a.output, s, ctx, word == "Max"),
        scratch=(lambda a, s, out, ctx, n: _scratch(a.output, s, ctx, n))
        if word == "Max"
        else None,
    )


KINDS = [
    _global_kind("Avg", "GlobalAvgPool"),
    _global_kind("Max", "GlobalMaxPool"),
    *(_adaptive_kind(word, rank) for word in ("Avg", "Max") for rank in (1, 2, 3)),
]
