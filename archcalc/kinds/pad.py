"""pad: padding of every spatial axis at any rank, torch.nn.ConstantPad{1,2,3}d,
ReflectionPad…, ReplicationPad… or CircularPad…, as ``mode`` says.

``pad: {padding: 1, mode: constant, value: 0}`` (``pad: 1`` for short).
``padding`` is one int for every side of every axis, or one entry per spatial
axis in the input's order (L; H, W; D, H, W), each an int (both sides) or a
``[before, after]`` pair: ``padding: [[0, 1], [0, 1]]`` pads one row below and
one column right. (torch's ``F.pad`` lists the last axis first, as
(left, right, top, bottom, …); archcalc writes axes in shape order, like every
other per-axis argument, and prints torch's order in the operation text.)
Modes are F.pad's: ``constant`` (filled with ``value``, default 0),
``reflect`` (each side less than the axis' size, as torch requires),
``replicate``, and ``circular`` (each side at most the axis' size).

The receptive field shifts by the padding before: kernel 1, stride 1,
pad_before the padding before, a 1-wide window padded on each side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
    MAX_INT,
    ArgReader,
    Axes,
    Effect,
    FromTorch,
    LayerKind,
    Pair,
    SaveContext,
    Saved,
    Shape,
    ShapeError,
    Traits,
    Window,
    fmt_shape,
    require_maps,
    window_step,
)
from archcalc.spec.tree import Node, describe

if TYPE_CHECKING:
    import torch.nn

# F.pad's mode → the torch.nn class family that pads that way.
CLASSES = {
    "constant": "ConstantPad",
    "reflect": "ReflectionPad",
    "replicate": "ReplicationPad",
    "circular": "CircularPad",
}
_MODE_OF = {cls: mode for mode, cls in CLASSES.items()} | {"ZeroPad": "constant"}


@dataclass(frozen=True)
class PadArgs:
    padding: int | tuple[Pair, ...]  # every side of every axis, or (before, after) per axis
    mode: str = "constant"
    value: float = 0.0

    def pairs(self, rank: int) -> tuple[Pair, ...]:
        if isinstance(self.padding, tuple):
            return self.padding
        return ((self.padding, self.padding),) * rank

    def torch_padding(self, rank: int) -> tuple[int, ...]:
        """F.pad's order: the last axis first, (before, after) each."""
        return tuple(p for pair in reversed(self.pairs(rank)) for p in pair)


def _side(r: ArgReader, node: Node) -> int:
    v = node.value
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_INT:
        raise r.error(
            node,
            f"`padding` expects integers ≥ 0, but gets {describe(node)}",
            hint="`padding: 1`, one per axis `[1, 2]`, or (before, after) pairs `[[0, 1], [0, 1]]`",
        )
    return v


def _padding(r: ArgReader, node: Node) -> int | tuple[Pair, ...]:
    if not node.is_list:
        return _side(r, node)
    if not 1 <= len(node.value) <= 3:
        raise r.error(
            node,
            f"`padding` expects an integer or one entry per spatial axis (1 to 3), "
            f"but gets {len(node.value)} values",
            hint="each entry is an int (both sides) or a [before, after] pair",
        )
    pairs = []
    for item in node.value:
        if item.is_list:
            if len(item.value) != 2:
                raise r.error(
                    item,
                    f"`padding` expects [before, after] for an axis, but gets "
                    f"{len(item.value)} values",
                )
            pairs.append((_side(r, item.value[0]), _side(r, item.value[1])))
        else:
            v = _side(r, item)
            pairs.append((v, v))
    return tuple(pairs)


def parse(r: ArgReader) -> PadArgs:
    node = r.optional("padding")
    mode_node = r.optional("mode")
    value_node = r.values.get("value")
    mode = "constant"
    if mode_node is not None:
        if not isinstance(mode_node.value, str) or mode_node.value not in CLASSES:
            raise r.error(
                mode_node,
                f"`mode` expects one of {', '.join(CLASSES)}, but gets {describe(mode_node)}",
            )
        mode = mode_node.value
    if value_node is not None and mode != "constant":
        raise r.error(
            value_node,
            f"`value` expects mode constant, but the mode is {mode}",
            hint=f"{mode} padding copies the input's own values; leave `value` out",
        )
    value = r.float_("value", 0.0) if mode == "constant" else 0.0
    r.done()
    if node is None:
        raise r.error(
            r.node,
            "pad expects argument `padding`, but it is missing",
            hint="e.g. `pad: 1` or `pad: {padding: [[0, 1], [0, 1]], mode: reflect}`",
        )
    return PadArgs(_padding(r, node), mode, value)


def _check(a: PadArgs, shape: Shape) -> tuple[int, Axes, tuple[Pair, ...]]:
    c, sizes = require_maps(shape, "pad")
    if isinstance(a.padding, tuple) and len(a.padding) != len(sizes):
        raise ShapeError(
            f"expects one `padding` entry per spatial axis of its {fmt_shape(shape)} input "
            f"({len(sizes)}), but gets {len(a.padding)}",
            hint=f"write one integer for every axis, or {len(sizes)} entries",
        )
    pairs = a.pairs(len(sizes))
    for n, (before, after) in zip(sizes, pairs, strict=True):
        side = max(before, after)
        if a.mode == "reflect" and side >= n:
            raise ShapeError(
                f"expects reflect padding less than each axis' size, but pads {side} on an "
                f"axis of {n} ({fmt_shape(shape)})",
                hint="torch refuses it: a reflection cannot reach past the opposite edge; "
                "use replicate, or pad less",
            )
        if a.mode == "circular" and side > n:
            raise ShapeError(
                f"expects circular padding at most each axis' size, but pads {side} on an "
                f"axis of {n} ({fmt_shape(shape)})",
                hint="torch refuses to wrap around more than once; pad less",
            )
        if n + before + after > MAX_INT:
            raise ShapeError(
                f"expects an output of at most {MAX_INT:,} per axis, but pads {n} to "
                f"{n + before + after:,}",
                hint="pad less",
            )
    return c, sizes, pairs


def window(a: PadArgs, shape: Shape) -> Window | None:
    """A 1-wide, stride-1 window padded as the layer pads; None on an input it does not fit."""
    try:
        _, sizes, pairs = _check(a, shape)
    except ShapeError:
        return None
    ones = (1,) * len(sizes)
    return Window(ones, ones, ones, pairs)


def apply(a: PadArgs, shape: Shape) -> Effect:
    c, sizes, pairs = _check(a, shape)
    w = window(a, shape)
    assert w is not None
    outs = tuple(n + b + e for n, (b, e) in zip(sizes, pairs, strict=True))
    return Effect(output_shape=(c, *outs), rf=w.step())


def _rank(a: PadArgs, shape: Shape) -> int:
    return len(a.padding) if isinstance(a.padding, tuple) else max(1, len(shape) - 1)


def operation(a: PadArgs, shape: Shape) -> str:
    """torch's repr of the module: ``ReflectionPad2d((1, 1, 1, 1))``."""
    rank = _rank(a, shape)
    cls = f"{CLASSES[a.mode]}{rank}d"
    padding = a.torch_padding(rank)
    if a.mode == "constant":
        return f"{cls}(padding={padding}, value={a.value!r})"
    return f"{cls}({padding})"


def to_torch(a: PadArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    rank = _rank(a, shape)
    cls = getattr(nn, f"{CLASSES[a.mode]}{rank}d")
    padding = a.padding if isinstance(a.padding, int) else a.torch_padding(rank)
    module: torch.nn.Module = cls(padding, a.value) if a.mode == "constant" else cls(padding)
    return module


def from_torch(m: Any, shape: Shape) -> FromTorch | None:
    """Any of the padding classes, its per-axis pairs in shape order; None for negative
    padding (torch crops with it; a spec writes `center_crop`)."""
    name = type(m).__name__
    rank = int(name[-2])
    mode = _MODE_OF[name[:-2]]
    flat = tuple(int(p) for p in m.padding)
    if any(p < 0 for p in flat):
        return None
    pairs = tuple((flat[2 * i], flat[2 * i + 1]) for i in reversed(range(rank)))
    value = float(m.value) if mode == "constant" else 0.0
    return FromTorch(PadArgs(pairs, mode, value))


# The padding torch's CPU autocast runs in float32.
_FLOAT32_PADS = {
    ("reflect", 1),
    ("reflect", 2),
    ("replicate", 1),
    ("replicate", 2),
    ("replicate", 3),
}


def saves(a: PadArgs, shape: Shape, ctx: SaveContext) -> Saved:
    """Reflection and replication read their input back in backward; constant and circular
    padding (slices and copies) need only its size."""
    if a.mode in ("constant", "circular"):
        return Saved(ctx.dtype)
    dtype = ctx.fp32() if (a.mode, _rank(a, shape)) in _FLOAT32_PADS else ctx.dtype
    return Saved(dtype, input=dtype)


KINDS = [
    LayerKind(
        name="pad",
        parse=parse,
        apply=apply,
        operation=operation,
        to_torch=to_torch,
        main_arg="padding",
        summary="pad every spatial axis, any rank (padding: an int, one per axis or "
        "[before, after] pairs; mode: constant, reflect, replicate, circular; value); "
        "builds torch's ConstantPad/ReflectionPad/ReplicationPad/CircularPad{1,2,3}d",
        torch_type="ConstantPad2d",
        torch_aliases=tuple(
            f"{cls}{rank}d"
            for cls in ("ConstantPad", "ZeroPad", "ReflectionPad", "ReplicationPad", "CircularPad")
            for rank in (1, 2, 3)
            if f"{cls}{rank}d" != "ConstantPad2d"
        ),
        from_torch=from_torch,
        traits=Traits(),
        window=window,
        rf_step=window_step(window),
        saves=saves,
    )
]
