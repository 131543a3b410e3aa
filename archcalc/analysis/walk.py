"""Walk a spec, layer by layer, into an :class:`Analysis`. Pure Python; no torch."""

from __future__ import annotations

from collections.abc import Sequence as Seq
from math import prod
from typing import NamedTuple

from archcalc import kinds
from archcalc.analysis import receptive
from archcalc.analysis.receptive import ReceptiveField
from archcalc.analysis.result import FLOAT32_BYTES, Analysis, Row, group_row, totals_of
from archcalc.errors import ArchcalcError
from archcalc.gcpause import paused_gc
from archcalc.kinds.base import MAX_INT, Pair, Shape, ShapeError, fmt_shape
from archcalc.spec.model import Concat, Layer, Repeat, Residual, Sequence, Spec, SpecNode

# Torch counts a tensor's elements in an int64. Refusing larger outputs keeps
# every product built on a shape (MACs, parameters, bytes) a few dozen digits
# long, however the spec is written: concat can double the channels at every
# repeat, and flatten multiplies all three sides.
MAX_ELEMENTS = 2**63 - 1


# Private records are NamedTuples: a dataclass costs about a millisecond to
# create at import, and `archcalc summary`'s start-up time is a feature.
class _State(NamedTuple):
    """What flows from one layer to the next: the shape and the receptive field."""

    shape: Shape
    rf: ReceptiveField | None


class _Walk(NamedTuple):
    input_hw: Pair
    leaves: list[Row]
    notes: list[str]


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
    walk = _Walk(input_hw=(shape[1], shape[2]) if len(shape) == 3 else (1, 1), leaves=[], notes=[])
    state = _State(shape, receptive.initial() if len(shape) == 3 else None)
    tree: list[Row] = []
    for node in spec.layers:
        row, state = _node(node, state, 1, walk)
        tree.append(row)
    rows = tuple(walk.leaves)
    return Analysis(
        name=spec.name,
        input_shape=shape,
        output_shape=state.shape,
        rows=rows,
        tree=tuple(tree),
        totals=totals_of(rows),
        notes=tuple(walk.notes),
    )


def _check_input(dims: Seq[int], spec: Spec) -> Shape:
    shape = tuple(dims)
    if len(shape) not in (1, 3) or any(
        isinstance(d, bool) or not isinstance(d, int) or d < 1 or d > MAX_INT for d in shape
    ):
        raise ArchcalcError(
            f"input shape expects C×H×W (or F) positive sizes, but gets {dims!r}",
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


def _node(node: SpecNode, state: _State, depth: int, walk: _Walk) -> tuple[Row, _State]:
    if isinstance(node, Layer):
        return _leaf(node, state, depth, walk)
    if isinstance(node, Sequence):
        children, out = _sequence(node.children, state, depth + 1, walk)
        return _group(node.path, node.kind, node.kind, depth, state, out, children), out
    if isinstance(node, Repeat):
        children, out = _sequence(node.copies, state, depth + 1, walk)
        op = f"repeat ×{node.times}"
        return _group(node.path, "repeat", op, depth, state, out, children), out
    if isinstance(node, Residual):
        return _residual(node, state, depth, walk)
    assert isinstance(node, Concat)
    return _concat(node, state, depth, walk)


def _sequence(
    nodes: Seq[SpecNode], state: _State, depth: int, walk: _Walk
) -> tuple[tuple[Row, ...], _State]:
    rows = []
    for child in nodes:
        row, state = _node(child, state, depth, walk)
        rows.append(row)
    return tuple(rows), state


def _leaf(layer: Layer, state: _State, depth: int, walk: _Walk) -> tuple[Row, _State]:
    kind = kinds.REGISTRY[layer.kind]
    rf = state.rf
    try:
        effect = kind.apply(layer.args, state.shape)
        out = effect.output_shape
        _check_elements(out)
        if rf is not None and effect.rf is not None:
            rf = receptive.check(receptive.step(rf, effect.rf, walk.input_hw))
    except ShapeError as err:
        raise ArchcalcError.at(layer.loc, err.message, where=layer.label, hint=err.hint) from None
    row = Row(
        path=layer.path,
        kind=layer.kind,
        operation=kind.operation(layer.args, state.shape),
        depth=depth,
        input_shape=state.shape,
        output_shape=out,
        params=effect.params,
        trainable_params=effect.params,
        buffers=effect.buffers,
        macs=effect.macs,
        activation_bytes=prod(out) * FLOAT32_BYTES,
        receptive_field=rf,
        layer=layer,
    )
    walk.leaves.append(row)
    return row, _State(out, rf)


def _group(
    path: str,
    kind: str,
    operation: str,
    depth: int,
    before: _State,
    after: _State,
    children: tuple[Row, ...],
    note: str | None = None,
) -> Row:
    return group_row(
        path=path,
        kind=kind,
        operation=operation,
        depth=depth,
        input_shape=before.shape,
        output_shape=after.shape,
        children=children,
        receptive_field=after.rf,
        note=note,
    )


def _residual(node: Residual, state: _State, depth: int, walk: _Walk) -> tuple[Row, _State]:
    main_rows, main = _sequence(node.layers.children, state, depth + 1, walk)
    short_rows: tuple[Row, ...] = ()
    short = state
    if node.shortcut is not None:
        inner, short = _sequence(node.shortcut.children, state, depth + 2, walk)
        short_rows = (
            _group(node.shortcut.path, "shortcut", "shortcut", depth + 1, state, short, inner),
        )
    if main.shape != short.shape:
        raise ArchcalcError.at(
            node.loc,
            f"residual branches must give the same shape, but layers give {fmt_shape(main.shape)} "
            f"and the {'shortcut' if node.shortcut else 'identity shortcut'} gives "
            f"{fmt_shape(short.shape)}",
            where=node.label,
            hint=_projection_hint(state.shape, main.shape),
        )
    rf, note = _merge([main.rf, short.rf], node, walk)
    out = _State(main.shape, rf)
    op = "residual (+ projection)" if node.shortcut else "residual (+ identity)"
    return _group(node.path, "residual", op, depth, state, out, main_rows + short_rows, note), out


def _projection_hint(before: Shape, after: Shape) -> str | None:
    if len(before) != 3 or len(after) != 3:
        return None
    stride = before[1] // after[1] if after[1] and before[1] % after[1] == 0 else 1
    s = f", stride: {stride}" if stride > 1 else ""
    return f"add `shortcut: [{{conv2d: {{out: {after[0]}, kernel: 1{s}}}}}]`"


def _concat(node: Concat, state: _State, depth: int, walk: _Walk) -> tuple[Row, _State]:
    rows: list[Row] = []
    outs: list[_State] = []
    for branch in node.branches:
        inner, out = _sequence(branch.children, state, depth + 2, walk)
        rows.append(_group(branch.path, "branch", branch.name, depth + 1, state, out, inner))
        outs.append(out)
    first = outs[0].shape
    for branch, out in zip(node.branches[1:], outs[1:], strict=True):
        same_rank = len(out.shape) == len(first)
        if not same_rank or (len(first) == 3 and out.shape[1:] != first[1:]):
            what = "spatial sizes" if same_rank else "ranks"
            raise ArchcalcError.at(
                node.loc,
                f"concat branches must agree in {what}, but {node.branches[0].name} gives "
                f"{fmt_shape(first)} and {branch.name} gives {fmt_shape(out.shape)}",
                where=node.label,
                hint="concat joins on channels; give every branch the same H×W (padding, stride)",
            )
    joined = (sum(o.shape[0] for o in outs), *first[1:])
    try:
        _check_elements(joined)
    except ShapeError as err:
        raise ArchcalcError.at(
            node.loc, f"the joined output {err.message}", where=node.label, hint=err.hint
        ) from None
    rf, note = _merge([o.rf for o in outs], node, walk)
    out_state = _State(joined, rf)
    row = _group(
        node.path, "concat", f"concat of {len(outs)}", depth, state, out_state, tuple(rows), note
    )
    return row, out_state


def _merge(
    fields: list[ReceptiveField | None], node: Residual | Concat, walk: _Walk
) -> tuple[ReceptiveField | None, str | None]:
    known = [f for f in fields if f is not None]
    if not known:
        return None, None
    rf, misaligned = receptive.merge(known)
    try:
        receptive.check(rf)
    except ShapeError as err:
        raise ArchcalcError.at(node.loc, err.message, where=node.label, hint=err.hint) from None
    if not misaligned:
        return rf, None
    note = "paths meet with misaligned receptive-field centres"
    walk.notes.append(f"{node.path}: {note}")
    return rf, note
