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
  merged field counts, not the field of whichever branch was listed last. A map
  multiplied by a global gate (squeeze-and-excitation) sees the whole input.
- **Depth** counts weight layers (conv2d and linear) on the longest path
  through the network: parallel branches count the deepest one, so ResNet-18
  is 18 deep (its 1×1 projection shortcuts run beside two 3×3 convolutions)
  and GoogLeNet 22, as their papers count them.
"""

from __future__ import annotations

from dataclasses import dataclass

from archcalc.analysis.receptive import ReceptiveField
from archcalc.analysis.result import Analysis, Row
from archcalc.graph import Graph
from archcalc.kinds import REGISTRY
from archcalc.kinds.base import Axes, Shape

# Layers that carry the weights a network's depth is counted in (conv2d, linear),
# as each kind declares it in its traits.
WEIGHT_KINDS = frozenset(k.name for k in REGISTRY.values() if k.traits and k.traits.weighted)


def is_spatial(shape: Shape) -> bool:
    """A feature map with more than one position (C×L, C×H×W or C×D×H×W; L, H·W or D·H·W > 1)."""
    if len(shape) < 2:
        return False
    positions = 1
    for n in shape[1:]:
        positions *= n
    return positions > 1


@dataclass(frozen=True)
class Coverage:
    """How much of the input the final receptive field spans (each axis capped at 1)."""

    field: tuple[int | float, ...]  # per spatial axis; a fraction after upsampling, as a float
    input_sizes: Axes

    @property
    def axes(self) -> tuple[float, ...]:
        return tuple(min(1.0, f / n) for f, n in zip(self.field, self.input_sizes, strict=True))

    @property
    def area(self) -> float:
        """The fraction of the input's pixels (or samples, or voxels) one unit's field can reach."""
        out = 1.0
        for a in self.axes:
            out *= a
        return out


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
    # The analysis' own final field is read from the graph; the tree's last spatial row
    # stands in only for an Analysis made without one.
    found = analysis.final.field if analysis.final is not None else None
    if found is None and last is not None:
        found = last.receptive_field
    if found is not None and len(analysis.input_shape) > 1:
        rf: ReceptiveField = found
        coverage = Coverage(
            field=tuple(x if isinstance(x, int) else float(x) for x in rf.size),
            input_sizes=analysis.input_shape[1:],
        )
    return Anatomy(
        body=analysis.rows[: cut + 1],
        head=analysis.rows[cut + 1 :],
        last_spatial=last,
        depth=_depth(analysis),
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
        # A spatial map can see the whole input: a `mul` by a global gate (squeeze-and-
        # excitation) merges the gate's whole field in, and then the network sees it all.
        if is_spatial(row.output_shape) and row.receptive_field is not None:
            found = row
    return found


def _depth(analysis: Analysis) -> int:
    assert analysis.graph is not None, "analyze() and summarize() both attach the graph"
    return longest_path(analysis.graph)


def longest_path(graph: Graph) -> int:
    """Weight layers on the longest path from the input to any output: one pass over the graph.

    A merge (a residual's add, a concat's cat, an explicit add / mul / cat)
    continues its deepest input, so parallel branches count once, the deepest.
    """
    best = [0] * len(graph.nodes)
    for node in graph.nodes:
        deepest = max((best[i] for i in node.inputs), default=0)
        best[node.id] = deepest + (node.op in WEIGHT_KINDS)
    return max(best[o] for o in graph.outputs)
