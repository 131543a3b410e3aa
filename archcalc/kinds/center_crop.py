"""center_crop: the centre of every spatial axis, archcalc's CenterCrop (bridge/modules.py).

``center_crop: [h, w]`` (one size per axis of the input's rank) or
``center_crop: 388`` (every axis). The crop starts at ``round((n − size)/2)``
on each axis, Python's rounding (half to even) as
torchvision.transforms.functional.center_crop places it, so an odd
remainder of 1 keeps the first unit and one of 3 drops two before. A crop
larger than the input is refused (torchvision pads it; write `pad` for that).
U-Net's skip connections crop the encoder's map this way before `cat`.

The receptive field moves by the offset: kernel 1, stride 1, pad_before
−offset. Its window is a 1-wide, stride-1 window with negative padding
(−offset before, −(n − size − offset) after), as ``F.pad`` crops with
negative padding.
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
from archcalc.spec.tree import describe

if TYPE_CHECKING:
    import torch.nn


@dataclass(frozen=True)
class CropArgs:
    size: int | tuple[int, ...]  # every axis, or one per axis

    def sizes(self, rank: int) -> Axes:
        return self.size if isinstance(self.size, tuple) else (self.size,) * rank


def parse(r: ArgReader) -> CropArgs:
    node = r.optional("size")
    r.done()
    if node is None:
        raise r.error(
            r.node,
            "center_crop expects argument `size`, but it is missing",
            hint="e.g. `center_crop: [64, 64]`",
        )
    items = node.value if node.is_list else [node]
    if node.is_list and not 1 <= len(items) <= 3:
        raise r.error(
            node,
            f"`size` expects an integer or one per spatial axis (1 to 3), "
            f"but gets {len(items)} values",
        )
    sizes = []
    for item in items:
        v = item.value
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_INT:
            raise r.error(
                item,
                f"`size` expects a positive integer or one per axis, but gets {describe(item)}",
                hint="e.g. `center_crop: [64, 64]`",
            )
        sizes.append(v)
    return CropArgs(tuple(sizes) if node.is_list else sizes[0])


def offsets(a: CropArgs, sizes: Axes) -> tuple[Pair, ...]:
    """(cut before, cut after) per axis: before = round((n − size)/2), half to even."""
    out = []
    for n, h in zip(sizes, a.sizes(len(sizes)), strict=True):
        before = round((n - h) / 2)
        out.append((before, n - h - before))
    return tuple(out)


def _check(a: CropArgs, shape: Shape) -> tuple[int, Axes]:
    c, sizes = require_maps(shape, "center_crop")
    if isinstance(a.size, tuple) and len(a.size) != len(sizes):
        raise ShapeError(
            f"expects one `size` per spatial axis of its {fmt_shape(shape)} input "
            f"({len(sizes)}), but gets {len(a.size)}",
            hint=f"write one size for every axis, or {len(sizes)}",
        )
    crop = a.sizes(len(sizes))
    if any(h > n for h, n in zip(crop, sizes, strict=True)):
        raise ShapeError(
            f"expects an input of at least {fmt_shape(crop)}, but gets {fmt_shape(shape)}",
            hint="a crop cannot enlarge; give a larger input, or `pad` it first",
        )
    return c, sizes


def window(a: CropArgs, shape: Shape) -> Window | None:
    """A 1-wide window with the cut as negative padding; None where the crop does not fit."""
    try:
        _, sizes = _check(a, shape)
    except ShapeError:
        return None
    ones = (1,) * len(sizes)
    cuts = offsets(a, sizes)
    return Window(ones, ones, ones, tuple((-b, -e) for b, e in cuts))


def apply(a: CropArgs, shape: Shape) -> Effect:
    c, sizes = _check(a, shape)
    w = window(a, shape)
    assert w is not None
    return Effect(output_shape=(c, *a.sizes(len(sizes))), rf=w.step())


def to_torch(a: CropArgs, shape: Shape) -> torch.nn.Module:
    from archcalc.bridge.modules import CenterCrop

    return CenterCrop(a.size)


def from_torch(m: Any, shape: Shape) -> FromTorch:
    size = m.size
    return FromTorch(CropArgs(tuple(int(v) for v in size) if isinstance(size, tuple) else size))


def _saves(a: CropArgs, shape: Shape, ctx: SaveContext) -> Saved:
    """A slice of its input: a view, strided unless it keeps every position."""
    kept = (shape[0], *a.sizes(len(shape) - 1)) == shape
    return Saved(ctx.dtype, view=True, strided=not kept or not ctx.contiguous)


KINDS = [
    LayerKind(
        name="center_crop",
        parse=parse,
        apply=apply,
        operation=lambda a, s: f"CenterCrop(size={a.size!r})",
        to_torch=to_torch,
        main_arg="size",
        summary="the centre of every spatial axis, placed as torchvision's center_crop "
        "(size: an int or one per axis)",
        torch_type="CenterCrop",  # archcalc.bridge.modules: slicing, any rank
        from_torch=from_torch,
        traits=Traits(),
        window=window,
        rf_step=window_step(window),
        saves=_saves,
    )
]
