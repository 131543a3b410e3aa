"""upsample: resizing by interpolation at any rank, torch.nn.Upsample.

``upsample: {scale: 2, mode: nearest}`` or ``upsample: {size: [h, w]}``;
``upsample: 2`` is the scale. ``scale`` is a positive number (an int or a
float) or one per axis; ``size`` an int or one per axis. Modes: ``nearest``
(any rank), ``linear`` (C×L), ``bilinear`` (C×H×W) and ``trilinear``
(C×D×H×W), the last three with ``align_corners`` (default false), as torch
requires. With a scale the output size is ⌊n·scale⌋ per axis, computed in
double precision as torch does.

Receptive field, per axis. Torch maps output unit j to the input coordinate
``src(j)`` and reads the input there: with ``scale`` written, the ratio r it
uses is 1/scale; with ``size``, n/out. So let s = 1/r (a Fraction: the
written scale, or out/n)::

    nearest                       reads ⌊j·r⌋:           kernel 1, stride 1/s, pad_before 0
    linear, align_corners false   src = (j + ½)/s − ½:   kernel 2, stride 1/s,
                                                         pad_before = (2s − 1)/(2s)
    linear, align_corners true    src = j·(n − 1)/(out − 1): kernel 2,
                                                         stride (n − 1)/(out − 1), pad_before ½

A linear mode reads the two input units around ``src(j)``, a window of 2
centred on it: unit 0's centre is −(s − 1)/(2s) without align_corners (torch
then clamps to the first unit) and 0 with it. From here on the field's
numbers (size, jump, start) are exact Fractions: the average field of an
output unit, since neighbouring outputs share inputs unevenly when s is not
whole, with unit 0's centre and bounds exact. Where align_corners' spacing is
undefined (one input or one output unit) the stride is the mean spacing n/out.
A Window (whole input units) cannot state these steps, so the kind has none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
    MAX_FLOAT,
    MAX_INT,
    RANK_SHAPES,
    ArgReader,
    Effect,
    FromTorch,
    LayerKind,
    Number,
    RFStep,
    Shape,
    ShapeError,
    SpatialStep,
    Traits,
    fmt_shape,
    no_window,
    require_maps,
    saves_nothing,
)
from archcalc.spec.tree import Node, describe

if TYPE_CHECKING:
    import torch.nn

# Each interpolating mode and the one spatial rank torch runs it on.
LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}
MODES = ("nearest", *LINEAR_MODES)


@dataclass(frozen=True)
class UpsampleArgs:
    """Exactly one of ``scale`` and ``size``; each one value for every axis, or one per axis."""

    scale: float | tuple[float, ...] | None
    size: int | tuple[int, ...] | None
    mode: str
    align_corners: bool  # only ever true for the linear modes

    def per_axis(self, rank: int) -> tuple[tuple[float, ...] | None, tuple[int, ...] | None]:
        """(scales, sizes) with one entry per axis of a ``rank``-axis input."""

        def spread(v: Any) -> Any:
            return None if v is None else v if isinstance(v, tuple) else (v,) * rank

        return spread(self.scale), spread(self.size)


def _number_text(v: float) -> str:
    return f"{v:g}"


def _scale_of(r: ArgReader, node: Node) -> float | tuple[float, ...]:
    def one(item: Node) -> float:
        v = item.value
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            raise r.error(
                item,
                f"`scale` expects a positive number or one per axis, but gets {describe(item)}",
                hint="e.g. `scale: 2` or `scale: [2, 2]`",
            )
        if not 0 < v <= MAX_FLOAT:
            raise r.error(
                item,
                f"`scale` expects a positive finite number, but gets {_number_text(float(v))}",
                hint="a scale below 1 shrinks, above 1 enlarges",
            )
        return float(v)

    if node.is_list:
        if not 1 <= len(node.value) <= 3:
            raise r.error(
                node,
                f"`scale` expects a number or one per spatial axis (1 to 3), "
                f"but gets {len(node.value)} values",
            )
        return tuple(one(item) for item in node.value)
    return one(node)


def _size_of(r: ArgReader, node: Node) -> int | tuple[int, ...]:
    def one(item: Node) -> int:
        v = item.value
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_INT:
            raise r.error(
                item,
                f"`size` expects a positive integer or one per axis, but gets {describe(item)}",
                hint="e.g. `size: [64, 64]`",
            )
        return v

    if node.is_list:
        if not 1 <= len(node.value) <= 3:
            raise r.error(
                node,
                f"`size` expects an integer or one per spatial axis (1 to 3), "
                f"but gets {len(node.value)} values",
            )
        return tuple(one(item) for item in node.value)
    return one(node)


def parse(r: ArgReader) -> UpsampleArgs:
    scale_node = r.optional("scale")
    size_node = r.optional("size")
    mode_node = r.optional("mode")
    align_node = r.optional("align_corners")
    r.done()
    if (scale_node is None) == (size_node is None):
        raise r.error(
            r.node,
            "upsample expects exactly one of `scale` and `size`, but gets "
            + ("both" if scale_node is not None else "neither"),
            hint="`upsample: 2` doubles every spatial axis; `upsample: {size: [64, 64]}` "
            "resizes to 64×64",
        )
    mode = "nearest"
    if mode_node is not None:
        if not isinstance(mode_node.value, str) or mode_node.value not in MODES:
            raise r.error(
                mode_node,
                f"`mode` expects one of {', '.join(MODES)}, but gets {describe(mode_node)}",
                hint="linear is for C×L, bilinear for C×H×W, trilinear for C×D×H×W inputs",
            )
        mode = mode_node.value
    align = False
    if align_node is not None:
        if not isinstance(align_node.value, bool):
            raise r.error(
                align_node,
                f"`align_corners` expects true or false, but gets {describe(align_node)}",
            )
        if mode not in LINEAR_MODES:
            raise r.error(
                align_node,
                f"`align_corners` expects an interpolating mode (linear, bilinear, trilinear), "
                f"but the mode is {mode}",
                hint="torch refuses align_corners with nearest, even false; leave it out",
            )
        align = align_node.value
    return UpsampleArgs(
        scale=None if scale_node is None else _scale_of(r, scale_node),
        size=None if size_node is None else _size_of(r, size_node),
        mode=mode,
        align_corners=align,
    )


def _check_rank(a: UpsampleArgs, shape: Shape) -> tuple[int, tuple[int, ...]]:
    c, sizes = require_maps(shape, "upsample")
    rank = len(sizes)
    want = LINEAR_MODES.get(a.mode)
    if want is not None and want != rank:
        right = next(m for m, r in LINEAR_MODES.items() if r == rank)
        raise ShapeError(
            f"expects a {RANK_SHAPES[want]} input for mode {a.mode}, but gets {fmt_shape(shape)}",
            hint=f"for a {RANK_SHAPES[rank]} input use `mode: {right}`",
        )
    for what, v in (("scale", a.scale), ("size", a.size)):
        if isinstance(v, tuple) and len(v) != rank:
            raise ShapeError(
                f"expects one `{what}` per spatial axis of its {fmt_shape(shape)} input "
                f"({rank}), but gets {len(v)}",
                hint=f"write one number for every axis, or {rank}",
            )
    return c, sizes


def output_sizes(a: UpsampleArgs, sizes: tuple[int, ...]) -> tuple[int, ...]:
    """The output size per axis: ``size``, or ⌊n·scale⌋ in double precision (torch's)."""
    scales, fixed = a.per_axis(len(sizes))
    if fixed is not None:
        return fixed
    assert scales is not None
    # Past MAX_INT apply refuses the size anyway; a float's floor there could be infinite.
    return tuple(
        math.floor(p) if (p := n * s) <= MAX_INT else MAX_INT + 1
        for n, s in zip(sizes, scales, strict=True)
    )


def _exact(v: float) -> Fraction:
    """The scale as written (``1.1`` is 11/10), not the binary float's long fraction; a decimal
    of more than six places (1/3 written out) as the nearest fraction of denominator up to 10⁶,
    so that its field stays within the receptive field's bounds on denominators."""
    return Fraction(repr(v)).limit_denominator(10**6)


def rf_step(a: UpsampleArgs, shape: Shape) -> RFStep:
    """The per-axis step the module docstring derives; None on an input of no spatial axes."""
    sizes = shape[1:]
    if not sizes:
        return None
    outs = output_sizes(a, sizes)
    scales, _ = a.per_axis(len(sizes))
    kernel: list[Number] = []
    stride: list[Number] = []
    pad: list[Number] = []
    for axis, (n, o) in enumerate(zip(sizes, outs, strict=True)):
        s = _exact(scales[axis]) if scales is not None else Fraction(o, n)
        if a.mode == "nearest":
            kernel.append(1)
            stride.append(_plain(1 / s))
            pad.append(0)
        elif a.align_corners and n > 1 and o > 1:
            kernel.append(2)
            stride.append(_plain(Fraction(n - 1, o - 1)))
            pad.append(Fraction(1, 2))
        else:
            spacing = 1 / s if not a.align_corners else Fraction(n, o)
            kernel.append(2)
            stride.append(_plain(spacing))
            pad.append(_plain(1 - spacing / 2) if not a.align_corners else Fraction(1, 2))
    return SpatialStep(kernel=tuple(kernel), stride=tuple(stride), pad_before=tuple(pad))


def _plain(x: Fraction) -> Number:
    return x.numerator if x.denominator == 1 else x


def apply(a: UpsampleArgs, shape: Shape) -> Effect:
    c, sizes = _check_rank(a, shape)
    outs = output_sizes(a, sizes)
    if any(not 1 <= o <= MAX_INT for o in outs):
        raise ShapeError(
            f"expects an output of 1 to {MAX_INT:,} per axis, but ⌊n·scale⌋ gives "
            f"{fmt_shape(outs)} for a {fmt_shape(shape)} input",
            hint="raise the scale, or write the output `size`",
        )
    return Effect(output_shape=(c, *outs), rf=rf_step(a, shape))


def operation(a: UpsampleArgs, shape: Shape) -> str:
    """As torch prints the module, with align_corners when it is true (torch leaves it out)."""
    what = f"scale_factor={a.scale!r}" if a.scale is not None else f"size={a.size!r}"
    text = f"{what}, mode={a.mode!r}"
    if a.align_corners:
        text += ", align_corners=True"
    return f"Upsample({text})"


def to_torch(a: UpsampleArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    return nn.Upsample(
        size=a.size,
        scale_factor=a.scale,
        mode=a.mode,
        # None as a torch user leaves it: false for the linear modes, and nearest refuses any.
        align_corners=True if a.align_corners else None,
    )


def from_torch(m: Any, shape: Shape) -> FromTorch | None:
    """An nn.Upsample; None for modes archcalc has no rule for (bicubic, area, nearest-exact)
    and for recompute_scale_factor, which maps coordinates by the sizes, not the scale."""
    if m.mode not in MODES or m.recompute_scale_factor:
        return None
    scale = m.scale_factor
    if isinstance(scale, (tuple, list)):
        scale = tuple(float(v) for v in scale)
    elif scale is not None:
        scale = float(scale)
    size = m.size
    if isinstance(size, (tuple, list)):
        size = tuple(int(v) for v in size)
    elif size is not None:
        size = int(size)
    return FromTorch(UpsampleArgs(scale, size, m.mode, bool(m.align_corners)))


KINDS = [
    LayerKind(
        name="upsample",
        parse=parse,
        apply=apply,
        operation=operation,
        to_torch=to_torch,
        main_arg="scale",
        summary="resize any rank by interpolation (scale or size, mode: nearest, linear, "
        "bilinear, trilinear; align_corners)",
        torch_type="Upsample",
        from_torch=from_torch,
        traits=Traits(),
        window=no_window,
        rf_step=rf_step,
        saves=saves_nothing,  # interpolation's backward needs only the sizes
    )
]
