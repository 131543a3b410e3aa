"""channel_shuffle, chunk and split: ShuffleNet's moves on the channel axis.

channel_shuffle is torch.nn.ChannelShuffle. chunk and split are one-input layers that keep
one piece of ``x.chunk(chunks, dim=1)`` / ``x.split(sizes, dim=1)`` (archcalc's Chunk and
Split modules), so each piece a network uses is a layer with a name: ShuffleNet's unit reads
``chunk: {name: x1, chunks: 2, index: 0}`` and ``chunk: {name: x2, from: input, chunks: 2,
index: 1}``. chunk follows torch.chunk's rule: pieces of ⌈C / chunks⌉ channels, the last
smaller, and fewer pieces than asked when C is not divisible (5 channels in 4 chunks give
2, 2, 1). No parameters, no cost; every unit keeps its receptive field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archcalc.kinds.base import (
    ArgReader,
    Effect,
    FromTorch,
    LayerKind,
    SaveContext,
    Saved,
    Shape,
    ShapeError,
    Traits,
    elementwise_step,
    fmt_shape,
    no_window,
    require_maps,
    saves_nothing,
)
from archcalc.kinds.norms import channels_of, divisor_below

if TYPE_CHECKING:
    import torch.nn


# -- channel_shuffle ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ShuffleArgs:
    groups: int


def _shuffle_parse(r: ArgReader) -> ShuffleArgs:
    args = ShuffleArgs(groups=r.int_("groups"))
    r.done()
    return args


def _shuffle_apply(a: ShuffleArgs, shape: Shape) -> Effect:
    c, _ = require_maps(shape, "channel_shuffle")  # torch refuses a flat (N, F) input
    if c % a.groups:
        raise ShapeError(
            f"expects channels divisible by groups ({a.groups}), but gets {c} channels "
            f"({fmt_shape(shape)})",
            hint=f"`channel_shuffle: {divisor_below(c, a.groups)}` divides {c}",
        )
    return Effect(shape)


def _shuffle_torch(a: ShuffleArgs, shape: Shape) -> torch.nn.Module:
    import torch.nn as nn

    return nn.ChannelShuffle(a.groups)


def _shuffle_from(m: Any, shape: Shape) -> FromTorch | None:
    groups = m.groups
    return FromTorch(ShuffleArgs(groups)) if isinstance(groups, int) and groups >= 1 else None


# -- chunk -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkArgs:
    chunks: int
    index: int


def _chunk_parse(r: ArgReader) -> ChunkArgs:
    chunks = r.int_("chunks")
    index = r.int_(
        "index",
        minimum=0,
        maximum=chunks - 1,
        hint=f"{chunks} chunks are numbered 0 to {chunks - 1}",
    )
    r.done()
    return ChunkArgs(chunks, index)


def chunk_pieces(channels: int, chunks: int) -> tuple[int, int, int]:
    """torch.chunk's cut: (pieces, size of each, size of the last).

    Each piece has ⌈C / chunks⌉ channels and the last what remains, so fewer pieces than
    asked come out when C runs out first (5 channels in 4 chunks: 2, 2, 1).
    """
    size = -(-channels // chunks)
    pieces = -(-channels // size)
    return pieces, size, channels - (pieces - 1) * size


def _chunk_apply(a: ChunkArgs, shape: Shape) -> Effect:
    c = channels_of(shape, "chunk")
    pieces, size, last = chunk_pieces(c, a.chunks)
    if a.index >= pieces:
        cut = f"{pieces} pieces of {size}" + ("" if last == size else f", the last {last}")
        raise ShapeError(
            f"expects piece {a.index} of {a.chunks} chunks, but torch.chunk cuts {c} channels "
            f"into {cut}",
            hint=f"channels divisible by {a.chunks} give {a.chunks} equal pieces; "
            "`split: {sizes: [...]}` cuts any sizes",
        )
    return Effect((last if a.index == pieces - 1 else size, *shape[1:]))


def _chunk_torch(a: ChunkArgs, shape: Shape) -> torch.nn.Module:
    from archcalc.bridge.modules import Chunk

    return Chunk(a.chunks, a.index)


def _chunk_from(m: Any, shape: Shape) -> FromTorch | None:
    chunks, index = m.chunks, m.index
    if not (isinstance(chunks, int) and isinstance(index, int) and 0 <= index < chunks):
        return None
    return FromTorch(ChunkArgs(chunks, index))


# -- split -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitArgs:
    sizes: tuple[int, ...]
    index: int


def _split_parse(r: ArgReader) -> SplitArgs:
    sizes = r.ints("sizes")
    last = len(sizes) - 1
    index = r.int_(
        "index", minimum=0, maximum=last, hint=f"{len(sizes)} pieces are numbered 0 to {last}"
    )
    r.done()
    return SplitArgs(sizes, index)


def _split_apply(a: SplitArgs, shape: Shape) -> Effect:
    c = channels_of(shape, "split")
    total = sum(a.sizes)
    if total != c:
        raise ShapeError(
            f"expects sizes that add up to the input's {c} channels ({fmt_shape(shape)}), "
            f"but they add up to {total}",
            hint="torch.split takes every channel; or use `chunk` for equal pieces",
        )
    return Effect((a.sizes[a.index], *shape[1:]))


def _split_torch(a: SplitArgs, shape: Shape) -> torch.nn.Module:
    from archcalc.bridge.modules import Split

    return Split(a.sizes, a.index)


def _split_from(m: Any, shape: Shape) -> FromTorch | None:
    sizes, index = tuple(m.sizes), m.index
    valid = all(isinstance(s, int) and s >= 1 for s in sizes) and 0 <= index < len(sizes)
    return FromTorch(SplitArgs(sizes, index)) if sizes and valid else None


_TRAITS = Traits()


def _slice(partial: bool, ctx: SaveContext) -> Saved:
    """A piece of the channels is a view of its input; less than all of them, a strided one."""
    return Saved(ctx.dtype, view=True, strided=partial or not ctx.contiguous)


KINDS = [
    LayerKind(
        name="channel_shuffle",
        parse=_shuffle_parse,
        apply=_shuffle_apply,
        operation=lambda a, s: f"ChannelShuffle(groups={a.groups})",
        to_torch=_shuffle_torch,
        main_arg="groups",
        summary="interleave the channels of `groups` groups (ShuffleNet); channels divisible "
        "by groups (groups)",
        torch_type="ChannelShuffle",
        from_torch=_shuffle_from,
        traits=_TRAITS,
        window=no_window,
        rf_step=elementwise_step,
        saves=saves_nothing,  # a copy in another order
    ),
    LayerKind(
        name="chunk",
        parse=_chunk_parse,
        apply=_chunk_apply,
        operation=lambda a, s: f"Chunk(chunks={a.chunks}, index={a.index})",
        to_torch=_chunk_torch,
        summary="piece `index` of the channels cut into `chunks` as torch.chunk cuts them "
        "(chunks, index)",
        torch_type="Chunk",
        from_torch=_chunk_from,
        traits=_TRAITS,
        window=no_window,
        rf_step=elementwise_step,
        saves=lambda a, s, ctx: _slice(a.chunks > 1 and s[0] > 1, ctx),
    ),
    LayerKind(
        name="split",
        parse=_split_parse,
        apply=_split_apply,
        operation=lambda a, s: f"Split(sizes={list(a.sizes)}, index={a.index})",
        to_torch=_split_torch,
        summary="piece `index` of the channels cut into pieces of `sizes`, which add up to the "
        "channels (sizes, index)",
        torch_type="Split",
        from_torch=_split_from,
        traits=_TRAITS,
        window=no_window,
        rf_step=elementwise_step,
        saves=lambda a, s, ctx: _slice(len(a.sizes) > 1, ctx),
    ),
]
