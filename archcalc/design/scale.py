"""Scale the input: the same figures at square sizes S×S, channels from each spec.

A C×L input (a waveform) is scaled to length S, and a C×D×H×W input (a clip) to D×S×S:
its frames D are a choice of their own, as written, while S is the frame's size.

This is where a flatten + dense head shows itself: its first dense layer
takes C·H·W inputs, so its parameters grow with the image's area, while a
global-average-pooling head stays the same size. A size a network cannot take
is recorded as a :class:`Failure` (a spatial collapse, or a shape the network
refuses), never raised.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from archcalc.analysis.walk import analyze
from archcalc.design.figures import Figures, figures
from archcalc.errors import ArchcalcError
from archcalc.kinds.base import RANK_SHAPES, Shape, fmt_shape
from archcalc.spec.model import Spec

# The analyser names a layer as "layers[4] (maxpool2d pool2)"; the path is the last word.
_LABEL = re.compile(r"\(\S+ (?P<path>[^\s()]+)\)$")
# Conv and pooling say "... (output would be 0×0)" when the map shrinks to nothing.
_COLLAPSE = "output would be"
# Each size is a whole analysis and a column of the table; more than this is
# a typo or a loop, and would cost minutes on a 10,000-layer spec.
MAX_SIZES = 64


@dataclass(frozen=True)
class Failure:
    """Why a network cannot take one input size."""

    kind: Literal["collapse", "n/a"]
    path: str | None  # the layer that refused it, when known
    reason: str  # the analyser's message, without file location

    @property
    def text(self) -> str:
        """``collapses at pool2`` or ``n/a: <reason>``."""
        if self.kind == "collapse":
            return f"collapses at {self.path}" if self.path else "collapses"
        return f"n/a: {self.path}: {self.reason}" if self.path else f"n/a: {self.reason}"

    def to_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind, "path": self.path, "reason": self.reason, "text": self.text}


@dataclass(frozen=True)
class ScalePoint:
    size: int
    input_shape: Shape
    figures: Figures | None
    failure: Failure | None = None


# The quantities a scale table follows; growth is reported for each.
GROWTH_KEYS: dict[str, Callable[[Figures], int]] = {
    "params": lambda f: f.params,
    "largest_params": lambda f: f.largest_params,
    "head_params": lambda f: f.head_params,
    "macs": lambda f: f.macs,
    "activation_bytes": lambda f: f.activation_bytes,
    "peak_activation_bytes": lambda f: f.peak_activation_bytes,
    "training_peak_bytes": lambda f: f.training_peak_bytes,
}


@dataclass(frozen=True)
class ScaleSeries:
    """One spec across the sizes."""

    source: str
    name: str
    written_shape: Shape
    points: tuple[ScalePoint, ...]

    def growth(self, key: str) -> float | None:
        """Value at the largest size that works over the value at the smallest (None if < 2)."""
        done = [p.figures for p in self.points if p.figures is not None]
        if len(done) < 2:
            return None
        first, last = GROWTH_KEYS[key](done[0]), GROWTH_KEYS[key](done[-1])
        return last / first if first else None


@dataclass(frozen=True)
class ScaleResult:
    sizes: tuple[int, ...]
    series: tuple[ScaleSeries, ...]


def scale(specs: Sequence[tuple[str, Spec]], sizes: Sequence[int]) -> ScaleResult:
    """Analyse each ``(source, spec)`` at every S×S in ``sizes`` (sorted, duplicates dropped).

    A spec on a flat input has no spatial axis to scale: that is a user's mistake and
    raises :class:`ArchcalcError`.
    """
    ordered = tuple(sorted(set(sizes)))
    if not ordered or ordered[0] < 1:
        found = ordered[0] if ordered else "none"
        raise ArchcalcError(f"sizes expects positive integers, but gets {found}")
    if len(ordered) > MAX_SIZES:
        raise ArchcalcError(
            f"sizes expects at most {MAX_SIZES} different sizes, but gets {len(ordered):,}",
            hint="each size is one column; pick a few, e.g. 28,56,112,224",
        )
    series = []
    for source, spec in specs:
        if len(spec.input_shape) < 2:
            raise ArchcalcError(
                f"scale needs a feature-map input ({', '.join(RANK_SHAPES.values())}), "
                f"but {spec.name} takes {fmt_shape(spec.input_shape)}",
                file=spec.file,
                hint="scale grows L, or H and W; a flat input has none of them",
            )
        points = tuple(_point(spec, s) for s in ordered)
        series.append(ScaleSeries(source, spec.name, spec.input_shape, points))
    return ScaleResult(ordered, tuple(series))


def grown_axes(written: Shape) -> int:
    """How many trailing axes take the size S: a C×L input's L, otherwise H and W."""
    return 1 if len(written) == 2 else 2


def scaled_shape(written: Shape, size: int) -> Shape:
    """``written`` with its grown axes set to ``size`` (channels, and a clip's D, kept)."""
    kept = len(written) - grown_axes(written)
    return (*written[:kept], *(size,) * grown_axes(written))


def _point(spec: Spec, size: int) -> ScalePoint:
    shape = scaled_shape(spec.input_shape, size)
    try:
        return ScalePoint(size, shape, figures(analyze(spec, shape)))
    except ArchcalcError as err:
        return ScalePoint(size, shape, None, failure_of(err))


def failure_of(err: ArchcalcError) -> Failure:
    """Classify an analysis error at one size: a collapse, or another refusal."""
    found = _LABEL.search(err.where or "")
    path = found.group("path") if found else err.where
    kind: Literal["collapse", "n/a"] = "collapse" if _COLLAPSE in err.message else "n/a"
    return Failure(kind, path, err.message)
