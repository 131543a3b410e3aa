"""conv1d, conv2d, conv3d: convolutions, torch.nn.Conv1d / Conv2d / Conv3d.

One rule for every rank: the input's spatial axes (L; H, W; D, H, W) each
follow ⌊(n + pad − k')/s⌋ + 1, and every argument takes an int (all axes) or
one int per axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
    DTYPE_BYTES,
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
    is_per_side,
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
    # Derived once here, as analysis, lint and the bridge each ask for them.
    effective_kernel: Axes = field(init=False, repr=False, compare=False)
    _size_free_pads: tuple[Pair, ...] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        derive_window_fields(self)

    @property
    def rank(self) -> int:
        return len(self.kernel)

    def pads(self, sizes: Axes | None = None) -> tuple[Pair, ...]:
        """(before, after) padding per axis on an input of ``sizes``.

        ``same`` is TensorFlow's split: ⌈n/s⌉ outputs, the smaller half of the
        padding before; with stride 1 that is torch's ``same`` (d·(k−1) in
        total, the odd pixel after), whatever the input size.
        """
        fixed = self._size_free_pads
        if fixed is not None:
            return fixed
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
        # window(a, shape).step(), from the pads and kernel already at hand
        rf=SpatialStep(kernel=ks, stride=a.stride, pad_before=tuple(p[0] for p in pads)),
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


def saves(a: ConvArgs, shape: Shape, ctx: SaveContext) -> Saved:
    """Its input and its weight, both in autocast's low precision when it runs (copies);
    padding nn.ConvNd cannot do, or an uneven `same`, is a padded copy of the input, saved
    in its place."""
    dtype = ctx.lower()
    weights = a.out * (shape[0] // a.groups)
    for k in a.kernel:
        weights *= k
    copy = weights if ctx.autocast else 0
    if isinstance(a.padding, tuple) and not is_per_side(a.padding):
        # torch pads it as it convolves
        return Saved(dtype, input=dtype, weights=copy)
    pads = a.pads(shape[1:])
    if a.torch_padding(shape[1:]) is None:
        # archcalc's PaddedConvNd pads it all first: a copy even where the padding is 0
        extra = [p0 + p1 for p0, p1 in pads]
    else:
        # torch's own `same` pads an uneven split (an even kernel) by the odd pixel first
        extra = [p1 - p0 for p0, p1 in pads]
        if not any(extra):
            return Saved(dtype, input=dtype, weights=copy)
    padded = shape[0]
    for n, e in zip(shape[1:], extra, strict=True):
        padded *= n + e
    own = (Own(padded, dtype=dtype, inference=True),)
    return Saved(dtype, own=own, weights=copy)


# oneDNN leaves an input of this few channels in place (RGB, grayscale): its kernels for a
# first layer read it as it is.
FEW_CHANNELS = 4


def scratch(a: ConvArgs, shape: Shape, out_shape: Shape, ctx: SaveContext, batch: int) -> int:
    """What torch's CPU convolution allocates while it runs, beyond its output, as its
    allocator shows it.

    Small float32 convolutions (torch's heuristic: one sample, no groups, kernels of at most
    3 on an axis, at most 20,480 input values) take the native path, which unfolds the
    input into im2col columns (``_columns``).
    The rest run on oneDNN, which reorders the input (unless it has few channels) and the
    weight into its blocked layout, channels padded to a block of 16, computes a blocked
    output and then copies it into torch's. In low precision a 1×1 convolution also keeps
    a float32 accumulator of one sample's output per thread.
    """
    dtype = ctx.lower()
    size = DTYPE_BYTES[dtype]
    c, sizes = shape[0], shape[1:]
    positions = prod_of(out_shape[1:])
    window = prod_of(a.kernel)
    if _native(a, shape, dtype, batch):
        return _columns(a, shape, out_shape, size)
    reordered = batch * block16(c) * prod_of(sizes) if c > FEW_CHANNELS else 0
    reordered += a.out * (c // a.groups) * window
    blocked = batch * block16(a.out) * positions
    out = batch * a.out * positions
    first = (reordered + blocked) * size  # while it computes, before torch's output exists
    if dtype != "float32" and window == 1:
        first += ctx.threads * block16(a.out) * positions * 4
    return max(first - out * size, blocked * size)


def _native(a: ConvArgs, shape: Shape, dtype: str, batch: int) -> bool:
    """Whether torch runs this convolution on its native path (im2col) instead of oneDNN:
    its heuristic for small float32 convolutions, one sample at a time."""
    return (
        dtype == "float32"
        and a.groups == 1
        and batch == 1
        and not (len(a.kernel) > 1 and a.kernel[-1] > 3 and a.kernel[-2] > 3)
        and batch * shape[0] * prod_of(shape[1:3]) <= 20480
    )


def _columns(a: ConvArgs, shape: Shape, out_shape: Shape, size: int) -> int:
    """The native path's im2col columns: (C/groups)·∏kernel rows, a column per output
    position; a 1×1 convolution with stride 1 and no padding reads its input as they are."""
    pointwise = all(k == 1 for k in a.kernel) and all(s == 1 for s in a.stride)
    if pointwise and not any(p0 or p1 for p0, p1 in a.pads(shape[1:])):
        return 0
    return (shape[0] // a.groups) * prod_of(a.kernel) * prod_of(out_shape[1:]) * size


# oneDNN's low-precision weight-gradient kernel: bytes it allocates whatever the layer
# (measured, the same from 1 to 64 channels and 7×7 to 570×570 images)
_BWD_WEIGHTS_FIXED = 8580


def backward_scratch(
    a: ConvArgs, shape: Shape, out_shape: Shape, ctx: SaveContext, batch: int
) -> int:
    """What torch's CPU convolution allocates in backward beside the gradients it returns.

    On the native path (``scratch``), the im2col columns again. On oneDNN in float32, the
    input's gradient is computed in the blocked layout (channels padded to 16) and copied
    out. In low precision the weights' gradient, computed after it, costs more: the input
    (unless it has few channels) and the output's gradient reordered to the blocked layout,
    and a float32 accumulator for the weights on every thread, each with its own transposed
    copies of the output's gradient and of the (padded) input. oneDNN gives each thread
    such a copy when it splits the work over the batch and the image, which it does when
    those tensors are large beside the weights (``_splits_image``); otherwise it splits the
    channels and needs one. (1×1 convolutions have kernels of their own, which this
    overestimates a little: +7.5% on a lone 16→32 layer at 14×14, batch 1.)
    """
    dtype = ctx.lower()
    size = DTYPE_BYTES[dtype]
    c, sizes = shape[0], shape[1:]
    window = prod_of(a.kernel)
    positions = prod_of(out_shape[1:])
    if _native(a, shape, dtype, batch):
        return _columns(a, shape, out_shape, size)
    blocked = batch * block16(c) * prod_of(sizes) * size
    if dtype == "float32" or a.groups != 1:
        return blocked
    # the weights' gradient, computed after the input's: the input and the output's gradient
    # reordered to the blocked layout, and per thread a float32 accumulator and transposed
    # copies of both
    reordered = batch * block16(a.out) * positions * size
    weights = a.out * c * window * DTYPE_BYTES["float32"]
    grad_out = a.out * positions * size
    pads = a.pads(sizes)
    rows = sizes[0] + pads[0][0] + pads[0][1]
    grad_in = c * rows * prod_of(sizes[1:]) * size
    copies = ctx.threads if _splits_image(weights, batch * (grad_in + grad_out)) else 1
    if c <= FEW_CHANNELS:
        grad_in = 0
    else:
        reordered += blocked
    return reordered + _BWD_WEIGHTS_FIXED + copies * (weights + grad_out + grad_in)


def _splits_image(weights: int, activations: int) -> bool:
    """oneDNN's choice for a low-precision weight gradient, approximated: it weighs what each
    thread reads (the input and the output's gradient, per sample and position) against what
    it accumulates (the weights), and splits the batch and image when the former are at
    least 0.8× the latter (fitted to 19 layers from 1→16 at 28×28 to 512→512 at 14×14, all
    but one chosen right; the 128→128 layer at 56×56 gets a copy per thread it does not
    take)."""
    return activations >= 0.8 * weights


def block16(channels: int) -> int:
    """Channels padded to oneDNN's block of 16."""
    return -(-channels // 16) * 16


def prod_of(values: tuple[int, ...]) -> int:
    n = 1
    for v in values:
        n *= v
    return n


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
        saves=saves,
        scratch=scratch,
        backward_scratch=backward_scratch,
    )


KINDS = [_kind(1), _kind(2), _kind(3)]
