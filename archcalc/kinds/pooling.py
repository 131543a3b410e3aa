"""maxpool1d/2d/3d and avgpool1d/2d/3d: sliding-window pooling, torch.nn.MaxPoolNd / AvgPoolNd.

Every rank shares torch's pooling shape rule (ceil_mode included) and its
limit that padding is at most half the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
    RANK_SHAPES,
    ArgReader,
    Axes,
    Effect,
    FromTorch,
    LayerKind,
    Own,
    Padding,
    Pair,
    SaveContext,
    Saved,
    Shape,
    ShapeError,
    SpatialStep,
    Traits,
    Window,
    derive_window_fields,
    fmt_shape,
    padding_text,
    pair_text,
    pool_out,
    require_spatial,
    side_pads,
    torch_axes,
    window_out,
    window_step,
)

if TYPE_CHECKING:
    import torch.nn


@dataclass(frozen=True)
class PoolArgs:
    kernel: Axes
    stride: Axes
    # One int per axis, (before, after) per axis, or "same" / "valid" (TensorFlow's split).
    padding: Padding
    dilation: Axes
    ceil_mode: bool
    count_include_pad: bool = True  # avgpool only
    # Derived once here, as analysis, lint and the bridge each ask for them.
    effective_kernel: Axes = field(init=False, repr=False, compare=False)
    _size_free_pads: tuple[Pair, ...] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        derive_window_fields(self)

    @property
    def rank(self) -> int:
        return len(self.kernel)

    def pads(self, sizes: Axes | None = None) -> tuple[Pair, ...]:
        """(before, after) padding per axis as written (ceil_mode's extra not included)."""
        fixed = self._size_free_pads
        if fixed is not None:
            return fixed
        return side_pads(self.padding, self.effective_kernel, self.stride, sizes)

    def torch_padding(self, sizes: Axes) -> Axes | None:
        """What nn.MaxPoolNd / AvgPoolNd take for this padding, or None where they cannot."""
        if self.padding == "same" and any(s != 1 for s in self.stride):
            return None  # TensorFlow's split depends on the input size: padded at every call
        pads = self.pads(sizes)
        if any(a != b or a > k // 2 for (a, b), k in zip(pads, self.kernel, strict=True)):
            return None
        return tuple(a for a, _ in pads)


def _parse(r: ArgReader, rank: int, with_dilation: bool) -> PoolArgs:
    kernel = r.axes("kernel", rank)
    stride = r.axes("stride", rank, kernel)  # torch: stride defaults to the kernel
    padding = r.padding("padding", rank=rank, per_side=True)
    dilation = r.axes("dilation", rank, 1) if with_dilation else (1,) * rank
    ceil_mode = r.bool_("ceil_mode", False)
    count_include_pad = True if with_dilation else r.bool_("count_include_pad", True)
    r.done()
    if not isinstance(padding, str):
        for k, (before, after) in zip(
            kernel, side_pads(padding, kernel, stride, None), strict=True
        ):
            if max(before, after) > k // 2:
                raise r.error(
                    r.node,
                    f"`padding` expects at most half the kernel ({k // 2}) on each side, "
                    f"but gets {max(before, after)}",
                    hint="torch refuses larger pooling padding",
                )
    uneven = not isinstance(padding, str) and any(
        a != b for a, b in side_pads(padding, kernel, stride, None)
    )
    if ceil_mode and (uneven or (padding == "same" and any(s != 1 for s in stride))):
        raise r.error(
            r.node,
            "`ceil_mode` expects padding even on both sides, but gets "
            + ("`padding: same` with a stride" if padding == "same" else "per-side padding"),
            hint="per-side (TensorFlow-style) padding already fixes the output size; "
            "drop `ceil_mode`",
        )
    return PoolArgs(kernel, stride, padding, dilation, ceil_mode, count_include_pad)


def _out(n: int, k_eff: int, stride: int, before: int, after: int, ceil_mode: bool) -> int:
    """Torch's pooling output size with (before, after) padding, ceil_mode's rule included."""
    if before == after:
        return pool_out(n, k_eff, stride, before, ceil_mode)
    return window_out(n, k_eff, stride, before + after)  # ceil_mode is refused here


def window(a: PoolArgs, shape: Shape) -> Window:
    """The pooling window, with ceil_mode's implicit padding after the input.

    With ceil_mode the last window may run past the padded input; torch reads
    that part as padding (−inf for max, nothing for the average), so it is
    padding after. On an input too small for any window (or of another rank),
    the declared padding.
    """
    sizes = shape[1:] if len(shape) == a.rank + 1 else (0,) * a.rank
    pads = []
    for n, k_eff, s, (p0, p1) in zip(
        sizes, a.effective_kernel, a.stride, a.pads(sizes), strict=True
    ):
        out = _out(n, k_eff, s, p0, p1, a.ceil_mode)
        extra = max(0, (out - 1) * s + k_eff - (n + p0 + p1)) if out >= 1 else 0
        pads.append((p0, p1 + extra))
    return Window(a.kernel, a.stride, a.dilation, tuple(pads))


def _apply(a: PoolArgs, shape: Shape, what: str) -> Effect:
    c, sizes = require_spatial(shape, a.rank, what)
    # aten's pool3d_shape_check: AvgPool3d alone refuses an input smaller than its
    # kernel on any axis, whatever the padding.
    if what == "avgpool3d" and any(n < k for n, k in zip(sizes, a.kernel, strict=True)):
        raise ShapeError(
            f"expects an input of at least {fmt_shape(a.kernel)} (torch's AvgPool3d counts "
            f"no padding here), but gets {fmt_shape(shape)}",
            hint="lower the kernel or give a larger `input`",
        )
    ks = a.effective_kernel
    pads = a.pads(sizes)
    outs = tuple(
        _out(n, k, s, p0, p1, a.ceil_mode)
        for n, k, s, (p0, p1) in zip(sizes, ks, a.stride, pads, strict=True)
    )
    if any(o < 1 for o in outs):
        least = "×".join(str(max(1, k - p0 - p1)) for k, (p0, p1) in zip(ks, pads, strict=True))
        raise ShapeError(
            f"expects an input of at least {least} for a {fmt_shape(ks)} window, "
            f"but gets {fmt_shape(shape)} "
            f"(output would be {fmt_shape(tuple(max(o, 0) for o in outs))})",
            hint="the spatial size collapsed; remove a pooling layer or give a larger `input`",
        )
    # window(a, shape).step(): ceil_mode's extra padding lies after, where the field's
    # start does not see it
    step = SpatialStep(kernel=ks, stride=a.stride, pad_before=tuple(p[0] for p in pads))
    return Effect(output_shape=(c, *outs), rf=step)


def _operation(a: PoolArgs, torch_name: str) -> str:
    parts = [pair_text(a.kernel)]
    if a.stride != a.kernel:
        parts.append(f"stride={pair_text(a.stride)}")
    pad = padding_text(a.padding)
    if pad is not None:
        parts.append(f"pad={pad}")
    if any(d != 1 for d in a.dilation):
        parts.append(f"dilation={pair_text(a.dilation)}")
    if a.ceil_mode:
        parts.append("ceil_mode=True")
    if not a.count_include_pad:
        parts.append("count_include_pad=False")
    return f"{torch_name}({', '.join(parts)})"


def _max_torch(a: PoolArgs, shape: Shape, torch_name: str) -> torch.nn.Module:
    import torch.nn as nn

    padding = a.torch_padding(shape[1:])
    if padding is None:
        return _padded(a, shape, torch_name)
    module: torch.nn.Module = getattr(nn, torch_name)(
        a.kernel, stride=a.stride, padding=padding, dilation=a.dilation, ceil_mode=a.ceil_mode
    )
    return module


def _avg_torch(a: PoolArgs, shape: Shape, torch_name: str) -> torch.nn.Module:
    import torch.nn as nn

    padding = a.torch_padding(shape[1:])
    if padding is None:
        return _padded(a, shape, torch_name)
    module: torch.nn.Module = getattr(nn, torch_name)(
        a.kernel,
        stride=a.stride,
        padding=padding,
        ceil_mode=a.ceil_mode,
        count_include_pad=a.count_include_pad,
    )
    return module


def _padded(a: PoolArgs, shape: Shape, torch_name: str) -> torch.nn.Module:
    """archcalc's PaddedMaxPoolNd / PaddedAvgPoolNd: padding torch's pooling cannot do."""
    from archcalc.bridge import modules

    sides = a.padding if a.padding == "same" else a.pads(shape[1:])
    cls = getattr(modules, f"Padded{torch_name}")
    if torch_name.startswith("Max"):
        module: torch.nn.Module = cls(a.kernel, a.stride, sides, dilation=a.dilation)
    else:
        module = cls(a.kernel, a.stride, sides, count_include_pad=a.count_include_pad)
    return module


def _from_torch(m: Any, rank: int, is_max: bool) -> FromTorch | None:
    # return_indices makes forward return a tuple, which no spec layer does.
    if getattr(m, "return_indices", False):
        return None
    sides = vars(m).get("sides")  # a getattr miss on a module is slow
    if sides is not None:  # archcalc's PaddedMaxPoolNd / PaddedAvgPoolNd
        pad: Padding = (
            sides if isinstance(sides, str) else tuple((int(b), int(e)) for b, e in sides)
        )
        return FromTorch(
            PoolArgs(
                torch_axes(m.kernel_size, rank),
                torch_axes(m.stride, rank),
                pad,
                torch_axes(getattr(m, "dilation", 1), rank),
                False,
                bool(getattr(m, "count_include_pad", True)),
            )
        )
    kernel = torch_axes(m.kernel_size, rank)
    stride = kernel if not m.stride else torch_axes(m.stride, rank)
    if is_max:
        dilation, count_include_pad = torch_axes(m.dilation, rank), True
    else:
        # divisor_override replaces the window's size as divisor: not in a spec.
        if getattr(m, "divisor_override", None) is not None:
            return None
        dilation, count_include_pad = (1,) * rank, bool(m.count_include_pad)
    args = PoolArgs(
        kernel,
        stride,
        torch_axes(m.padding, rank),
        dilation,
        bool(m.ceil_mode),
        count_include_pad,
    )
    return FromTorch(args)


def saves(a: PoolArgs, shape: Shape, ctx: SaveContext, is_max: bool) -> Saved:
    """Its input (max pooling also the int64 index of every output). Padding torch's pooling
    cannot do is a padded copy of the input, saved in its place, and an average over it that
    leaves the padding out divides by a saved map of window sizes. CPU autocast runs 3-D
    pooling in float32."""
    dtype = ctx.fp32() if a.rank == 3 else ctx.dtype
    outs = _apply(a, shape, "").output_shape
    own: list[Own] = []
    if is_max:
        own.append(Own(_count(outs), dtype="int64"))
    if a.torch_padding(shape[1:]) is not None:
        return Saved(dtype, input=dtype, own=tuple(own))
    padded = shape[0]
    for n, (p0, p1) in zip(shape[1:], a.pads(shape[1:]), strict=True):
        padded *= n + p0 + p1
    own.append(Own(padded, dtype=dtype, inference=True))
    if not is_max and not a.count_include_pad:
        own.append(Own(0, _count(outs[1:]), dtype))
    return Saved(dtype, own=tuple(own))


def scratch(a: PoolArgs, shape: Shape, out_shape: Shape, ctx: SaveContext, batch: int) -> int:
    """Without grad, torch's CPU max pooling over two or three axes still computes the int64
    index of every output (and drops it); over one axis it does not."""
    if ctx.training or a.rank == 1:
        return 0
    return batch * _count(out_shape) * 8


def _count(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _kind(rank: int, is_max: bool) -> LayerKind[PoolArgs]:
    word = "max" if is_max else "avg"
    name, torch_name = f"{word}pool{rank}d", f"{word.capitalize()}Pool{rank}d"
    build = _max_torch if is_max else _avg_torch
    extra = "dilation, ceil_mode" if is_max else "ceil_mode, count_include_pad"
    return LayerKind(
        name=name,
        parse=lambda r: _parse(r, rank, with_dilation=is_max),
        apply=lambda a, s: _apply(a, s, name),
        operation=lambda a, s: _operation(a, torch_name),
        to_torch=lambda a, s: build(a, s, torch_name),
        main_arg="kernel",
        torch_type=torch_name,
        torch_aliases=(f"Padded{torch_name}",),
        from_torch=lambda m, s: _from_torch(m, rank, is_max),
        traits=Traits(),
        window=window,
        rf_step=window_step(window),
        saves=lambda a, s, ctx: saves(a, s, ctx, is_max),
        scratch=scratch if is_max else None,
        summary=f"{'max' if is_max else 'average'} pooling on {RANK_SHAPES[rank]} "
        f"(kernel, stride=kernel, padding, {extra})",
    )


KINDS = [_kind(rank, is_max) for is_max in (True, False) for rank in (1, 2, 3)]
