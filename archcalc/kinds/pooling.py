"""maxpool2d and avgpool2d: sliding-window pooling, torch.nn.MaxPool2d / AvgPool2d.

Both share torch's pooling shape rule (ceil_mode included) and its limit that
padding is at most half the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
    ArgReader,
    Effect,
    FromTorch,
    LayerKind,
    Pair,
    Shape,
    ShapeError,
    Traits,
    Window,
    fmt_shape,
    pair_text,
    pool_out,
    require_image,
    torch_pair,
    window_step,
)

if TYPE_CHECKING:
    import torch.nn


@dataclass(frozen=True)
class PoolArgs:
    kernel: Pair
    stride: Pair
    padding: Pair
    dilation: Pair
    ceil_mode: bool
    count_include_pad: bool = True  # avgpool2d only

    @property
    def effective_kernel(self) -> Pair:
        return (
            self.dilation[0] * (self.kernel[0] - 1) + 1,
            self.dilation[1] * (self.kernel[1] - 1) + 1,
        )


def _parse(r: ArgReader, with_dilation: bool) -> PoolArgs:
    kernel = r.pair("kernel")
    stride = r.pair("stride", kernel)  # torch: stride defaults to the kernel
    padding = r.padding("padding", allow_same=False)
    assert isinstance(padding, tuple)
    dilation = r.pair("dilation", 1) if with_dilation else (1, 1)
    ceil_mode = r.bool_("ceil_mode", False)
    count_include_pad = True if with_dilation else r.bool_("count_include_pad", True)
    r.done()
    for axis in (0, 1):
        if padding[axis] > kernel[axis] // 2:
            raise r.error(
                r.node,
                f"`padding` expects at most half the kernel ({kernel[axis] // 2}), "
                f"but gets {padding[axis]}",
                hint="torch refuses larger pooling padding",
            )
    return PoolArgs(kernel, stride, padding, dilation, ceil_mode, count_include_pad)


def window(a: PoolArgs, shape: Shape) -> Window:
    """The pooling window, with ceil_mode's implicit padding after the input.

    With ceil_mode the last window may run past the padded input; torch reads
    that part as padding (−inf for max, nothing for the average), so it is
    padding after. On an input too small for any window, the declared padding.
    """
    pads = []
    for axis, n in ((0, shape[-2] if len(shape) >= 2 else 0), (1, shape[-1] if shape else 0)):
        k_eff, s, p = a.effective_kernel[axis], a.stride[axis], a.padding[axis]
        out = pool_out(n, k_eff, s, p, a.ceil_mode)
        extra = max(0, (out - 1) * s + k_eff - (n + 2 * p)) if out >= 1 else 0
        pads.append((p, p + extra))
    return Window(a.kernel, a.stride, a.dilation, (pads[0], pads[1]))


def _apply(a: PoolArgs, shape: Shape, what: str) -> Effect:
    c, h, w = require_image(shape, what)
    kh, kw = a.effective_kernel
    oh = pool_out(h, kh, a.stride[0], a.padding[0], a.ceil_mode)
    ow = pool_out(w, kw, a.stride[1], a.padding[1], a.ceil_mode)
    if oh < 1 or ow < 1:
        raise ShapeError(
            f"expects an input of at least {max(1, kh - 2 * a.padding[0])}"
            f"×{max(1, kw - 2 * a.padding[1])} for a {kh}×{kw} window, "
            f"but gets {fmt_shape(shape)} (output would be {max(oh, 0)}×{max(ow, 0)})",
            hint="the spatial size collapsed; remove a pooling layer or give a larger `input`",
        )
    return Effect(
        output_shape=(c, oh, ow),
        rf=window(a, shape).step(),
    )


def _operation(a: PoolArgs, torch_name: str) -> str:
    parts = [pair_text(a.kernel)]
    if a.stride != a.kernel:
        parts.append(f"stride={pair_text(a.stride)}")
    if a.padding != (0, 0):
        parts.append(f"pad={pair_text(a.padding)}")
    if a.dilation != (1, 1):
        parts.append(f"dilation={pair_text(a.dilation)}")
    if a.ceil_mode:
        parts.append("ceil_mode=True")
    if not a.count_include_pad:
        parts.append("count_include_pad=False")
    return f"{torch_name}({', '.join(parts)})"


def _max_torch(a: PoolArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    return nn.MaxPool2d(
        a.kernel, stride=a.stride, padding=a.padding, dilation=a.dilation, ceil_mode=a.ceil_mode
    )


def _avg_torch(a: PoolArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    return nn.AvgPool2d(
        a.kernel,
        stride=a.stride,
        padding=a.padding,
        ceil_mode=a.ceil_mode,
        count_include_pad=a.count_include_pad,
    )


def _from_torch(m: Any, kind: str) -> FromTorch | None:
    # return_indices makes forward return a tuple, which no spec layer does.
    if getattr(m, "return_indices", False):
        return None
    kernel = torch_pair(m.kernel_size)
    stride = kernel if m.stride is None else torch_pair(m.stride)
    if kind == "maxpool2d":
        dilation, count_include_pad = torch_pair(m.dilation), True
    else:
        # divisor_override replaces the window's size as divisor: not in a spec.
        if m.divisor_override is not None:
            return None
        dilation, count_include_pad = (1, 1), bool(m.count_include_pad)
    args = PoolArgs(
        kernel, stride, torch_pair(m.padding), dilation, bool(m.ceil_mode), count_include_pad
    )
    return FromTorch(args)


KINDS = [
    LayerKind(
        name="maxpool2d",
        parse=lambda r: _parse(r, with_dilation=True),
        apply=lambda a, s: _apply(a, s, "maxpool2d"),
        operation=lambda a, s: _operation(a, "MaxPool2d"),
        to_torch=_max_torch,
        main_arg="kernel",
        torch_type="MaxPool2d",
        from_torch=lambda m, s: _from_torch(m, "maxpool2d"),
        traits=Traits(),
        window=window,
        rf_step=window_step(window),
        summary="max pooling (kernel, stride=kernel, padding, dilation, ceil_mode)",
    ),
    LayerKind(
        name="avgpool2d",
        parse=lambda r: _parse(r, with_dilation=False),
        apply=lambda a, s: _apply(a, s, "avgpool2d"),
        operation=lambda a, s: _operation(a, "AvgPool2d"),
        to_torch=_avg_torch,
        main_arg="kernel",
        torch_type="AvgPool2d",
        from_torch=lambda m, s: _from_torch(m, "avgpool2d"),
        traits=Traits(),
        window=window,
        rf_step=window_step(window),
        summary="average pooling (kernel, stride=kernel, padding, ceil_mode, count_include_pad)",
    ),
]
