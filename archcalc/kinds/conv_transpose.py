"""conv_transpose1d/2d/3d: transposed convolutions, torch.nn.ConvTranspose1d / 2d / 3d.

Shape, per spatial axis with input size n, kernel k, stride s, padding p,
dilation d and output_padding o (torch's rule)::

    out = (n − 1)·s − 2p + d·(k − 1) + o + 1

where o only lengthens the output after the last unit, so torch requires
o < max(s, d). The weight is C_in × (out/groups) × Πk, and the multiply-adds
are counted per *input* element, as torch.utils.flop_counter counts them: each
of the C_in·Πn inputs is multiplied into (out/groups)·Πk outputs.

Receptive field. Output unit j of a transposed convolution (D = d·(k−1))
reads the input units i with j = i·s − p + d·t for a tap t, that is every i
in [⌈(j + p − D)/s⌉, ⌊(j + p)/s⌋] reached by a tap (all of them when d = 1).
Over s neighbouring units that span averages (D + 1 − s)/s input units and
its centre is exactly (j + p − D/2)/s. So per axis, in units of the layer's
input::

    stride  = 1/s
    k' − 1  = max(0, (D + 1 − s)/s)         the average unit's span
    start  += (p − D/2)/s · jump            (start_x2 += (2p − D)/s · jump)

and pad_before is whatever moves the start by that. This is the rule nearest
upsampling follows (k = s, d = 1: U-Net's 2×2, stride-2 up-convolutions read
exactly one input per unit, and the field does not grow), and a stride-1
transposed convolution is an ordinary window of k' = D + 1. With s > 1 the
numbers are exact Fractions (analysis/receptive.py): the field of the average
unit, whose size differs from unit to unit by less than one jump when k is
not a multiple of s. A Window (whole numbers of input units) cannot state
this step, so the kind declares no window.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
    DTYPE_BYTES,
    RANK_SHAPES,
    ArgReader,
    Axes,
    Effect,
    FromTorch,
    LayerKind,
    Number,
    RFStep,
    SaveContext,
    Saved,
    Shape,
    ShapeError,
    SpatialStep,
    Traits,
    fmt_shape,
    no_window,
    pair_text,
    require_spatial,
    torch_axes,
)

if TYPE_CHECKING:
    import torch.nn


@dataclass(frozen=True)
class ConvTransposeArgs:
    out: int
    kernel: Axes
    stride: Axes
    padding: Axes
    output_padding: Axes
    dilation: Axes
    groups: int
    bias: bool

    @property
    def rank(self) -> int:
        return len(self.kernel)

    def output_sizes(self, sizes: Axes) -> Axes:
        """(n − 1)·s − 2p + d·(k − 1) + output_padding + 1 per axis."""
        return tuple(
            (n - 1) * s - 2 * p + d * (k - 1) + o + 1
            for n, s, p, d, k, o in zip(
                sizes,
                self.stride,
                self.padding,
                self.dilation,
                self.kernel,
                self.output_padding,
                strict=True,
            )
        )


def _parse(r: ArgReader, rank: int) -> ConvTransposeArgs:
    args = ConvTransposeArgs(
        out=r.int_("out"),
        kernel=r.axes("kernel", rank),
        stride=r.axes("stride", rank, 1),
        padding=r.axes("padding", rank, 0, minimum=0),
        output_padding=r.axes("output_padding", rank, 0, minimum=0),
        dilation=r.axes("dilation", rank, 1),
        groups=r.int_("groups", 1),
        bias=r.bool_("bias", True),
    )
    for o, s, d in zip(args.output_padding, args.stride, args.dilation, strict=True):
        if o >= max(s, d):
            raise r.error(
                r.node,
                f"`output_padding` expects less than the stride or the dilation "
                f"(below {max(s, d)}), but gets {o}",
                hint="torch refuses it too: output_padding only picks among the output "
                "sizes a stride leaves open, (n − 1)·s − 2p + d·(k − 1) + 1 + 0 … s − 1",
            )
    if args.out % args.groups:
        raise r.error(
            r.node,
            f"`out` expects a multiple of groups={args.groups}, but gets {args.out}",
        )
    r.done()
    return args


def rf_step(a: ConvTransposeArgs, shape: Shape) -> RFStep:
    """The average unit's step: span max(0, (D + 1 − s)/s), centre (j + p − D/2)/s (see above)."""
    kernel: list[Number] = []
    pad_before: list[Number] = []
    for k, d, s, p in zip(a.kernel, a.dilation, a.stride, a.padding, strict=True):
        span = d * (k - 1)
        width = max(Fraction(0), Fraction(span + 1 - s, s))
        # start_x2 moves by (k' − 1 − 2·pad_before)·jump, which must be (2p − D)/s·jump.
        kernel.append(_plain(width + 1))
        pad_before.append(_plain((width - Fraction(2 * p - span, s)) / 2))
    return SpatialStep(
        kernel=tuple(kernel),
        stride=tuple(_plain(Fraction(1, s)) for s in a.stride),
        pad_before=tuple(pad_before),
    )


def _plain(x: Fraction) -> Number:
    """A whole Fraction as an int, so that a stride-1 transposed convolution stays exact."""
    return x.numerator if x.denominator == 1 else x


def _apply(a: ConvTransposeArgs, shape: Shape, name: str) -> Effect:
    c, sizes = require_spatial(shape, a.rank, name)
    if c % a.groups:
        raise ShapeError(
            f"expects input channels divisible by groups={a.groups}, but gets {c} channels"
        )
    outs = a.output_sizes(sizes)
    if any(o < 1 for o in outs):
        raise ShapeError(
            f"expects an output of at least 1 per axis, but (n − 1)·s − 2p + d·(k − 1) + "
            f"output_padding + 1 gives {fmt_shape(outs)} for a {fmt_shape(shape)} input",
            hint="lower the padding, or raise the kernel or the stride",
        )
    per_input = a.out // a.groups
    for k in a.kernel:
        per_input *= k
    inputs = c
    for n in sizes:
        inputs *= n
    params = c * per_input + (a.out if a.bias else 0)
    return Effect(
        output_shape=(a.out, *outs),
        params=params,
        macs=inputs * per_input,
        rf=rf_step(a, shape),
    )


def _operation(a: ConvTransposeArgs, shape: Shape, torch_name: str) -> str:
    parts = [str(shape[0]) if shape else "?", str(a.out), pair_text(a.kernel)]
    if any(s != 1 for s in a.stride):
        parts.append(f"stride={pair_text(a.stride)}")
    if any(a.padding):
        parts.append(f"pad={pair_text(a.padding)}")
    if any(a.output_padding):
        parts.append(f"output_padding={pair_text(a.output_padding)}")
    if any(d != 1 for d in a.dilation):
        parts.append(f"dilation={pair_text(a.dilation)}")
    if a.groups != 1:
        parts.append(f"groups={a.groups}")
    if not a.bias:
        parts.append("bias=False")
    return f"{torch_name}({', '.join(parts)})"


def _to_torch(a: ConvTransposeArgs, shape: Shape, torch_name: str) -> torch.nn.Module:
    import torch.nn as nn

    module: torch.nn.Module = getattr(nn, torch_name)(
        shape[0],
        a.out,
        a.kernel,
        stride=a.stride,
        padding=a.padding,
        output_padding=a.output_padding,
        groups=a.groups,
        bias=a.bias,
        dilation=a.dilation,
    )
    return module


def _from_torch(m: Any, rank: int) -> FromTorch | None:
    """An nn.ConvTransposeNd; None for a padding mode other than zeros (torch refuses it)."""
    if m.padding_mode != "zeros":
        return None
    args = ConvTransposeArgs(
        out=m.out_channels,
        kernel=torch_axes(m.kernel_size, rank),
        stride=torch_axes(m.stride, rank),
        padding=torch_axes(m.padding, rank),
        output_padding=torch_axes(m.output_padding, rank),
        dilation=torch_axes(m.dilation, rank),
        groups=m.groups,
        bias=m.bias is not None,
    )
    return FromTorch(args, (m.in_channels,))


def saves(a: ConvTransposeArgs, shape: Shape, ctx: SaveContext) -> Saved:
    """Its input and its weight, in autocast's low precision when it runs (copies)."""
    weights = shape[0] * (a.out // a.groups)
    for k in a.kernel:
        weights *= k
    return Saved(ctx.lower(), input=ctx.lower(), weights=weights if ctx.autocast else 0)


def scratch(
    a: ConvTransposeArgs, shape: Shape, out_shape: Shape, ctx: SaveContext, batch: int
) -> int:
    """oneDNN's reordered input and weight beside its blocked output, as for a convolution
    (conv.scratch), at the op's dtype."""
    from archcalc.kinds.conv import block16, prod_of

    weight = shape[0] * (a.out // a.groups) * prod_of(a.kernel)
    positions = prod_of(out_shape[1:])
    reordered = batch * block16(shape[0]) * prod_of(shape[1:]) + weight
    blocked = batch * block16(a.out) * positions
    out = batch * a.out * positions
    return max(reordered + blocked - out, blocked) * DTYPE_BYTES[ctx.lower()]


def _kind(rank: int) -> LayerKind[ConvTransposeArgs]:
    name, torch_name = f"conv_transpose{rank}d", f"ConvTranspose{rank}d"
    return LayerKind(
        name=name,
        parse=lambda r: _parse(r, rank),
        apply=lambda a, s: _apply(a, s, name),
        operation=lambda a, s: _operation(a, s, torch_name),
        to_torch=lambda a, s: _to_torch(a, s, torch_name),
        summary=f"{rank}-D transposed convolution on {RANK_SHAPES[rank]}, upsampling by its "
        "stride (out, kernel, stride, padding, output_padding, dilation, groups, bias)",
        torch_type=torch_name,
        from_torch=lambda m, s: _from_torch(m, rank),
        traits=Traits(weighted=True),
        window=no_window,
        rf_step=rf_step,
        saves=saves,
        scratch=scratch,
    )


KINDS = [_kind(1), _kind(2), _kind(3)]
