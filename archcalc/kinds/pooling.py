"""maxpool1d/2d/3d and avgpool1d/2d/3d: sliding-window pooling, torch.nn.MaxPoolNd / AvgPoolNd.

Every rank shares torch's pooling shape rule (ceil_mode included) and its
limit that padding is at most half the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
    RANK_SHAPES,
    ArgReader,
    Axes,
    Effect,
    FromTorch,
    LayerKind,
    Shape,
    ShapeError,
    Traits,
    Window,
    effective,
    fmt_shape,
    pair_text,
    pool_out,
    require_spatial,
    torch_axes,
    window_step,
)

if TYPE_CHECKING:
    import torch.nn


@dataclass(frozen=True)
class PoolArgs:
    kernel: Axes
    stride: Axes
    padding: Axes
    dilation: Axes
    ceil_mode: bool
    count_include_pad: bool = True  # avgpool only

    @property
    def rank(self) -> int:
        return len(self.kernel)

    @property
    def effective_kernel(self) -> Axes:
        return effective(self.kernel, self.dilation)


def _parse(r: ArgReader, rank: int, with_dilation: bool) -> PoolArgs:
    kernel = r.axes("kernel", rank)
    stride = r.axes("stride", rank, kernel)  # torch: stride defaults to the kernel
    padding = r.padding("padding", allow_same=False, rank=rank)
    assert isinstance(padding, tuple)
    dilation = r.axes("dilation", rank, 1) if with_dilation else (1,) * rank
    ceil_mode = r.bool_("ceil_mode", False)
    count_include_pad = True if with_dilation else r.bool_("count_include_pad", True)
    r.done()
    for k, p in zip(kernel, padding, strict=True):
        if p > k // 2:
            raise r.error(
                r.node,
                f"`padding` expects at most half the kernel ({k // 2}), but gets {p}",
                hint="torch refuses larger pooling padding",
            )
    return PoolArgs(kernel, stride, padding, dilation, ceil_mode, count_include_pad)


def window(a: PoolArgs, shape: Shape) -> Window:
    """The pooling window, with ceil_mode's implicit padding after the input.

    With ceil_mode the last window may run past the padded input; torch reads
    that part as padding (−inf for max, nothing for the average), so it is
    padding after. On an input too small for any window (or of another rank),
    the declared padding.
    """
    sizes = shape[1:] if len(shape) == a.rank + 1 else (0,) * a.rank
    pads = []
    for n, k_eff, s, p in zip(sizes, a.effective_kernel, a.stride, a.padding, strict=True):
        out = pool_out(n, k_eff, s, p, a.ceil_mode)
        extra = max(0, (out - 1) * s + k_eff - (n + 2 * p)) if out >= 1 else 0
        pads.append((p, p + extra))
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
    outs = tuple(
        pool_out(n, k, s, p, a.ceil_mode)
        for n, k, s, p in zip(sizes, ks, a.stride, a.padding, strict=True)
    )
    if any(o < 1 for o in outs):
        least = "×".join(str(max(1, k - 2 * p)) for k, p in zip(ks, a.padding, strict=True))
        raise ShapeError(
            f"expects an input of at least {least} for a {fmt_shape(ks)} window, "
            f"but gets {fmt_shape(shape)} "
            f"(output would be {fmt_shape(tuple(max(o, 0) for o in outs))})",
            hint="the spatial size collapsed; remove a pooling layer or give a larger `input`",
        )
    return Effect(output_shape=(c, *outs), rf=window(a, shape).step())


def _operation(a: PoolArgs, torch_name: str) -> str:
    parts = [pair_text(a.kernel)]
    if a.stride != a.kernel:
        parts.append(f"stride={pair_text(a.stride)}")
    if any(a.padding):
        parts.append(f"pad={pair_text(a.padding)}")
    if any(d != 1 for d in a.dilation):
        parts.append(f"dilation={pair_text(a.dilation)}")
    if a.ceil_mode:
        parts.append("ceil_mode=True")
    if not a.count_include_pad:
        parts.append("count_include_pad=False")
    return f"{torch_name}({', '.join(parts)})"


def _max_torch(a: PoolArgs, torch_name: str) -> torch.nn.Module:
    import torch.nn as nn

    module: torch.nn.Module = getattr(nn, torch_name)(
        a.kernel, stride=a.stride, padding=a.padding, dilation=a.dilation, ceil_mode=a.ceil_mode
    )
    return module


def _avg_torch(a: PoolArgs, torch_name: str) -> torch.nn.Module:
    import torch.nn as nn

    module: torch.nn.Module = getattr(nn, torch_name)(
        a.kernel,
        stride=a.stride,
        padding=a.padding,
        ceil_mode=a.ceil_mode,
        count_include_pad=a.count_include_pad,
    )
    return module


def _from_torch(m: Any, rank: int, is_max: bool) -> FromTorch | None:
    # return_indices makes forward return a tuple, which no spec layer does.
    if getattr(m, "return_indices", False):
        return None
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
        to_torch=lambda a, s: build(a, torch_name),
        main_arg="kernel",
        torch_type=torch_name,
        from_torch=lambda m, s: _from_torch(m, rank, is_max),
        traits=Traits(),
        window=window,
        rf_step=window_step(window),
        summary=f"{'max' if is_max else 'average'} pooling on {RANK_SHAPES[rank]} "
        f"(kernel, stride=kernel, padding, {extra})",
    )


KINDS = [_kind(rank, is_max) for is_max in (True, False) for rank in (1, 2, 3)]
