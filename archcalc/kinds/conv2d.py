"""conv2d: a 2-D convolution, torch.nn.Conv2d."""

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
    require_image,
    torch_pair,
    window_out,
    window_step,
)

if TYPE_CHECKING:
    import torch.nn


@dataclass(frozen=True)
class Conv2dArgs:
    out: int
    kernel: Pair
    stride: Pair
    padding: Pair | str  # a pair, or "same" / "valid" as torch accepts them
    dilation: Pair
    groups: int
    bias: bool

    @property
    def effective_kernel(self) -> Pair:
        return (
            self.dilation[0] * (self.kernel[0] - 1) + 1,
            self.dilation[1] * (self.kernel[1] - 1) + 1,
        )

    def pads(self) -> tuple[Pair, Pair]:
        """(before, after) padding per axis, as torch applies it.

        For ``same`` torch pads d·(k−1) in total and puts the odd pixel after
        (``left = total // 2``), so an even kernel is padded unevenly.
        """
        if self.padding == "valid":
            return ((0, 0), (0, 0))
        if self.padding == "same":
            kh, kw = self.effective_kernel
            return ((kh - 1) // 2, kh - 1 - (kh - 1) // 2), ((kw - 1) // 2, kw - 1 - (kw - 1) // 2)
        assert isinstance(self.padding, tuple)
        ph, pw = self.padding
        return ((ph, ph), (pw, pw))


def parse(r: ArgReader) -> Conv2dArgs:
    args = Conv2dArgs(
        out=r.int_("out"),
        kernel=r.pair("kernel"),
        stride=r.pair("stride", 1),
        padding=r.padding("padding"),
        dilation=r.pair("dilation", 1),
        groups=r.int_("groups", 1),
        bias=r.bool_("bias", True),
    )
    if args.padding == "same" and args.stride != (1, 1):
        raise r.error(
            r.node,
            "`padding: same` expects stride 1 (as in torch), "
            f"but gets stride {pair_text(args.stride)}",
            hint="write the padding as a number, e.g. `padding: 1` for a 3×3 kernel",
        )
    if args.out % args.groups:
        raise r.error(
            r.node,
            f"`out` expects a multiple of groups={args.groups}, but gets {args.out}",
        )
    r.done()
    return args


def window(a: Conv2dArgs, shape: Shape) -> Window:
    """The convolution's window; the same for every input shape."""
    return Window(kernel=a.kernel, stride=a.stride, dilation=a.dilation, pads=a.pads())


def apply(a: Conv2dArgs, shape: Shape) -> Effect:
    c, h, w = require_image(shape, "conv2d")
    if c % a.groups:
        raise ShapeError(
            f"expects input channels divisible by groups={a.groups}, but gets {c} channels"
        )
    (pt, pb), (pl, pr) = a.pads()
    kh, kw = a.effective_kernel
    oh = window_out(h, kh, a.stride[0], pt + pb)
    ow = window_out(w, kw, a.stride[1], pl + pr)
    if oh < 1 or ow < 1:
        raise ShapeError(
            f"expects an input of at least {max(1, kh - pt - pb)}×{max(1, kw - pl - pr)} "
            f"for a {kh}×{kw} effective kernel, but gets {fmt_shape(shape)} "
            f"(output would be {max(oh, 0)}×{max(ow, 0)})",
            hint="lower the kernel or add padding, or give a larger `input`",
        )
    per_output = (c // a.groups) * a.kernel[0] * a.kernel[1]
    params = a.out * per_output + (a.out if a.bias else 0)
    return Effect(
        output_shape=(a.out, oh, ow),
        params=params,
        macs=a.out * oh * ow * per_output,
        rf=window(a, shape).step(),
    )


def operation(a: Conv2dArgs, shape: Shape) -> str:
    parts = [str(shape[0]), str(a.out), pair_text(a.kernel)]
    if a.stride != (1, 1):
        parts.append(f"stride={pair_text(a.stride)}")
    if isinstance(a.padding, str):
        parts.append(f"pad={a.padding}")
    elif a.padding != (0, 0):
        parts.append(f"pad={pair_text(a.padding)}")
    if a.dilation != (1, 1):
        parts.append(f"dilation={pair_text(a.dilation)}")
    if a.groups != 1:
        parts.append(f"groups={a.groups}")
    if not a.bias:
        parts.append("bias=False")
    return f"Conv2d({', '.join(parts)})"


def to_torch(a: Conv2dArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    return nn.Conv2d(
        shape[0],
        a.out,
        a.kernel,
        stride=a.stride,
        padding=a.padding,
        dilation=a.dilation,
        groups=a.groups,
        bias=a.bias,
    )


def from_torch(m: Any, shape: Shape) -> FromTorch | None:
    """An nn.Conv2d as conv2d; None for a padding mode other than zeros (a spec has none)."""
    if m.padding_mode != "zeros":
        return None
    pad = m.padding if isinstance(m.padding, str) else torch_pair(m.padding)
    args = Conv2dArgs(
        m.out_channels,
        torch_pair(m.kernel_size),
        torch_pair(m.stride),
        pad,
        torch_pair(m.dilation),
        m.groups,
        m.bias is not None,
    )
    return FromTorch(args, (m.in_channels,))


KINDS = [
    LayerKind(
        name="conv2d",
        parse=parse,
        apply=apply,
        operation=operation,
        to_torch=to_torch,
        summary="2-D convolution (out, kernel, stride, padding|same, dilation, groups, bias)",
        torch_type="Conv2d",
        from_torch=from_torch,
        traits=Traits(weighted=True),
        window=window,
        rf_step=window_step(window),
    )
]
