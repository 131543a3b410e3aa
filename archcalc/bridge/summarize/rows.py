"""Freezing the tracer's records into an Analysis: leaf rows, container rows, notes."""

from __future__ import annotations

from math import prod
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import keystr, tree_flatten_with_path

from archcalc.analysis.result import (
    FLOAT32_BYTES,
    Analysis,
    Row,
    final_field,
    group_row,
    new_row,
    totals_of,
)
from archcalc.bridge.summarize.ops import first_tensor
from archcalc.bridge.summarize.torch_kinds import class_text, known_kind
from archcalc.bridge.summarize.tracer import Group, Held, Record, Tracer, own_path
from archcalc.kinds.base import Shape, fmt_shape


def to_analysis(tracer: Tracer, name: str, shape: Shape, output: Any) -> Analysis:
    """The Analysis of one traced forward pass whose result was ``output``."""
    _add_uncalled(tracer)
    rows: list[Row] = []
    tree = tuple(_freeze(node, tracer, rows) for node in tracer.top)
    totals = totals_of(rows)
    expected = _torch_count(tracer)
    if totals.params != expected:  # pragma: no cover - would be a bug in the bookkeeping
        raise RuntimeError(f"summarize counted {totals.params} parameters, torch {expected}")
    y = first_tensor(output)
    outputs = _outputs(output)
    notes = [*tracer.notes, *_uncounted_notes(rows, totals.params)]
    if outputs:
        notes.append(
            f"the forward gives {len(outputs)} tensors: "
            + ", ".join(f"{name} {fmt_shape(s)}" for name, s in outputs)
            + f"; output shape is the first's ({outputs[0][0]})"
        )
    graph = tracer.graph(output)
    outs = [tracer.node_out.get(n.id, (None, None)) for n in graph.nodes]
    return Analysis(
        name=name,
        input_shape=shape,
        output_shape=tuple(y.shape[1:]) if y is not None else (),
        rows=tuple(rows),
        tree=tree,
        totals=totals,
        notes=tuple(notes),
        source="module",
        graph=graph,
        final=final_field(graph, [o[0] for o in outs], [o[1] for o in outs]),
        outputs=outputs,
    )


def _outputs(output: Any) -> tuple[tuple[str, Shape], ...]:
    """Every tensor of a result holding several, named by its place in it (``[0]``,
    ``['out']``, ``[0]['boxes']``); () for a result of one tensor."""
    if isinstance(output, torch.Tensor):
        return ()
    found = [(keystr(path), v) for path, v in tree_flatten_with_path(output)[0]]
    tensors = [(name, tuple(v.shape[1:])) for name, v in found if isinstance(v, torch.Tensor)]
    return tuple(tensors) if len(tensors) > 1 else ()


def _torch_count(tracer: Tracer) -> int:
    """``sum(p.numel() for p in model.parameters())``: each tensor once."""
    seen: set[int] = set()
    total = 0
    for _, held in tracer.modules.values():
        for _, p in held.params:
            if id(p) not in seen:
                seen.add(id(p))
                total += p.numel()
    return total


def _add_uncalled(tracer: Tracer) -> None:
    """Modules forward never ran still hold parameters torch counts: give them rows."""
    added: list[Record] = []
    names: list[str] = []
    owner = tracer.owner
    for module, (path, held) in tracer.modules.items():
        if not _has_uncounted(held, owner):
            continue
        known = known_kind(module, ())
        rec = Record(
            path=path or type(module).__name__,
            kind=known.kind if known else type(module).__name__.lower(),
            operation=known.operation() if known else class_text(module),
            depth=1,
            module=module,
            activations=False,
        )
        tracer.count_own(rec, module)
        users = sorted(
            {
                tracer.used_by[id(p)]
                for _, p in tracer.held(module).params
                if id(p) in tracer.used_by
            }
        )
        rec.notes.append(
            "not called by forward"
            + (f" (its parameters are used by {', '.join(users)})" if users else "")
            + "; its parameters are counted here"
        )
        added.append(rec)
        names.append(f"{rec.path} (used by {', '.join(users)})" if users else rec.path)
    if added:
        tracer.top.extend(added)
        tracer.notes.append(
            f"{len(added)} module(s) not called by forward hold "
            f"{sum(r.params for r in added):,} parameters (included in the totals): "
            + ", ".join(names)
        )


def _has_uncounted(held: Held, owner: dict[int, Record]) -> bool:
    """Whether a module holds a tensor no row has counted."""
    if not held.params and not held.buffers:
        return False  # most modules: no generator made
    return any(id(t) not in owner for _, t in held.params) or any(
        id(t) not in owner for _, t in held.buffers
    )


def _freeze(node: Record | Group, tracer: Tracer, rows: list[Row]) -> Row:
    if isinstance(node, Record):
        row = _leaf_row(node, tracer)
        rows.append(row)
        return row
    children = tuple(_freeze(child, tracer, rows) for child in node.children)
    name = type(node.module).__name__
    return group_row(
        path=node.path,
        kind=name.lower(),
        operation=name,
        depth=node.depth,
        input_shape=node.input_shape,
        output_shape=node.output_shape,
        children=children,
        receptive_field=node.out_field.rf,
        calls=tracer.calls.get(node.module, 1),
    )


def _leaf_row(rec: Record, tracer: Tracer) -> Row:
    notes = list(rec.notes)
    path, kind, operation = rec.path, rec.kind, rec.operation
    if rec.kind == "own":  # a container's own part
        path, kind, operation = _own_text(rec)
    calls = tracer.calls.get(rec.module, 1) if rec.module is not None else 1
    if rec.call > 1:
        notes.insert(
            0,
            f"call {rec.call} of {calls}"
            + (
                f"; weights shared with {rec.path} (first call)"
                if _holds_params(rec.module)
                else ""
            ),
        )
    if rec.uncosted and rec.known is None:
        what = "MACs uncounted" if rec.macs is None else "MACs partly counted"
        notes.append(f"{what}: no cost rule for " + ", ".join(sorted(rec.uncosted)))
    why = rec.out_field.why
    if rec.out_field.rf is None and why is not None and why not in tracer.reported:
        tracer.reported.add(why)
        notes.append(f"receptive field unknown: {why}")
        tracer.notes.append(f"{path}: receptive field unknown from here on: {why}")
    return new_row(
        path=path,
        kind=kind,
        operation=operation,
        depth=rec.depth,
        input_shape=rec.input_shape,
        output_shape=rec.output_shape,
        params=rec.params,
        trainable_params=rec.trainable,
        buffers=rec.buffers,
        macs=rec.macs,
        activation_bytes=prod(rec.output_shape) * FLOAT32_BYTES if rec.activations else 0,
        receptive_field=rec.out_field.rf,
        note="; ".join(notes) or None,
        calls=calls,
        node=rec.node,
    )


def _own_text(rec: Record) -> tuple[str, str, str]:
    assert rec.module is not None
    tensors = [
        f"{n} {fmt_shape(tuple(t.shape))}"
        for n, t in [
            *rec.module.named_parameters(recurse=False),
            *rec.module.named_buffers(recurse=False),
        ]
    ]
    ops = sorted(rec.uncosted)
    if rec.params or rec.buffers:
        return own_path(rec), "parameters", ", ".join(tensors + ops)
    text = "functional ops" + (f": {', '.join(ops)}" if ops else "")
    return own_path(rec), "functional", text


def _holds_params(module: nn.Module | None) -> bool:
    return module is not None and next(module.parameters(recurse=False), None) is not None


def _uncounted_notes(rows: list[Row], total_params: int) -> list[str]:
    notes = []
    uncounted = [r for r in rows if r.macs is None]
    if uncounted:
        params = sum(r.params for r in uncounted)
        share = f"{100 * params / total_params:.1f}%" if total_params else "0%"
        notes.append(
            f"MACs uncounted for {len(uncounted)} of {len(rows)} rows (no cost rule): "
            f"{', '.join(r.path for r in uncounted)} — they hold {share} of the parameters; "
            "the total MACs exclude them"
        )
    partly = [r.path for r in rows if r.note is not None and "MACs partly counted" in r.note]
    if partly:
        notes.append(
            f"MACs partly counted for {len(partly)} of {len(rows)} rows (an op without a "
            f"cost rule, named in the row): {', '.join(partly)}; the totals hold their "
            "counted part"
        )
    return notes
