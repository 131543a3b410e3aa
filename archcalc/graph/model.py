"""The graph's frozen records: nodes, scopes and the graph itself.

NamedTuples, not dataclasses: they cost nothing at import (`archcalc summary`
starts in a blink) and a 10,000-layer spec creates 10,000 nodes.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from archcalc.errors import Loc
from archcalc.spec.model import Layer

# The merge ops: several inputs, no weights.
MERGES = frozenset({"add", "mul", "cat"})

# What a scope is. "copy" is one copy of a repeat; the main branch of a residual
# is no scope of its own: its layers sit directly in the residual's scope, as
# today's group rows show them. "module": a torch container other than archcalc's
# own Residual / Concat, in a graph summarize traced.
ROLES = ("block", "repeat", "copy", "residual", "shortcut", "concat", "branch", "module")


class Node(NamedTuple):
    """One operation: the spec's input, a layer of a kind, or a merge.

    ``id`` is the node's index in :attr:`Graph.nodes`; ``inputs`` are node ids.
    ``scope`` lists the paths of the composites around the node, outermost
    first. ``written`` is False for the merge a ``residual`` or ``concat``
    shorthand implies: it has no leaf row of its own (its scope's row shows it).
    """

    id: int
    op: str
    inputs: tuple[int, ...]
    args: Any
    name: str
    path: str
    scope: tuple[str, ...]
    loc: Loc | None
    where: str
    layer: Layer | None = None
    written: bool = True

    @property
    def label(self) -> str:
        """How errors name the node: ``layers[4] (linear fc1)``."""
        return f"{self.where} ({self.op} {self.path})"

    @property
    def is_merge(self) -> bool:
        return self.op in MERGES


class Scope(NamedTuple):
    """A composite: a block call, a repeat (and each copy), residual, shortcut, concat, branch.

    ``kind`` and ``operation`` are what its group row shows; ``items`` are what
    sits directly in it, in order: node ids (rows) and the paths of child scopes.
    """

    path: str
    role: str
    kind: str
    operation: str
    loc: Loc | None
    where: str
    input: int
    output: int
    items: tuple[int | str, ...]
    parent: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def label(self) -> str:
        return f"{self.where} ({self.kind} {self.path})"


class Graph(NamedTuple):
    """Nodes in execution (topological) order; node 0 is the input."""

    nodes: tuple[Node, ...]
    outputs: tuple[int, ...]
    items: tuple[int | str, ...]  # what sits at the top level, as Scope.items
    scopes: dict[str, Scope]

    @property
    def input(self) -> Node:
        return self.nodes[0]

    def names_tensors(self) -> bool:
        """Whether the graph is more than nested sequences: an explicit merge, a ``from:``,
        ``outputs:`` or a dotted name (``archcalc.build`` makes those one GraphNet, the rest
        nested Sequentials, whose state_dict keys are the same paths)."""
        if self.outputs != (len(self.nodes) - 1,):
            return True
        for node in self.nodes:
            if node.written and node.is_merge:
                return True
            if node.layer is not None and (node.layer.source is not None or "." in node.name):
                return True
        for scope in self.scopes.values():
            outer = f"{scope.parent[-1]}." if scope.parent else ""
            if scope.path.startswith(outer) and "." in scope.path[len(outer) :]:
                return True  # a Sequential cannot hold a name with a dot
        return _block_reads_elsewhere(self, self.items, 0)


def _block_reads_elsewhere(graph: Graph, items: tuple[int | str, ...], x: int) -> bool:
    """Whether a block call in ``items`` (a list whose first item reads node ``x``) reads
    another tensor than the previous output, by `from:`."""
    for item in items:
        if isinstance(item, int):
            x = item
            continue
        scope = graph.scopes[item]
        if scope.role == "block" and scope.input != x:
            return True
        if _block_reads_elsewhere(graph, scope.items, scope.input):
            return True
        x = scope.output
    return False
