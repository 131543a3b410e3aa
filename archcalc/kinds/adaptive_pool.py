"""global_avg_pool and adaptive_avg_pool2d: pooling to a fixed output size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from archcalc.kinds.base import (
    GLOBAL,
    ArgReader,
    Effect,
    LayerKind,
    Pair,
    Shape,
    SpatialStep,
    pair_text,
    require_image,
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


def _adaptive_apply(a: AdaptiveArgs, shape: Shape) -> Effect:
    c, h, w = require_image(shape, "adaptive_avg_pool2d")
    oh, ow = a.output
    # Torch's window for output i spans [⌊i·n/o⌋, ⌈(i+1)·n/o⌉). When o divides n
    # that is a plain pool with kernel = stride = n/o; otherwise windows differ
    # in size and this step (first window, mean stride) is the nearest regular one.
    kernel = (-(-h // oh), -(-w // ow))
    stride = (max(1, h // oh), max(1, w // ow))
    rf = (
        GLOBAL
        if (oh, ow) == (1, 1)
        else SpatialStep(kernel=kernel, stride=stride, pad_before=(0, 0))
    )
    return Effect(output_shape=(c, oh, ow), rf=rf)


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
    ),
    LayerKind(
        name="adaptive_avg_pool2d",
        parse=_adaptive_parse,
        apply=_adaptive_apply,
        operation=lambda a, s: f"AdaptiveAvgPool2d({pair_text(a.output)})",
        to_torch=_adaptive_torch,
        main_arg="output",
        summary="average pooling to a fixed output size (output)",
    ),
]
