"""The receptive-field recurrence (Araujo, Norris & Sim, Distill 2019), per axis.

With effective kernel k' = d(k−1)+1::

    size  += (k'−1)·jump
    start += ((k'−1)/2 − pad_before)·jump
    jump  *= stride

``start`` is kept doubled so the arithmetic stays in integers however deep
the network; it is the centre of the first output unit's field, in input
pixel coordinates, and padding makes it negative. One entry per spatial axis
(L; H, W; D, H, W). Upsampling and transposed convolutions step by a fraction
of an input pixel: from there on, jump, start and size are exact Fractions
(Python's, never floats), and stay so through every later layer.

The numbers are bounded like the layer count: ``jump`` multiplies by every
stride, so a few thousand strided layers on a 1×1 map (which torch runs
happily) would make integers of thousands of digits. :func:`check` refuses a
field whose size, jump or start passes :data:`RF_LIMIT`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from archcalc.kinds.base import (
    AXIS_NAMES,
    Axes,
    GlobalStep,
    Number,
    RFStep,
    ShapeError,
    SpatialStep,
)

# 2**53: the largest integer a float, and so JSON readers and the HTML report's
# JavaScript, hold exactly; over four million times the largest input side
# archcalc accepts (2**31 − 1), so no field a real network has comes near it.
RF_LIMIT = 2**53

Numbers = tuple[Number, ...]


def _half(x2: Number) -> float:
    try:
        return float(x2 / 2)
    except OverflowError:  # only for absurd, hand-made strides
        return float("inf") if x2 > 0 else float("-inf")


def _plain(x: Number) -> Number:
    """A Fraction that is whole as an int, so that integer fields print and compare as before."""
    if isinstance(x, Fraction) and x.denominator == 1:
        return x.numerator
    return x


def _halved(x: Number) -> Number:
    """x/2, floored while everything is whole (as the doubled integers always were)."""
    return x // 2 if isinstance(x, int) else x / 2


def number_text(x: Number) -> str:
    """An int as itself; a fraction (after upsampling) as a short decimal: ``10.5``, ``0.3333``."""
    return str(x) if isinstance(x, int) else f"{float(x):.4g}"


def axes_text(xs: Numbers) -> str:
    """``3`` when equal on every axis, ``3×5`` (or ``3×5×5``) when not."""
    if all(x == xs[0] for x in xs):
        return number_text(xs[0])
    return "×".join(number_text(x) for x in xs)


def _json(x: Number) -> int | float:
    return x if isinstance(x, int) else float(x)


@dataclass(frozen=True)
class ReceptiveField:
    """Per spatial axis: field size in input pixels, jump (effective stride), start (doubled)."""

    size: Numbers
    jump: Numbers
    start_x2: Numbers
    whole: bool = False  # after flatten / global pooling: the unit sees the whole input

    @property
    def start(self) -> tuple[float, ...]:
        return tuple(_half(x) for x in self.start_x2)

    @property
    def exact(self) -> bool:
        """True while every number is whole: no upsampling or transposed convolution before."""
        for xs in (self.size, self.jump, self.start_x2):
            for x in xs:
                if type(x) is not int:
                    return False
        return True

    def to_dict(self) -> dict[str, list[int] | list[float]]:
        return {
            "size": [_json(x) for x in self.size],
            "jump": [_json(x) for x in self.jump],
            "start": list(self.start),
        }

    def bounds_x2(self) -> tuple[Numbers, Numbers]:
        """Doubled (first, last) input pixel of the first unit's field, per axis."""
        lo = tuple(_plain(s - (z - 1)) for s, z in zip(self.start_x2, self.size, strict=True))
        hi = tuple(_plain(s + (z - 1)) for s, z in zip(self.start_x2, self.size, strict=True))
        return lo, hi


def initial(rank: int = 2) -> ReceptiveField:
    """An input pixel sees itself (``rank`` spatial axes)."""
    return ReceptiveField(size=(1,) * rank, jump=(1,) * rank, start_x2=(0,) * rank)


def step(rf: ReceptiveField, how: RFStep, input_sizes: Axes) -> ReceptiveField:
    """The field after one layer (``input_sizes``: the network input's spatial sizes)."""
    if how is None or rf.whole:
        return rf
    if isinstance(how, GlobalStep):
        return ReceptiveField(
            size=tuple(input_sizes),
            jump=rf.jump,
            start_x2=tuple(n - 1 for n in input_sizes),
            whole=True,
        )
    assert isinstance(how, SpatialStep)
    if _whole_numbers(rf, how):
        # The common case, every number an int: the same recurrence without
        # Fraction checks, as it runs once per layer of every analysis.
        per_axis = zip(
            rf.size, rf.jump, rf.start_x2, how.kernel, how.stride, how.pad_before, strict=True
        )
        out = [(z + (k - 1) * j, j * s, x + (k - 1 - 2 * p) * j) for z, j, x, k, s, p in per_axis]
        return ReceptiveField(
            size=tuple(o[0] for o in out),
            jump=tuple(o[1] for o in out),
            start_x2=tuple(o[2] for o in out),
        )
    axes = range(len(rf.size))
    size = tuple(_plain(rf.size[a] + (how.kernel[a] - 1) * rf.jump[a]) for a in axes)
    start = tuple(
        _plain(rf.start_x2[a] + ((how.kernel[a] - 1) - 2 * how.pad_before[a]) * rf.jump[a])
        for a in axes
    )
    jump = tuple(_plain(rf.jump[a] * how.stride[a]) for a in axes)
    return ReceptiveField(size=size, jump=jump, start_x2=start)


def _whole_numbers(rf: ReceptiveField, how: SpatialStep) -> bool:
    for xs in (rf.size, rf.jump, rf.start_x2, how.kernel, how.stride, how.pad_before):
        for x in xs:
            if type(x) is not int:
                return False
    return True


def check(rf: ReceptiveField) -> ReceptiveField:
    """``rf`` unchanged, or :class:`ShapeError` when a number passes :data:`RF_LIMIT`.

    Called after every step, so a refused number has at most a few dozen digits.
    A fraction's denominator is bounded the same way: it multiplies by every
    upsampling factor, and past 2^53 no reader could use it.
    """
    if (
        max(rf.jump) <= RF_LIMIT
        and max(rf.size) <= RF_LIMIT
        and min(rf.start_x2) >= -2 * RF_LIMIT
        and max(rf.start_x2) <= 2 * RF_LIMIT
        and rf.exact
    ):
        return rf  # every layer's case; the loop below finds what is wrong and says so
    names = AXIS_NAMES.get(len(rf.size), "".join(str(a) for a in range(len(rf.size))))
    for a, axis in enumerate(names):
        if rf.jump[a] > RF_LIMIT:
            raise ShapeError(
                f"the receptive field's effective stride on {axis} (jump, the product of the "
                f"strides so far) reaches {int(rf.jump[a]):,}, past archcalc's limit of 2^53",
                hint="strides multiply along the path, here far past any input archcalc "
                "accepts; remove strided layers or use stride 1",
            )
        if rf.size[a] > RF_LIMIT:
            raise ShapeError(
                f"the receptive field's size on {axis} reaches {int(rf.size[a]):,} input pixels, "
                "past archcalc's limit of 2^53",
                hint="a field this wide sees far past any input; lower the kernels, "
                "dilations or strides",
            )
        far = rf.start_x2[a] if rf.start_x2[a] >= 0 else -rf.start_x2[a]
        if far > 2 * RF_LIMIT:
            raise ShapeError(
                f"the receptive field's start on {axis} lies {int(far) // 2:,} "
                "pixels from the input's corner, past archcalc's limit of 2^53",
                hint="padding multiplies by the strides before it; lower the padding or strides",
            )
        for x in (rf.jump[a], rf.size[a], rf.start_x2[a]):
            if isinstance(x, Fraction) and x.denominator > RF_LIMIT:
                raise ShapeError(
                    f"the receptive field's effective stride on {axis} becomes a fraction "
                    f"with a denominator of {x.denominator:,}, past archcalc's limit of 2^53",
                    hint="upsampling factors multiply along the path; "
                    "use fewer upsampling layers or whole-number scales",
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
    first = fields[0]
    if all(f.start_x2 == first.start_x2 and f.jump == first.jump for f in fields):
        # Centres and jumps agree (a residual add, most concats): the union is the
        # largest field, which the bounds below would give, without their arithmetic.
        if all(f.size == first.size for f in fields):
            return first, False
        size = tuple(map(max, *(f.size for f in fields)))
        return ReceptiveField(size=size, jump=first.jump, start_x2=first.start_x2), False
    axes = range(len(fields[0].size))
    bounds = [f.bounds_x2() for f in fields]
    lo = [min(b[0][a] for b in bounds) for a in axes]
    hi = [max(b[1][a] for b in bounds) for a in axes]
    size = tuple(_plain(_halved(hi[a] - lo[a]) + 1) for a in axes)
    start = tuple(_plain(_halved(hi[a] + lo[a])) for a in axes)
    jump = tuple(max(f.jump[a] for f in fields) for a in axes)
    misaligned = len({(f.start_x2, f.jump) for f in fields}) > 1
    return ReceptiveField(size=size, jump=jump, start_x2=start), misaligned
