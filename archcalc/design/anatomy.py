"""A network's anatomy, shared by compare, scale and lint: body and head, depth, field coverage.

Definitions (docs/json-compare.md repeats them for users):

- A layer is *spatial* when its output is a feature map C×H×W with H·W > 1.
- The **body** is every leaf layer up to and including the last spatial one, in
  execution order; the **head** is every leaf after it (flatten or global
  pooling, then the classifier). A layer that outputs C×1×1 — a convolution as
  wide as its input — already is a dense layer, so it belongs to the head. A
  fully convolutional network has an empty head; a network on a flat input has
  no body.
- The **final receptive field** is the field of the last spatial point of the
  network, composites included: where a residual or concat closes last, its
  merged field counts, not the field of whichever branch was listed last.
- **Depth** counts weight layers (conv2d and linear) on the longest path
  through the network: parallel branches count the deepest one, so ResNet-18
  is 18 deep (its 1×1 projection shortcuts run beside two 3×3 convolutions)
  and GoogLeNet 22, as their papers count them.
"""

from __future__ import annotations

from dataclasses import dataclass

from archcalc.analysis.receptive import ReceptiveField
from archcalc.analysis.result import Analysis, Row
from archcalc.kinds import REGISTRY
from archcalc.kinds.base import Pair, Shape

# Layers that carry the weights a network's depth is counted in (conv2d, linear),
# as each kind declares it in its traits.
WEIGHT_KINDS = frozenset(k.name for k in REGISTRY.values() if k.traits and k.traits.weighted)


def is_spatial(shape: Shape) -> bool:
    """A feature map with more than one position (C×H×W, H·W > 1)."""
    return len(shape) == 3 and shape[1] * shape[2] > 1


@dataclass(frozen=True)
class Coverage:
    """How much of the input the final receptive field spans (each axis capped at 1)."""

    field: Pair
    input_hw: Pair

    @property
    def axes(self) -> tuple[float, float]:
        return (
            min(1.0, self.field[0] / self.input_hw[0]),
            min(1.0, self.field[1] / self.input_hw[1]),
        )

    @property
    def area(self) -> float:
        """The fraction of the input's H×W pixels one unit's field can reach."""
        h, w = self.axes
        return h * w


@dataclass(frozen=True)
class Anatomy:
    """Where the body ends and the head begins, and what the body sees."""

    body: tuple[Row, ...]
    head: tuple[Row, ...]
    last_spatial: Row | None  # leaf or composite; None when nothing is spatial
    depth: int
    coverage: Coverage | None

    @property
    def body_params(self) -> int:
        return sum(r.params for r in self.body)

    @property
    def head_params(self) -> int:
        return sum(r.params for r in self.head)


def anatomy(analysis: Analysis) -> Anatomy:
    """Split ``analysis`` into body and head and measure its depth and final field."""
    cut = max((i for i, r in enumerate(analysis.rows) if is_spatial(r.output_shape)), default=-1)
    last = _last_spatial(analysis.tree)
    coverage = None
    if last is not None and last.receptive_field is not None and len(analysis.input_shape) == 3:
        rf: ReceptiveField = last.receptive_field
        coverage = Coverage(
            field=rf.size, input_hw=(analysis.input_shape[1], analysis.input_shape[2])
        )
    return Anatomy(
        body=analysis.rows[: cut + 1],
        head=analysis.rows[cut + 1 :],
        last_spatial=last,
        depth=_depth(analysis.tree),
        coverage=coverage,
    )


def _last_spatial(rows: tuple[Row, ...]) -> Row | None:
    # Post-order: a composite finishes after its leaves, so a residual or concat
    # that closes last wins over the branch leaf listed last inside it.
    found: Row | None = None
    for row in rows:
        inner = _last_spatial(row.children)
        if inner is not None:
            found = inner
        if (
            is_spatial(row.output_shape)
            and row.receptive_field is not None
            and not row.receptive_field.whole
        ):
            found = row
    return found


def _depth(rows: tuple[Row, ...]) -> int:
    return sum(_row_depth(r) for r in rows)


def _row_depth(row: Row) -> int:
    if row.is_leaf:
        return 1 if row.kind in WEIGHT_KINDS else 0
    if row.kind == "concat":  # children are the branches
        return max(_row_depth(b) for b in row.children)
    if row.kind == "residual":  # main-branch layers, then the shortcut group if any
        main = _depth(tuple(c for c in row.children if c.kind != "shortcut"))
        shortcut = [_row_depth(c) for c in row.children if c.kind == "shortcut"]
        return max([main, *shortcut])
    return _depth(row.children)
