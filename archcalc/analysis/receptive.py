"""The receptive-field recurrence (Araujo, Norris & Sim, Distill 2019), per axis.

With effective kernel k' = d(k−1)+1::

    size  += (k'−1)·jump
    start += ((k'−1)/2 − pad_before)·jump
    jump  *= stride

``start`` is kept doubled (an integer) so the arithmetic stays exact however
deep the network; it is the centre of the first output unit's field, in input
pixel coordinates, and padding makes it negative.

The numbers are bounded like the layer count: ``jump`` multiplies by every
stride, so a few thousand strided layers on a 1×1 map (which torch runs
happily) would make integers of thousands of digits. :func:`check` refuses a
field whose size, jump or start passes :data:`RF_LIMIT`.
"""

from __future__ import annotations

from dataclasses import dataclass

from archcalc.kinds.base import GlobalStep, Pair, RFStep, ShapeError, SpatialStep

# 2**53: the largest integer a float, and so JSON readers and the HTML report's
# JavaScript, hold exactly; over four million times the largest input side
# archcalc accepts (2**31 − 1), so no field a real network has comes near it.
RF_LIMIT = 2**53


def _half(x2: int) -> float:
    try:
        return x2 / 2
    except OverflowError:  # only for absurd, hand-made strides
        return float("inf") if x2 > 0 else float("-inf")


@dataclass(frozen=True)
class ReceptiveField:
    """Per axis (H, W): field size in input pixels, jump (effective stride), start."""

    size: Pair
    jump: Pair
    start_x2: Pair
    whole: bool = False  # after flatten / global pooling: the unit sees the whole input

    @property
    def start(self) -> tuple[float, float]:
        return (_half(self.start_x2[0]), _half(self.start_x2[1]))

    def to_dict(self) -> dict[str, list[int] | list[float]]:
        return {"size": list(self.size), "jump": list(self.jump), "start": list(self.start)}

    def bounds_x2(self) -> tuple[Pair, Pair]:
        """Doubled (first, last) input pixel of the first unit's field, per axis."""
        lo = (self.start_x2[0] - (self.size[0] - 1), self.start_x2[1] - (self.size[1] - 1))
        hi = (self.start_x2[0] + (self.size[0] - 1), self.start_x2[1] + (self.size[1] - 1))
        return lo, hi


def initial() -> ReceptiveField:
    """An input pixel sees itself."""
    return ReceptiveField(size=(1, 1), jump=(1, 1), start_x2=(0, 0))


def step(rf: ReceptiveField, how: RFStep, input_hw: Pair) -> ReceptiveField:
    """The field after one layer."""
    if how is None or rf.whole:
        return rf
    if isinstance(how, GlobalStep):
        h, w = input_hw
        return ReceptiveField(size=(h, w), jump=rf.jump, start_x2=(h - 1, w - 1), whole=True)
    assert isinstance(how, SpatialStep)
    size = tuple(rf.size[a] + (how.kernel[a] - 1) * rf.jump[a] for a in (0, 1))
    start = tuple(
        rf.start_x2[a] + ((how.kernel[a] - 1) - 2 * how.pad_before[a]) * rf.jump[a] for a in (0, 1)
    )
    jump = tuple(rf.jump[a] * how.stride[a] for a in (0, 1))
    return ReceptiveField(size=_pair(size), jump=_pair(jump), start_x2=_pair(start))


def check(rf: ReceptiveField) -> ReceptiveField:
    """``rf`` unchanged, or :class:`ShapeError` when a number passes :data:`RF_LIMIT`.

    Called after every step, so a refused number has at most a few dozen digits.
    """
    for a, axis in enumerate("HW"):
        if rf.jump[a] > RF_LIMIT:
            raise ShapeError(
                f"the receptive field's effective stride on {axis} (jump, the product of the "
                f"strides so far) reaches {rf.jump[a]:,}, past archcalc's limit of 2^53",
                hint="strides multiply along the path, here far past any input archcalc "
                "accepts; remove strided layers or use stride 1",
            )
        if rf.size[a] > RF_LIMIT:
            raise ShapeError(
                f"the receptive field's size on {axis} reaches {rf.size[a]:,} input pixels, "
                "past archcalc's limit of 2^53",
                hint="a field this wide sees far past any input; lower the kernels, "
                "dilations or strides",
            )
        if abs(rf.start_x2[a]) > 2 * RF_LIMIT:
            raise ShapeError(
                f"the receptive field's start on {axis} lies {abs(rf.start_x2[a]) // 2:,} "
                "pixels from the input's corner, past archcalc's limit of 2^53",
                hint="padding multiplies by the strides before it; lower the padding or strides",
            )
    return rf


def merge(fields: list[ReceptiveField]) -> tuple[ReceptiveField, bool]:
    """The field where paths meet (residual add, concat) and whether they were misaligned.

    The merged unit sees the union of what each path sees: when the centres
    agree that is simply the largest field; when they do not, the union is
    wider than any one path, and the merge is reported as misaligned.
    """
    if any(f.whole for f in fields):
        whole = next(f for f in fields if f.whole)
        return whole, False
    lo = [min(f.bounds_x2()[0][a] for f in fields) for a in (0, 1)]
    hi = [max(f.bounds_x2()[1][a] for f in fields) for a in (0, 1)]
    size = _pair(tuple((hi[a] - lo[a]) // 2 + 1 for a in (0, 1)))
    start = _pair(tuple((hi[a] + lo[a]) // 2 for a in (0, 1)))
    jump = _pair(tuple(max(f.jump[a] for f in fields) for a in (0, 1)))
    misaligned = len({(f.start_x2, f.jump) for f in fields}) > 1
    return ReceptiveField(size=size, jump=jump, start_x2=start), misaligned


def _pair(t: tuple[int, ...]) -> Pair:
    return (t[0], t[1])
