"""conv1d, conv2d, conv3d: convolutions, torch.nn.Conv1d / Conv2d / Conv3d.

One rule for every rank: the input's spatial axes (L; H, W; D, H, W) each
follow ⌊(n + pad − k')/s⌋ + 1, and every argument takes an int (all axes) or
one int per axis.
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
    Pair,
    Shape,
    ShapeError,
    Traits,
    Window,
    effective,
    fmt_shape,
    pair_text,
    require_spatial,
    torch_axes,
    window_out,
    window_step,
)

if TYPE_CHECKING:
    import torch.nn


@dataclass(frozen=True)
class ConvArgs:
    out: int
    kernel: Axes
    stride: Axes
    padding: Axes | str  # one int per axis, or "same" / "valid" as torch accepts them
    dilation: Axes
    groups: int
    bias: bool

    @property
    def rank(self) -> int:
        return len(self.kernel)

    @property
    def effective_kernel(self) -> Axes:
        return effective(self.kernel, self.dilation)

    def pads(self) -> tuple[Pair, ...]:
        """(before, after) padding per axis, as torch applies it.

        For ``same`` torch pads d·(k−1) in total and puts the odd pixel after
        (``left = total // 2``), so an even kernel is padded unevenly.
        """
        if self.padding == "valid":
            return ((0, 0),) * self.rank
        if self.padding == "same":
            return tuple(((k - 1) // 2, k - 1 - (k - 1) // 2) for k in self.effective_kernel)
        assert isinstance(self.padding, tuple)
        return tuple((p, p) for p in self.padding)


# The name the 2-D convolution's arguments had before other ranks existed.
Conv2dArgs = ConvArgs


def _parse(r: ArgReader, rank: int) -> ConvArgs:
    args = ConvArgs(
        out=r.int_("out"),
        kernel=r.axes("kernel", rank),
        stride=r.axes("stride", rank, 1),
        padding=r.padding("padding", rank=rank),
        dilation=r.axes("dilation", rank, 1),
        groups=r.int_("groups", 1),
        bias=r.bool_("bias", True),
    )
    if args.padding == "same" and any(s != 1 for s in args.stride):
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


def window(a: ConvArgs, shape: Shape) -> Window:
    """The convolution's window; the same for every input shape."""
    return Window(kernel=a.kernel, stride=a.stride, dilation=a.dilation, pads=a.pads())


def _apply(a: ConvArgs, shape: Shape, name: str) -> Effect:
    c, sizes = require_spatial(shape, a.rank, name)
    if c % a.groups:
        raise ShapeError(
            f"expects input channels divisible by groups={a.groups}, but gets {c} channels"
        )
    pads = a.pads()
    ks = a.effective_kernel
    outs = tuple(
        window_out(n, k, s, p0 + p1)
        for n, k, s, (p0, p1) in zip(sizes, ks, a.stride, pads, strict=True)
    )
    if any(o < 1 for o in outs):
        least = "×".join(str(max(1, k - p0 - p1)) for k, (p0, p1) in zip(ks, pads, strict=True))
        would = fmt_shape(tuple(max(o, 0) for o in outs))
        raise ShapeError(
            f"expects an input of at least {least} for a {fmt_shape(ks)} effective kernel, "
            f"but gets {fmt_shape(shape)} (output would be {would})",
            hint="lower the kernel or add padding, or give a larger `input`",
        )
    per_output = c // a.groups
    for k in a.kernel:
        per_output *= k
    params = a.out * per_output + (a.out if a.bias else 0)
    units = a.out
    for o in outs:
        units *= o
    return Effect(
        output_shape=(a.out, *outs),
        params=params,
        macs=units * per_output,
        rf=window(a, shape).step(),
    )


def _operation(a: ConvArgs, shape: Shape, torch_name: str) -> str:
    parts = [str(shape[0]), str(a.out), pair_text(a.kernel)]
    if any(s != 1 for s in a.stride):
        parts.append(f"stride={pair_text(a.stride)}")
    if isinstance(a.padding, str):
        parts.append(f"pad={a.padding}")
    elif any(a.padding):
        parts.append(f"pad={pair_text(a.padding)}")
    if any(d != 1 for d in a.dilation):
        parts.append(f"dilation={pair_text(a.dilation)}")
    if a.groups != 1:
        parts.append(f"groups={a.groups}")
    if not a.bias:
        parts.append("bias=False")
    return f"{torch_name}({', '.join(parts)})"


def _to_torch(a: ConvArgs, shape: Shape, torch_name: str) -> torch.nn.Module:
    import torch.nn as nn

    cls = getattr(nn, torch_name)
    module: torch.nn.Module = cls(
        shape[0],
        a.out,
        a.kernel,
        stride=a.stride,
        padding=a.padding,
        dilation=a.dilation,
        groups=a.groups,
        bias=a.bias,
    )
    return module


def _from_torch(m: Any, rank: int) -> FromTorch | None:
    """An nn.ConvNd as convNd; None for a padding mode other than zeros (a spec has none)."""
    if m.padding_mode != "zeros":
        return None
    pad = m.padding if isinstance(m.padding, str) else torch_axes(m.padding, rank)
    args = ConvArgs(
        m.out_channels,
        torch_axes(m.kernel_size, rank),
        torch_axes(m.stride, rank),
        pad,
        torch_axes(m.dilation, rank),
        m.groups,
        m.bias is not None,
    )
    return FromTorch(args, (m.in_channels,))


def _kind(rank: int) -> LayerKind[ConvArgs]:
    name, torch_name = f"conv{rank}d", f"Conv{rank}d"
    return LayerKind(
        name=name,
        parse=lambda r: _parse(r, rank),
        apply=lambda a, s: _apply(a, s, name),
        operation=lambda a, s: _operation(a, s, torch_name),
        to_torch=lambda a, s: _to_torch(a, s, torch_name),
        summary=f"{rank}-D convolution on {RANK_SHAPES[rank]} "
        "(out, kernel, stride, padding|same, dilation, groups, bias)",
        torch_type=torch_name,
        from_torch=lambda m, s: _from_torch(m, rank),
        traits=Traits(weighted=True),
        window=window,
        rf_step=window_step(window),
    )


KINDS = [_kind(1), _kind(2), _kind(3)]
