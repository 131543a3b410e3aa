"""``build(spec)``: the torch module a spec describes, named by the spec's paths."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence as Seq
from typing import Any, TypeVar

from torch import nn

from archcalc import kinds
from archcalc.analysis import analyze
from archcalc.analysis.result import Analysis
from archcalc.bridge.modules import GRAPH_ATTRIBUTES, Concat, GraphNet, LayerScale, Residual
from archcalc.errors import ArchcalcError, Loc
from archcalc.graph import Graph, Scope
from archcalc.spec.model import Spec
from archcalc.spec.reserved import is_reserved

M = TypeVar("M", bound=nn.Module)


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
    return _scales_keyed(_Nested(graph, analysis).sequential(graph.items))


def _scales_keyed(model: M) -> M:
    """``model`` with each layer_scale's tensor under the layer's own path (_scale_keys)."""
    if any(isinstance(m, LayerScale) for m in model.modules()):
        model.register_state_dict_post_hook(_scales_by_path)
        model.register_load_state_dict_pre_hook(_scales_from_path)
    return model


def _scale_keys(model: nn.Module, prefix: str) -> dict[str, str]:
    """Each layer_scale layer's state_dict key as torch names it → the layer's own path.

    A layer_scale layer is its one tensor, so the spec's path names it: torchvision's CNBlock
    holds ``layer_scale`` itself, and a spec written by ``archcalc export`` puts the layer at
    ``features.1.0.layer_scale``, whose weight must be that key, not
    ``features.1.0.layer_scale.layer_scale``.
    """
    return {
        f"{prefix}{path}.layer_scale": f"{prefix}{path}"
        for path, m in model.named_modules()
        if path and isinstance(m, LayerScale)
    }


def _scales_by_path(model: nn.Module, state: dict[str, Any], prefix: str, meta: Any) -> None:
    renames = _scale_keys(model, prefix)
    items = [(renames.get(k, k), v) for k, v in state.items()]
    state.clear()  # rebuilt in order: the keys keep the modules' order
    state.update(items)


def _scales_from_path(model: nn.Module, state: dict[str, Any], prefix: str, *rest: Any) -> None:
    # Both forms load: a key under the layer's path, or torch's own under the module.
    for long, short in _scale_keys(model, prefix).items():
        if short in state and long not in state:
            state[long] = state.pop(short)


def names_tensors(graph: Graph) -> bool:
    """Whether a spec's graph builds as one :class:`GraphNet` (Graph.names_tensors)."""
    return graph.names_tensors()


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
    return _scales_keyed(GraphNet(modules, tuple(steps), graph.outputs))


def _refuse_reserved(name: str, loc: Loc | None, label: str) -> None:
    # Reserved names are refused when the spec is read; a dict spec built by hand too.
    if is_reserved(name) or name in GRAPH_ATTRIBUTES:
        raise ArchcalcError.at(
            loc,
            f"the name `{name}` clashes with an attribute of torch.nn.Module",
            where=label,
            hint="choose another `name`",
        )


class _Nested:
    """A spec without named tensors as nested modules, read from its graph's scopes.

    Each list (the top level, a block call, a repeat copy, a shortcut, a branch) is an
    ``nn.Sequential``; a repeat is a Sequential of its copies; a residual is
    :class:`Residual` (its main layers, then its shortcut); a concat is :class:`Concat`.
    The implied add and cat are those modules' forward.
    """

    def __init__(self, graph: Graph, analysis: Analysis) -> None:
        self.graph = graph
        self.shapes = {row.node: row.input_shape for row in analysis.rows}

    def sequential(self, items: tuple[int | str, ...]) -> nn.Sequential:
        return nn.Sequential(self.named(items))

    def named(self, items: tuple[int | str, ...]) -> OrderedDict[str, nn.Module]:
        out: OrderedDict[str, nn.Module] = OrderedDict()
        for item in items:
            if isinstance(item, int):
                node = self.graph.nodes[item]
                _refuse_reserved(node.name, node.loc, node.label)
                assert node.layer is not None
                layer = node.layer
                out[node.name] = kinds.REGISTRY[layer.kind].to_torch(layer.args, self.shapes[item])
            else:
                scope = self.graph.scopes[item]
                _refuse_reserved(scope.name, scope.loc, scope.label)
                out[scope.name] = self.module(scope)
        return out

    def module(self, scope: Scope) -> nn.Module:
        scopes = self.graph.scopes
        if scope.role == "repeat":
            copies = (scopes[str(c)] for c in scope.items)
            return nn.Sequential(OrderedDict((c.name, self.sequential(c.items)) for c in copies))
        if scope.role == "residual":
            main: list[int | str] = []
            shortcut = None
            for item in scope.items:
                if isinstance(item, str) and scopes[item].role == "shortcut":
                    shortcut = self.sequential(scopes[item].items)
                else:
                    main.append(item)
            return Residual(self.named(tuple(main)), shortcut)
        if scope.role == "concat":
            branches = (scopes[str(b)] for b in scope.items)
            return Concat(OrderedDict((b.name, self.sequential(b.items)) for b in branches))
        return self.sequential(scope.items)  # a block call
