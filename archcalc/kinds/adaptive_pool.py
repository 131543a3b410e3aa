"""global_avg_pool and adaptive_avg_pool2d: pooling to a fixed output size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
    GLOBAL,
    ArgReader,
    Effect,
    FromTorch,
    LayerKind,
    Pair,
    RFStep,
    Shape,
    Traits,
    Window,
    global_step,
    no_window,
    pair_text,
    require_image,
    torch_pair,
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


def _global_apply(a: GlobalPoolArgs, shape: Shape) -> Effect:
    c, _, _ = require_image(shape, "global_avg_pool")
    return Effect(output_shape=(c,) if a.flatten else (c, 1, 1), rf=GLOBAL)


def _global_torch(a: GlobalPoolArgs, shape: Shape) -> torch.nn.Module:
    from archcalc.bridge.modules import GlobalAvgPool

    return GlobalAvgPool(flatten=a.flatten)


@dataclass(frozen=True)
class AdaptiveArgs:
    output: Pair


def _adaptive_parse(r: ArgReader) -> AdaptiveArgs:
    args = AdaptiveArgs(output=r.pair("output"))
    r.done()
    return args


def _adaptive_window(a: AdaptiveArgs, shape: Shape) -> Window | None:
    """The nearest regular window to torch's, for a C×H×W input (None for another).

    Torch's window for output i spans [⌊i·n/o⌋, ⌈(i+1)·n/o⌉). When o divides n
    that is a plain pool with kernel = stride = n/o; otherwise windows differ
    in size and this one (first window, mean stride) is the nearest regular one.
    """
    if len(shape) != 3:
        return None
    _, h, w = shape
    oh, ow = a.output
    kernel = (-(-h // oh), -(-w // ow))
    stride = (max(1, h // oh), max(1, w // ow))
    return Window(kernel=kernel, stride=stride, dilation=(1, 1), pads=((0, 0), (0, 0)))


def _adaptive_step(a: AdaptiveArgs, shape: Shape) -> RFStep:
    if a.output == (1, 1):
        return GLOBAL  # one window over everything, whatever the input
    window = _adaptive_window(a, shape)
    return None if window is None else window.step()


def _adaptive_apply(a: AdaptiveArgs, shape: Shape) -> Effect:
    c, _, _ = require_image(shape, "adaptive_avg_pool2d")
    return Effect(output_shape=(c, *a.output), rf=_adaptive_step(a, shape))


def _adaptive_from(m: Any, s: Shape) -> FromTorch | None:
    out = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size,) * 2
    # torch: None keeps that axis's input size
    size = tuple(s[-2 + a] if o is None and len(s) >= 2 else (o or 1) for a, o in enumerate(out))
    return FromTorch(AdaptiveArgs(torch_pair(size)))


def _adaptive_torch(a: AdaptiveArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    return nn.AdaptiveAvgPool2d(a.output)


KINDS = [
    LayerKind(
        name="global_avg_pool",
        parse=_global_parse,
        apply=_global_apply,
        operation=lambda a, s: "AdaptiveAvgPool2d(1)" + (" + Flatten()" if a.flatten else ""),
        to_torch=_global_torch,
        summary="average over H×W to 1×1, flattened to C unless `flatten: false`",
        torch_type="GlobalAvgPool",  # archcalc.bridge.modules: AdaptiveAvgPool2d(1) + Flatten
        from_torch=lambda m, s: FromTorch(GlobalPoolArgs(bool(m.flatten))),
        traits=Traits(),
        window=no_window,
        rf_step=global_step,
    ),
    LayerKind(
        name="adaptive_avg_pool2d",
        parse=_adaptive_parse,
        apply=_adaptive_apply,
        operation=lambda a, s: f"AdaptiveAvgPool2d({pair_text(a.output)})",
        to_torch=_adaptive_torch,
        main_arg="output",
        summary="average pooling to a fixed output size (output)",
        torch_type="AdaptiveAvgPool2d",
        from_torch=_adaptive_from,
        traits=Traits(),
        window=_adaptive_window,
        rf_step=_adaptive_step,
    ),
]
