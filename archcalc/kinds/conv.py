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
    Padding,
    Pair,
    Shape,
    ShapeError,
    Traits,
    Window,
    effective,
    fmt_shape,
    padding_text,
    pair_text,
    require_spatial,
    side_pads,
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
    # One int per axis, (before, after) per axis, or "same" / "valid".
    padding: Padding
    dilation: Axes
    groups: int
    bias: bool

    @property
    def rank(self) -> int:
        return len(self.kernel)

    @property
    def effective_kernel(self) -> Axes:
        return effective(self.kernel, self.dilation)

    def pads(self, sizes: Axes | None = None) -> tuple[Pair, ...]:
        """(before, after) padding per axis on an input of ``sizes``.

        ``same`` is TensorFlow's split: ⌈n/s⌉ outputs, the smaller half of the
        padding before; with stride 1 that is torch's ``same`` (d·(k−1) in
        total, the odd pixel after), whatever the input size.
        """
        return side_pads(self.padding, self.effective_kernel, self.stride, sizes)

    def torch_padding(self, sizes: Axes) -> Axes | str | None:
        """What nn.ConvNd takes for this padding, or None where it cannot pad this way."""
        if self.padding == "same" and any(s != 1 for s in self.stride):
            return None
        if isinstance(self.padding, str):
            return self.padding
        pads = self.pads(sizes)
        if any(a != b for a, b in pads):
            return None
        return tuple(a for a, _ in pads)


# The name the 2-D convolution's arguments had before other ranks existed.
Conv2dArgs = ConvArgs


def _parse(r: ArgReader, rank: int) -> ConvArgs:
    args = ConvArgs(
        out=r.int_("out"),
        kernel=r.axes("kernel", rank),
        stride=r.axes("stride", rank, 1),
        padding=r.padding("padding", rank=rank, per_side=True),
        dilation=r.axes("dilation", rank, 1),
        groups=r.int_("groups", 1),
        bias=r.bool_("bias", True),
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
    sizes = shape[1:] if len(shape) == a.rank + 1 else None
    return Window(kernel=a.kernel, stride=a.stride, dilation=a.dilation, pads=a.pads(sizes))


def _apply(a: ConvArgs, shape: Shape, name: str) -> Effect:
    c, sizes = require_spatial(shape, a.rank, name)
    if c % a.groups:
        raise ShapeError(
            f"expects input channels divisible by groups={a.groups}, but gets {c} channels"
        )
    pads = a.pads(sizes)
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
    pad = padding_text(a.padding)
    if pad is not None:
        parts.append(f"pad={pad}")
    if any(d != 1 for d in a.dilation):
        parts.append(f"dilation={pair_text(a.dilation)}")
    if a.groups != 1:
        parts.append(f"groups={a.groups}")
    if not a.bias:
        parts.append("bias=False")
    return f"{torch_name}({', '.join(parts)})"


def _to_torch(a: ConvArgs, shape: Shape, torch_name: str) -> torch.nn.Module:
    import torch.nn as nn

    padding = a.torch_padding(shape[1:])
    if padding is None:
        # Per-side or strided `same` padding, which nn.ConvNd cannot do: archcalc's
        # PaddedConvNd pads first, keeping the conv's own weight and bias keys.
        from archcalc.bridge import modules

        padded: torch.nn.Module = getattr(modules, f"Padded{torch_name}")(
            shape[0],
            a.out,
            a.kernel,
            stride=a.stride,
            sides=a.padding if a.padding == "same" else a.pads(shape[1:]),
            dilation=a.dilation,
            groups=a.groups,
            bias=a.bias,
        )
        return padded
    cls = getattr(nn, torch_name)
    module: torch.nn.Module = cls(
        shape[0],
        a.out,
        a.kernel,
        stride=a.stride,
        padding=padding,
        dilation=a.dilation,
        groups=a.groups,
        bias=a.bias,
    )
    return module


def _from_torch(m: Any, rank: int) -> FromTorch | None:
    """An nn.ConvNd (or archcalc's PaddedConvNd) as convNd; None for a padding mode other
    than zeros (a spec has none)."""
    if m.padding_mode != "zeros":
        return None
    sides = vars(m).get("sides")  # set by PaddedConvNd; a getattr miss on a module is slow
    pad: Padding
    if sides is not None:  # PaddedConvNd: its own padding before an unpadded conv
        pad = sides if isinstance(sides, str) else tuple((int(b), int(e)) for b, e in sides)
    else:
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
        torch_aliases=(f"Padded{torch_name}",),
        from_torch=lambda m, s: _from_torch(m, rank),
        traits=Traits(weighted=True),
        window=window,
        rf_step=window_step(window),
    )


KINDS = [_kind(1), _kind(2), _kind(3)]
