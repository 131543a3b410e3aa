"""Analysis results: frozen records of numbers, rendered elsewhere."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import MISSING, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from archcalc.analysis.receptive import ReceptiveField
from archcalc.spec.model import Layer, Shape

if TYPE_CHECKING:
    from archcalc.graph import Graph

FLOAT32_BYTES = 4


@dataclass(frozen=True)
class Row:
    """One layer, or (with ``children``) one block, repeat, residual or concat.

    A composite row's numbers are the sums over the leaves beneath it. ``macs``
    is None where archcalc has no cost rule for the operation ("uncounted").
    """

    path: str
    kind: str
    operation: str
    depth: int
    input_shape: Shape
    output_shape: Shape
    params: int
    trainable_params: int
    buffers: int
    macs: int | None
    activation_bytes: int
    receptive_field: ReceptiveField | None
    children: tuple[Row, ...] = ()
    layer: Layer | None = None  # the spec leaf this row came from, for lint and build
    note: str | None = None  # e.g. "misaligned merge", "opaque module"
    calls: int = 1  # summarize(): how many times a module ran (shared weights count once)
    node: int | None = None  # the graph node a leaf row shows (Analysis.graph); None: no op

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def leaves(self) -> Iterator[Row]:
        """The leaf rows beneath this one, in execution order (itself, for a leaf)."""
        # An explicit stack: nested ``yield from`` would pass every leaf up
        # through one generator per level, quadratic in a deeply nested spec.
        stack = [self]
        while stack:
            row = stack.pop()
            if row.is_leaf:
                yield row
            else:
                stack.extend(reversed(row.children))

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "path": self.path,
            "kind": self.kind,
            "operation": self.operation,
            "output_shape": list(self.output_shape),
            "params": self.params,
            "trainable_params": self.trainable_params,
            "buffers": self.buffers,
            "macs": self.macs,
            "activation_bytes": self.activation_bytes,
            "receptive_field": self.receptive_field.to_dict() if self.receptive_field else None,
        }
        if self.note:
            d["note"] = self.note
        return d


_ROW_DEFAULTS = {f.name: f.default for f in fields(Row) if f.default is not MISSING}
_ROW_FIELDS = frozenset(f.name for f in fields(Row))


def new_row(**values: Any) -> Row:
    """``Row(**values)`` at a tenth of the cost, for the thousands of rows a pass makes.

    A frozen dataclass's ``__init__`` sets each of the 17 fields through
    ``object.__setattr__``, which was a twentieth of summarising a small torch
    model; this fills the instance's dict at once. The same object: unknown
    names and missing fields are refused as the constructor refuses them.
    """
    row = object.__new__(Row)
    slots = row.__dict__
    slots.update(_ROW_DEFAULTS)
    slots.update(values)
    if len(slots) != len(_ROW_FIELDS) or not values.keys() <= _ROW_FIELDS:
        unknown = sorted(values.keys() - _ROW_FIELDS)
        missing = sorted(_ROW_FIELDS - slots.keys())
        raise TypeError(f"Row: unknown fields {unknown}, missing fields {missing}")
    return row


@dataclass(frozen=True)
class Totals:
    params: int
    trainable_params: int
    buffers: int
    macs: int
    activation_bytes: int
    uncounted: tuple[str, ...] = ()  # paths of rows whose MACs archcalc cannot count

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "params": self.params,
            "trainable_params": self.trainable_params,
            "buffers": self.buffers,
            "macs": self.macs,
            "activation_bytes": self.activation_bytes,
        }
        if self.uncounted:
            d["uncounted"] = list(self.uncounted)
        return d


def group_row(
    *,
    path: str,
    kind: str,
    operation: str,
    depth: int,
    input_shape: Shape,
    output_shape: Shape,
    children: tuple[Row, ...],
    receptive_field: ReceptiveField | None,
    note: str | None = None,
    calls: int = 1,
) -> Row:
    """A composite row (block, repeat, residual, container module): its leaves' sums."""
    # Each child already holds the sums over its own leaves, so summing the
    # children costs one step per child, not one per leaf at every level.
    params = trainable = buffers = macs = activations = 0
    for c in children:
        params += c.params
        trainable += c.trainable_params
        buffers += c.buffers
        if c.macs is not None:
            macs += c.macs
        activations += c.activation_bytes
    return new_row(
        path=path,
        kind=kind,
        operation=operation,
        depth=depth,
        input_shape=input_shape,
        output_shape=output_shape,
        params=params,
        trainable_params=trainable,
        buffers=buffers,
        macs=macs,
        activation_bytes=activations,
        receptive_field=receptive_field,
        children=children,
        note=note,
        calls=calls,
    )


def is_spatial(shape: Shape) -> bool:
    """A feature map with more than one position (C×L, C×H×W or C×D×H×W; L, H·W or D·H·W > 1)."""
    if len(shape) < 2:
        return False
    positions = 1
    for n in shape[1:]:
        positions *= n
    return positions > 1


@dataclass(frozen=True)
class FinalField:
    """The network's receptive field: at the last node with a spatial output on the path
    to the (first) output, composites' merges included (docs/spec.md, "What the numbers count").
    """

    path: str  # the node's path: a layer's, or for a shorthand's merge its residual / concat
    node: int  # its id in Analysis.graph
    output_shape: Shape
    field: ReceptiveField

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "output_shape": list(self.output_shape), **self.field.to_dict()}

    def text(self) -> str:
        """``Final receptive field: 1311 px, jump 32, start -1.0 (at Mixed_7c, 2048×8×8)``."""
        from archcalc.analysis.receptive import axes_text, number_text
        from archcalc.kinds.base import fmt_shape

        rf = self.field
        if rf.whole:
            what = "the whole input"
        else:
            starts = rf.start if len(set(rf.start)) > 1 else rf.start[:1]
            start = "×".join(f"{x:g}" for x in starts)
            size = "×".join(number_text(x) for x in rf.size)
            what = f"{size} px, jump {axes_text(rf.jump)}, start {start}"
        return f"Final receptive field: {what} (at {self.path}, {fmt_shape(self.output_shape)})"


def final_field(
    graph: Graph, shapes: Sequence[Shape | None], fields: Sequence[ReceptiveField | None]
) -> FinalField | None:
    """The network's final field from each node's output shape and field (None: unknown).

    Read from the graph, not from rows: the last node (in execution order) that
    feeds the first output and has a spatial output. None for a flat network, or
    where that node's field is unknown (a module archcalc could not follow).
    """
    if not graph.outputs:
        return None
    feeds = [False] * len(graph.nodes)
    feeds[graph.outputs[0]] = True
    for node in reversed(graph.nodes):
        if feeds[node.id]:
            shape = shapes[node.id]
            if shape is not None and is_spatial(shape) and node.id > 0:
                rf = fields[node.id]
                return None if rf is None else FinalField(node.path, node.id, shape, rf)
            for i in node.inputs:
                feeds[i] = True
    return None


def totals_of(rows: tuple[Row, ...] | list[Row]) -> Totals:
    """Sum leaf rows; uncounted MACs are listed, never added as 0."""
    return Totals(
        params=sum(r.params for r in rows),
        trainable_params=sum(r.trainable_params for r in rows),
        buffers=sum(r.buffers for r in rows),
        macs=sum(r.macs for r in rows if r.macs is not None),
        activation_bytes=sum(r.activation_bytes for r in rows),
        uncounted=tuple(r.path for r in rows if r.macs is None),
    )


@dataclass(frozen=True)
class Analysis:
    """Everything archcalc knows about one network at one input size.

    ``rows`` lists every leaf layer in execution order; ``tree`` keeps the
    nesting (blocks, repeats, residuals, concats) for folding by depth.
    """

    name: str
    input_shape: Shape
    output_shape: Shape
    rows: tuple[Row, ...]
    tree: tuple[Row, ...]
    totals: Totals
    notes: tuple[str, ...] = field(default=())
    source: str = "spec"  # "spec" or "module"
    # The dataflow graph (a spec's, lowered; a module's, traced by summarize): structure
    # is read from it, never from row kinds or block names.
    graph: Graph | None = field(default=None, compare=False, repr=False)
    # The network's receptive field, where it is taken (None: flat, or unknown).
    final: FinalField | None = None
    # A module whose forward gives several tensors (a tuple, a dict, detection's list of
    # dicts): each one's place in the result (``[0]``, ``['out']``) and shape without its
    # first (batch) axis, in order; ``output_shape`` is the first's. Empty for one output.
    outputs: tuple[tuple[str, Shape], ...] = ()

    def rows_at_depth(self, depth: int | None) -> list[Row]:
        """Rows with every composite at ``depth`` folded into one row (None: all leaves)."""
        if depth is None:
            return list(self.rows)
        out: list[Row] = []

        def walk(row: Row) -> None:
            if row.is_leaf or row.depth >= depth:
                out.append(row)
            else:
                for child in row.children:
                    walk(child)

        for row in self.tree:
            walk(row)
        return out

    def largest(self) -> Row | None:
        """The leaf holding the most parameters (None for a parameter-free net)."""
        best = max(self.rows, key=lambda r: r.params, default=None)
        return best if best is not None and best.params > 0 else None

    def share(self, row: Row) -> float:
        """``row``'s fraction of all parameters."""
        return row.params / self.totals.params if self.totals.params else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``archcalc summary --json`` (docs/json.md)."""
        d: dict[str, Any] = {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            **(
                {"outputs": [{"name": n, "shape": list(s)} for n, s in self.outputs]}
                if self.outputs
                else {}
            ),
            "layers": [r.to_dict() for r in self.rows],
            "totals": self.totals.to_dict(),
            "final_receptive_field": None if self.final is None else self.final.to_dict(),
        }
        if self.notes:
            d["notes"] = list(self.notes)
        return d
