"""``build(spec)``: the torch module a spec describes, named by the spec's paths."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence as Seq

from torch import nn

from archcalc import kinds
from archcalc.analysis import analyze
from archcalc.analysis.result import Analysis
from archcalc.bridge.modules import GRAPH_ATTRIBUTES, Concat, GraphNet, Residual
from archcalc.errors import ArchcalcError, Loc
from archcalc.graph import Graph
from archcalc.kinds.base import Shape
from archcalc.spec.model import (
    Concat as ConcatSpec,
)
from archcalc.spec.model import (
    Layer,
    Repeat,
    Sequence,
    Spec,
    SpecNode,
)
from archcalc.spec.model import (
    Residual as ResidualSpec,
)
from archcalc.spec.reserved import is_reserved


def build(spec: Spec, input_shape: Seq[int] | None = None) -> nn.Module:
    """The ``nn.Module`` for ``spec``; submodule names follow the spec's dotted paths.

    The spec is analysed first, so a shape mistake is an ArchcalcError before
    a single module exists (as einops validates layers at construction).

    >>> import archcalc
    >>> model = archcalc.build(archcalc.load("examples/mnist_cnn.yaml"))
    >>> model.get_submodule("fc1")
    Linear(in_features=1568, out_features=128, bias=True)
    """
    analysis = analyze(spec, input_shape)
    graph = analysis.graph
    assert graph is not None
    if names_tensors(graph):
        return _graph_net(graph, analysis)
    shapes = {row.path: row.input_shape for row in analysis.rows}
    return _sequential(spec.layers, shapes)


def names_tensors(graph: Graph) -> bool:
    """Whether a spec's graph is more than nested sequences: an explicit merge, a ``from:``,
    or ``outputs:`` (those build as one :class:`GraphNet`; the rest as nested Sequentials,
    whose state_dict keys are the same paths)."""
    if graph.outputs != (len(graph.nodes) - 1,):
        return True
    for node in graph.nodes:
        if node.written and node.is_merge:
            return True
        if node.layer is not None and node.layer.source is not None:
            return True
    return False


def _graph_net(graph: Graph, analysis: Analysis) -> GraphNet:
    rows = {row.node: row for row in analysis.rows}
    for scope in graph.scopes.values():
        if scope.role != "shortcut":  # `shortcut` is the residual's own name for it
            _refuse_reserved(scope.name, scope.loc, scope.label)
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    steps: list[tuple[str, tuple[int, ...], str | None]] = []
    for node in graph.nodes[1:]:
        if node.layer is None:
            steps.append((node.op, node.inputs, None))
            continue
        _refuse_reserved(node.name, node.loc, node.label)
        layer = node.layer
        modules[node.path] = kinds.REGISTRY[layer.kind].to_torch(
            layer.args, rows[node.id].input_shape
        )
        steps.append((node.op, node.inputs, node.path))
    return GraphNet(modules, tuple(steps), graph.outputs)


def _refuse_reserved(name: str, loc: Loc | None, label: str) -> None:
    # Reserved names are refused when the spec is read; a dict spec built by hand too.
    if is_reserved(name) or name in GRAPH_ATTRIBUTES:
        raise ArchcalcError.at(
            loc,
            f"the name `{name}` clashes with an attribute of torch.nn.Module",
            where=label,
            hint="choose another `name`",
        )


def _sequential(nodes: Seq[SpecNode], shapes: dict[str, Shape]) -> nn.Sequential:
    return nn.Sequential(_named(nodes, shapes))


def _named(nodes: Seq[SpecNode], shapes: dict[str, Shape]) -> OrderedDict[str, nn.Module]:
    out: OrderedDict[str, nn.Module] = OrderedDict()
    for node in nodes:
        if is_reserved(node.name):  # refused when the spec is read; a dict spec built by hand too
            raise ArchcalcError.at(
                node.loc,
                f"the name `{node.name}` clashes with an attribute of torch.nn.Module",
                where=node.label,
                hint="choose another `name`",
            )
        out[node.name] = _module(node, shapes)
    return out


def _module(node: SpecNode, shapes: dict[str, Shape]) -> nn.Module:
    if isinstance(node, Layer):
        return kinds.REGISTRY[node.kind].to_torch(node.args, shapes[node.path])
    if isinstance(node, Sequence):
        return _sequential(node.children, shapes)
    if isinstance(node, Repeat):
        return nn.Sequential(
            OrderedDict((c.name, _sequential(c.children, shapes)) for c in node.copies)
        )
    if isinstance(node, ResidualSpec):
        shortcut = _sequential(node.shortcut.children, shapes) if node.shortcut else None
        return Residual(_named(node.layers.children, shapes), shortcut)
    assert isinstance(node, ConcatSpec)
    return Concat(OrderedDict((b.name, _sequential(b.children, shapes)) for b in node.branches))
