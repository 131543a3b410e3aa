"""The graph means exactly what the shorthands meant: depth and a graph-run module agree."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given

import archcalc
from archcalc.analysis import Row
from archcalc.bridge.build import _graph_net
from archcalc.design.anatomy import WEIGHT_KINDS, anatomy
from archcalc.graph import Graph
from archcalc.testing.strategies import specs

pytestmark = pytest.mark.filterwarnings(
    "ignore:Using padding='same' with even kernel:UserWarning"  # drawn on purpose
)


def tree_depth(rows: tuple[Row, ...], graph: Graph) -> int:
    """The longest path read from the folded tree and the scope roles (the pre-graph rule)."""
    total = 0
    for row in rows:
        if row.is_leaf:
            total += row.kind in WEIGHT_KINDS
            continue
        role = graph.scopes[row.path].role
        if role == "concat":
            total += max(tree_depth((b,), graph) for b in row.children)
        elif role == "residual":
            main = tuple(
                c for c in row.children if c.is_leaf or graph.scopes[c.path].role != "shortcut"
            )
            short = [tree_depth(c.children, graph) for c in row.children if c not in main]
            total += max([tree_depth(main, graph), *short])
        else:
            total += tree_depth(row.children, graph)
    return total


@given(specs(graphs=False))  # the tree rule knows lists and shorthands, not named tensors
def test_depth_is_the_longest_path_the_tree_shows(d: dict[str, Any]) -> None:
    a = archcalc.analyze(archcalc.from_dict(d))
    assert a.graph is not None
    assert anatomy(a).depth == tree_depth(a.tree, a.graph)


@given(specs(max_layers=8, graphs=False))  # a spec with names builds as a GraphNet already
def test_running_the_graph_equals_the_nested_modules(d: dict[str, Any]) -> None:
    spec = archcalc.from_dict(d)
    a = archcalc.analyze(spec)
    assert a.graph is not None
    nested = archcalc.build(spec).eval()
    graph_net = _graph_net(a.graph, a).eval()
    assert set(graph_net.state_dict()) == set(nested.state_dict())  # the same paths
    graph_net.load_state_dict(nested.state_dict())
    x = torch.randn(2, *a.input_shape)
    with torch.no_grad():
        # A pooling window that sees only padding gives -inf, then NaN after a conv: the
        # same on both sides, as torch computes it, so NaN counts as equal to NaN.
        torch.testing.assert_close(graph_net(x), nested(x), equal_nan=True)


@given(specs(several_outputs=True))
def test_scopes_place_every_written_node_once_in_execution_order(d: dict[str, Any]) -> None:
    a = archcalc.analyze(archcalc.from_dict(d))
    g = a.graph
    assert g is not None
    placed: list[int] = []

    def walk(items: tuple[int | str, ...], scope: tuple[str, ...]) -> None:
        for item in items:
            if isinstance(item, int):
                assert g.nodes[item].scope == scope
                placed.append(item)
            else:
                s = g.scopes[item]
                assert s.parent == scope
                walk(s.items, (*scope, s.path))
                assert s.input < s.output  # a scope's output comes after its input

    walk(g.items, ())
    written = [n.id for n in g.nodes[1:] if n.written]
    assert placed == written  # execution order is the tree's order
    assert [r.node for r in a.rows] == written
    for node in g.nodes:
        assert all(i < node.id for i in node.inputs)
