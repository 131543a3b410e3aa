"""Analyse a spec: one pass over its graph's nodes into an :class:`Analysis`. Pure Python.

The spec is lowered to a graph (archcalc.graph); each node's shape, receptive
field, parameters and MACs follow from its inputs'. Leaf rows are the written
nodes; the folded tree is rebuilt from the graph's scopes, a scope's row
summing its leaves and showing its output node's shape and field.
"""

from __future__ import annotations

from collections.abc import Sequence as Seq
from math import prod
from typing import NamedTuple

from archcalc import kinds
from archcalc.analysis import receptive
from archcalc.analysis.receptive import ReceptiveField
from archcalc.analysis.result import (
    FLOAT32_BYTES,
    Analysis,
    Row,
    final_field,
    group_row,
    totals_of,
)
from archcalc.errors import ArchcalcError, Loc
from archcalc.gcpause import paused_gc
from archcalc.graph import MERGES, Graph, Node, lower
from archcalc.kinds.base import MAX_INT, Axes, Shape, ShapeError, fmt_shape
from archcalc.spec.model import Spec

# Torch counts a tensor's elements in an int64. Refusing larger outputs keeps
# every product built on a shape (MACs, parameters, bytes) a few dozen digits
# long, however the spec is written: concat can double the channels at every
# repeat, and flatten multiplies all three sides.
MAX_ELEMENTS = 2**63 - 1


# Private records are NamedTuples: a dataclass costs about a millisecond to
# create at import, and `archcalc summary`'s start-up time is a feature.
class _Walk(NamedTuple):
    """What the pass fills in, indexed by node id."""

    graph: Graph
    input_sizes: Axes  # the input's spatial sizes; () for a flat input
    shapes: list[Shape]
    fields: list[ReceptiveField | None]
    rows: list[Row | None]
    notes: dict[int, str]
    order: list[str]  # the notes in the order merges ran


def analyze(spec: Spec, input_shape: Seq[int] | None = None) -> Analysis:
    """Analyse ``spec`` at its own input size, or at ``input_shape`` (C, H, W).

    >>> from archcalc import loads
    >>> a = analyze(loads("input: [1, 28, 28]\\nlayers: [{conv2d: {out: 16, kernel: 3}}]"))
    >>> a.rows[0].output_shape, a.rows[0].params
    ((16, 26, 26), 160)
    """
    with paused_gc():
        return _analyze(spec, input_shape)


def _analyze(spec: Spec, input_shape: Seq[int] | None) -> Analysis:
    shape = spec.input_shape if input_shape is None else _check_input(input_shape, spec)
    try:
        _check_elements(shape)
    except ShapeError as err:
        if input_shape is None:
            raise ArchcalcError.at(
                spec.input_loc, err.message, where="input", hint=err.hint
            ) from None
        raise ArchcalcError(err.message, file=spec.file, where="--input", hint=err.hint) from None
    graph = lower(spec)
    n = len(graph.nodes)
    walk = _Walk(
        graph=graph,
        input_sizes=shape[1:],
        shapes=[shape] * n,
        fields=[receptive.initial(len(shape) - 1) if len(shape) > 1 else None] * n,
        rows=[None] * n,
        notes={},
        order=[],
    )
    for node in graph.nodes[1:]:
        if node.op in MERGES:
            _merge_node(node, walk)
        else:
            _leaf(node, walk)
    rows = tuple(r for r in walk.rows if r is not None)
    return Analysis(
        name=spec.name,
        input_shape=shape,
        output_shape=walk.shapes[graph.outputs[0]],
        rows=rows,
        tree=_tree(graph.items, 1, walk),
        totals=totals_of(rows),
        notes=tuple(walk.order),
        graph=graph,
        final=final_field(graph, walk.shapes, walk.fields),
    )


def _check_input(dims: Seq[int], spec: Spec) -> Shape:
    shape = tuple(dims)
    if len(shape) not in (1, 2, 3, 4) or any(
        isinstance(d, bool) or not isinstance(d, int) or d < 1 or d > MAX_INT for d in shape
    ):
        raise ArchcalcError(
            f"input shape expects positive sizes as F, C×L, C×H×W or C×D×H×W, but gets {dims!r}",
            file=spec.file,
        )
    return shape


def _check_elements(shape: Shape) -> None:
    n = prod(shape)
    if n > MAX_ELEMENTS:
        raise ShapeError(
            f"{fmt_shape(shape)} holds {n:,} elements, more than a torch tensor can count "
            "(2^63 − 1)",
            hint="lower the channels or the input size",
        )


def _leaf(node: Node, walk: _Walk) -> None:
    layer = node.layer
    assert layer is not None
    kind = kinds.REGISTRY[node.op]
    (src,) = node.inputs
    shape = walk.shapes[src]
    rf = walk.fields[src]
    try:
        effect = kind.apply(layer.args, shape)
        out = effect.output_shape
        _check_elements(out)
        if rf is not None and effect.rf is not None:
            rf = receptive.check(receptive.step(rf, effect.rf, walk.input_sizes))
    except ShapeError as err:
        raise ArchcalcError.at(node.loc, err.message, where=node.label, hint=err.hint) from None
    walk.shapes[node.id] = out
    walk.fields[node.id] = rf
    walk.rows[node.id] = Row(
        path=node.path,
        kind=node.op,
        operation=kind.operation(layer.args, shape),
        depth=len(node.scope) + 1,
        input_shape=shape,
        output_shape=out,
        params=effect.params,
        trainable_params=effect.params,
        buffers=effect.buffers,
        macs=effect.macs,
        activation_bytes=prod(out) * FLOAT32_BYTES,
        receptive_field=rf,
        layer=layer,
        node=node.id,
    )


def _tree(items: tuple[int | str, ...], depth: int, walk: _Walk) -> tuple[Row, ...]:
    """The rows of ``items``: a node's leaf row, a scope's group row (its leaves' sums)."""
    out: list[Row] = []
    for item in items:
        if isinstance(item, int):
            row = walk.rows[item]
            assert row is not None
            out.append(row)
            continue
        scope = walk.graph.scopes[item]
        merged = scope.role in ("residual", "concat")
        out.append(
            group_row(
                path=scope.path,
                kind=scope.kind,
                operation=scope.operation,
                depth=depth,
                input_shape=walk.shapes[scope.input],
                output_shape=walk.shapes[scope.output],
                children=_tree(scope.items, depth + 1, walk),
                receptive_field=walk.fields[scope.output],
                note=walk.notes.get(scope.output) if merged else None,
            )
        )
    return tuple(out)


def _merge_node(node: Node, walk: _Walk) -> None:
    shapes = [walk.shapes[i] for i in node.inputs]
    if node.written:
        out = _merged_shape(node, shapes, walk)
    elif node.op == "add":
        out = _residual_shape(node, shapes, walk)
    else:
        out = _concat_shape(node, shapes, walk)
    rf, note = _merge([walk.fields[i] for i in node.inputs], node, walk)
    walk.shapes[node.id] = out
    walk.fields[node.id] = rf
    if not node.written:
        return
    walk.rows[node.id] = Row(
        path=node.path,
        kind=node.op,
        operation=_merge_operation(node),
        depth=len(node.scope) + 1,
        input_shape=shapes[0],
        output_shape=out,
        params=0,
        trainable_params=0,
        buffers=0,
        macs=0,
        activation_bytes=prod(out) * FLOAT32_BYTES,
        receptive_field=rf,
        note=note,
        node=node.id,
    )


# A written merge's operation names its inputs, up to this many (then how many more).
MERGE_NAMES_SHOWN = 6


def _merge_operation(node: Node) -> str:
    names: tuple[str, ...] = node.args
    if len(names) <= MERGE_NAMES_SHOWN:
        return f"{node.op} of {', '.join(names)}"
    shown = ", ".join(names[: MERGE_NAMES_SHOWN - 1])
    return f"{node.op} of {shown}, … {len(names) - MERGE_NAMES_SHOWN:,} more …, {names[-1]}"


def _residual_shape(node: Node, shapes: list[Shape], walk: _Walk) -> Shape:
    """The shape of a ``residual`` shorthand's add: both branches must agree."""
    scope = walk.graph.scopes[node.path]
    (main, short) = shapes
    if main != short:
        identity = node.inputs[1] == scope.input
        raise ArchcalcError.at(
            scope.loc,
            f"residual branches must give the same shape, but layers give {fmt_shape(main)} "
            f"and the {'identity shortcut' if identity else 'shortcut'} gives "
            f"{fmt_shape(short)}",
            where=scope.label,
            hint=_projection_hint(walk.shapes[scope.input], main),
        )
    return main


def _projection_hint(before: Shape, after: Shape) -> str | None:
    if len(before) != len(after) or len(before) not in (2, 3, 4):
        return None
    stride = before[-1] // after[-1] if after[-1] and before[-1] % after[-1] == 0 else 1
    s = f", stride: {stride}" if stride > 1 else ""
    return f"add `shortcut: [{{conv{len(after) - 1}d: {{out: {after[0]}, kernel: 1{s}}}}}]`"


def _concat_shape(node: Node, shapes: list[Shape], walk: _Walk) -> Shape:
    """The shape of a ``concat`` shorthand's cat: branches joined on channels."""
    scope = walk.graph.scopes[node.path]
    names = [str(b).rsplit(".", 1)[-1] for b in scope.items]
    first = shapes[0]
    for name, shape in zip(names[1:], shapes[1:], strict=True):
        same_rank = len(shape) == len(first)
        if not same_rank or (len(first) > 1 and shape[1:] != first[1:]):
            what = "spatial sizes" if same_rank else "ranks"
            raise ArchcalcError.at(
                scope.loc,
                f"concat branches must agree in {what}, but {names[0]} gives "
                f"{fmt_shape(first)} and {name} gives {fmt_shape(shape)}",
                where=scope.label,
                hint="concat joins on channels; give every branch the same H×W (padding, stride)",
            )
    return _joined(node, shapes, scope.loc, scope.label)


def _joined(node: Node, shapes: list[Shape], loc: Loc | None, where: str) -> Shape:
    joined = (sum(s[0] for s in shapes), *shapes[0][1:])
    try:
        _check_elements(joined)
    except ShapeError as err:
        raise ArchcalcError.at(
            loc, f"the joined output {err.message}", where=where, hint=err.hint
        ) from None
    return joined


def _merged_shape(node: Node, shapes: list[Shape], walk: _Walk) -> Shape:
    """The shape of an explicit ``add`` / ``mul`` / ``cat`` (docs/spec.md, "Graphs")."""
    names = node.args  # the input names as written
    first = shapes[0]

    # mul broadcasts step by step, as torch does: each input against the product so far.
    acc = first

    def fail(i: int, what: str, hint: str) -> ArchcalcError:
        before = (
            f"{names[0]} gives {fmt_shape(first)}"
            if i == 1 or node.op != "mul"
            else f"{', '.join(names[:i])} give {fmt_shape(acc)}"
        )
        return ArchcalcError.at(
            node.loc,
            f"{node.op} inputs must {what}, but {before} and "
            f"{names[i]} gives {fmt_shape(shapes[i])}",
            where=node.label,
            hint=hint,
        )

    for i, shape in enumerate(shapes[1:], 1):
        if len(shape) != len(first):
            raise fail(i, "have the same rank", "flatten or pool one of them first")
        if node.op == "add" and shape != first:
            raise fail(i, "have the same shape", "add sums tensors of one shape")
        if node.op == "cat" and shape[1:] != first[1:]:
            raise fail(
                i,
                "agree in every size but channels",
                "cat joins on channels; give every input the same H×W (padding, stride)",
            )
        if node.op == "mul":
            if any(a != b and 1 not in (a, b) for a, b in zip(acc, shape, strict=True)):
                raise fail(
                    i,
                    "broadcast (each size equal, or 1 in one of them)",
                    "mul multiplies elementwise, e.g. a C×1×1 gate times a C×H×W map",
                )
            acc = tuple(max(a, b) for a, b in zip(acc, shape, strict=True))
    if node.op == "cat":
        return _joined(node, shapes, node.loc, node.label)
    out = acc if node.op == "mul" else first
    try:
        _check_elements(out)
    except ShapeError as err:
        raise ArchcalcError.at(node.loc, err.message, where=node.label, hint=err.hint) from None
    return out


def _merge(
    fields: list[ReceptiveField | None], node: Node, walk: _Walk
) -> tuple[ReceptiveField | None, str | None]:
    known = [f for f in fields if f is not None]
    if not known:
        return None, None
    rf, misaligned = receptive.merge(known)
    scope = None if node.written else walk.graph.scopes[node.path]
    try:
        receptive.check(rf)
    except ShapeError as err:
        raise ArchcalcError.at(
            node.loc, err.message, where=scope.label if scope else node.label, hint=err.hint
        ) from None
    if not misaligned:
        return rf, None
    note = "paths meet with misaligned receptive-field centres"
    walk.notes[node.id] = note
    walk.order.append(f"{node.path}: {note}")
    return rf, note
