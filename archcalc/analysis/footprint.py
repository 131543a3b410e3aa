"""Memory as torch spends it: saved tensors, the inference peak and the training step's peak.

Three passes over the graph (docs/memory.md says what each counts and how it was measured):

- **saved for backward**: every layer's rule (``LayerKind.saves``) says which tensors
  autograd keeps for its backward, at the dtype it runs in (autocast's low precision for
  convolutions and linear layers, float32 for the ops CPU autocast keeps in float32); a
  storage saved by several layers, or viewed by them, is counted once, as torch holds it.
- **inference peak**: eval mode without grad; a tensor is freed after its last reader (a
  skip keeps its tensor alive until the merge), views cost nothing, and the peak is the
  most bytes live at once, parameters, buffers and the batch included.
- **training peak**: one steady-state step. The forward pass keeps every saved tensor; a
  cross-entropy loss reads the outputs; backward walks the graph in reverse, each layer
  allocating its input's gradient and its weights' gradients, then releasing its saved
  tensors and its output's gradient; the optimizer then updates the weights. The peak is
  the most bytes live at any moment of the three, with what was live then.

Pure Python: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any, NamedTuple

from archcalc import kinds
from archcalc.analysis.result import FLOAT32_BYTES, Analysis
from archcalc.errors import ArchcalcError
from archcalc.kinds.base import DTYPE_BYTES, SaveContext, Saved, Shape

# --dtype: float32, or mixed precision (autocast to the low dtype, float32 parameters).
PRECISIONS = ("float32", "bfloat16", "float16")
DTYPE_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16"}
# --optimizer: the float32 tensors of state it keeps per trainable parameter.
OPTIMIZER_STATE = {"sgd": 0, "sgd-momentum": 1, "adam": 2, "adamw": 2}
# Adam's update makes two temporaries the size of the parameter it updates (sqrt, then the
# division), one tensor at a time on CPU; SGD updates in place.
_STEP_TEMPORARIES = {"sgd": 0, "sgd-momentum": 0, "adam": 2, "adamw": 2}


def precision(name: str) -> str:
    """A --dtype as written (``bf16``, ``float16``) → its canonical name, or an ArchcalcError."""
    canonical = DTYPE_ALIASES.get(name, name)
    if canonical not in PRECISIONS:
        raise ArchcalcError(
            f"--dtype expects one of {', '.join(PRECISIONS)} (or bf16, fp16), but gets {name!r}"
        )
    return canonical


def optimizer_name(name: str) -> str:
    if name not in OPTIMIZER_STATE:
        raise ArchcalcError(
            f"--optimizer expects one of {', '.join(OPTIMIZER_STATE)}, but gets {name!r}"
        )
    return name


@dataclass(frozen=True)
class Footprint:
    """Bytes for one network at one batch size, dtype and optimizer (docs/memory.md).

    ``params``, ``buffers``, ``gradients``, ``optimizer_state``: float32, the parameters
    stay float32 under mixed precision. ``input``: one float32 batch. ``saved``: what
    autograd keeps for backward after the forward pass, each storage once (the batch
    itself too, where the first layer saves it). ``training_peak``: the most live at
    once in a steady-state step, reached in ``training_phase`` (forward, backward or
    step); ``at_peak`` splits it into what was live then. ``inference_peak``: the most
    live in one eval-mode forward pass without grad, weights and batch included.
    """

    batch: int
    dtype: str
    optimizer: str
    params: int
    buffers: int
    gradients: int
    optimizer_state: int
    input: int
    saved: int
    training_peak: int
    training_phase: str
    at_peak: dict[str, int]
    inference_peak: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "dtype": self.dtype,
            "optimizer": self.optimizer,
            "params_bytes": self.params,
            "buffers_bytes": self.buffers,
            "gradients_bytes": self.gradients,
            "optimizer_state_bytes": self.optimizer_state,
            "input_bytes": self.input,
            "saved_bytes": self.saved,
            "training_peak_bytes": self.training_peak,
            "training_peak_phase": self.training_phase,
            "training_peak_parts": dict(self.at_peak),
            "inference_peak_bytes": self.inference_peak,
        }


# -- the walk ------------------------------------------------------------------------------


class _Storage(NamedTuple):
    per_sample: int
    fixed: int
    dtype: str

    def bytes(self, batch: int) -> int:
        return (self.per_sample * batch + self.fixed) * DTYPE_BYTES[self.dtype]


class _Tensor(NamedTuple):
    storage: int
    dtype: str
    grad: bool
    elems: int  # per sample


class _Step(NamedTuple):
    """One node of the graph as the walks need it."""

    node: int
    inputs: tuple[_Tensor, ...]
    out: _Tensor
    made: tuple[int, ...]  # storages its forward pass creates (output, copies, its own)
    saved: tuple[int, ...]  # storages it keeps for backward
    alias: bool  # its backward passes its output's gradient on as its input's (a reshape)
    cast_grads: tuple[int, ...]  # per-sample elements of low-precision gradients it casts back
    params: int  # trainable parameters: float32 gradients
    weight_copies: int  # autocast copies of its weights: their low-precision gradients
    scratch: int  # bytes its kernel allocates and frees while it runs (forward)


class _Walk:
    """Storages and steps of one pass; storage 0 is the batch."""

    def __init__(self) -> None:
        self.storages: list[_Storage] = []

    def new(self, per_sample: int, dtype: str, fixed: int = 0) -> int:
        self.storages.append(_Storage(per_sample, fixed, dtype))
        return len(self.storages) - 1


def _shapes(analysis: Analysis) -> list[Shape]:
    """Each node's output shape: a leaf's from its row, a merge's from its inputs."""
    graph = analysis.graph
    assert graph is not None
    shapes: list[Shape] = [analysis.input_shape] * len(graph.nodes)
    rows = {r.node: r for r in analysis.rows if r.node is not None}
    for node in graph.nodes[1:]:
        row = rows.get(node.id)
        if row is not None:
            shapes[node.id] = row.output_shape
            continue
        ins = [shapes[i] for i in node.inputs]
        if node.op == "cat":
            shapes[node.id] = (sum(s[0] for s in ins), *ins[0][1:])
        elif node.op == "mul":
            shapes[node.id] = tuple(max(d) for d in zip(*ins, strict=True))
        else:
            shapes[node.id] = ins[0]
    return shapes


def _promote(dtypes: list[str]) -> str:
    return "float32" if "float32" in dtypes else dtypes[0]


def _walk(
    analysis: Analysis, autocast: str | None, training: bool, batch: int, threads: int = 1
) -> tuple[_Walk, list[_Step]]:
    graph = analysis.graph
    if graph is None:
        raise ArchcalcError("this analysis has no graph to estimate memory from")
    shapes = _shapes(analysis)
    rows = {r.node: r for r in analysis.rows if r.node is not None}
    walk = _Walk()
    x = _Tensor(walk.new(prod(analysis.input_shape), "float32"), "float32", False, 0)
    tensors: list[_Tensor] = [x._replace(elems=prod(analysis.input_shape))]
    steps: list[_Step] = []
    for node in graph.nodes[1:]:
        ins = tuple(tensors[i] for i in node.inputs)
        elems = prod(shapes[node.id])
        if node.is_merge:
            step = _merge(walk, node.id, node.op, ins, elems, training)
        else:
            row = rows[node.id]
            ctx = SaveContext(ins[0].dtype, autocast, ins[0].grad, training, threads)
            step = _layer(walk, node.id, node.op, node.args, row, ins[0], elems, ctx, batch)
        tensors.append(step.out)
        steps.append(step)
    return walk, steps


def _merge(
    walk: _Walk, nid: int, op: str, ins: tuple[_Tensor, ...], elems: int, training: bool
) -> _Step:
    dtype = _promote([t.dtype for t in ins])
    grad = any(t.grad for t in ins)
    saved: list[int] = []
    made: list[int] = []
    if op == "mul" and training:
        # y = a·b·c runs as (a·b)·c: each product saves the factor the other's gradient needs.
        acc = ins[0]
        for b in ins[1:]:
            if acc.grad:
                saved.append(b.storage)
            if b.grad:
                saved.append(acc.storage)
            if b is not ins[-1]:
                made.append(walk.new(elems, dtype))
                acc = _Tensor(made[-1], dtype, acc.grad or b.grad, elems)
    out = walk.new(elems, dtype)
    made.append(out)
    return _Step(
        node=nid,
        inputs=ins,
        out=_Tensor(out, dtype, grad, elems),
        made=tuple(made),
        saved=tuple(saved) if grad else (),
        # add hands its gradient to each input, cat a slice of it to each
        alias=op in ("add", "cat"),
        cast_grads=(),
        params=0,
        weight_copies=0,
        scratch=0,
    )


def _layer(
    walk: _Walk,
    nid: int,
    op: str,
    args: Any,
    row: Any,
    src: _Tensor,
    elems: int,
    ctx: SaveContext,
    batch: int,
) -> _Step:
    kind = kinds.REGISTRY.get(op)
    if kind is None or kind.saves is None:
        raise ArchcalcError(f"no memory rule for `{op}` ({row.path})")
    training, autocast = ctx.training, ctx.autocast
    rule: Saved = kind.saves(args, row.input_shape, ctx)
    traits = kind.traits
    params = row.trainable_params
    grad = src.grad or params > 0
    view = rule.view or (not training and traits is not None and traits.pass_through)
    made: list[int] = []
    if view:
        out = src._replace(dtype=rule.dtype, grad=grad, elems=elems)
    else:
        out = _Tensor(walk.new(elems, rule.dtype), rule.dtype, grad, elems)
        made.append(out.storage)
    saved: list[int] = []
    cast_grads: list[int] = []
    temps: list[int] = []
    if rule.input is not None:
        if rule.input == src.dtype:
            saved.append(src.storage)
        else:
            copy = walk.new(src.elems, rule.input)
            made.append(copy)
            (saved if training else temps).append(copy)
            if src.grad:
                cast_grads.append(src.elems)
    if rule.output:
        saved.append(out.storage)
    for own in rule.own:
        if training or own.inference:
            made.append(walk.new(own.per_sample, own.dtype, own.fixed))
            (saved if training else temps).append(made[-1])
    if rule.weights and training:
        made.append(walk.new(0, autocast or "float32", rule.weights))
        saved.append(made[-1])
    if not training or not grad or (not src.grad and params == 0):
        saved = []
    in_elems = prod(row.input_shape)
    return _Step(
        node=nid,
        inputs=(src,),
        out=out,
        made=tuple(made),
        saved=tuple(saved),
        alias=view and elems == in_elems,
        cast_grads=tuple(cast_grads),
        params=params,
        weight_copies=rule.weights,
        scratch=kind.scratch(args, row.input_shape, ctx, batch) if kind.scratch else 0,
    )


# -- the passes ---------------------------------------------------------------------------


class _Live:
    """Bytes live, storage by storage, and the most seen so far with what made it up."""

    def __init__(self, walk: _Walk, batch: int, base: dict[str, int]) -> None:
        self.walk = walk
        self.batch = batch
        self.base = dict(base)
        self.live: dict[int, int] = {}
        self.extra: dict[str, int] = {}
        self.peak = -1
        self.phase = ""
        self.parts: dict[str, int] = {}
        self.saved: set[int] = set()

    def add(self, storage: int) -> None:
        if storage not in self.live:
            self.live[storage] = self.walk.storages[storage].bytes(self.batch)

    def drop(self, storage: int) -> None:
        self.live.pop(storage, None)

    def total(self) -> int:
        return sum(self.base.values()) + sum(self.live.values()) + sum(self.extra.values())

    def check(self, phase: str) -> None:
        total = self.total()
        if total > self.peak:
            self.peak, self.phase = total, phase
            saved = sum(b for s, b in self.live.items() if s in self.saved)
            self.parts = {
                **self.base,
                "saved": saved,
                "activations": sum(self.live.values()) - saved,
                **self.extra,
            }


def _bytes(n: int, dtype: str = "float32") -> int:
    return n * DTYPE_BYTES[dtype]


def _last_reads(steps: list[_Step]) -> dict[int, int]:
    """Storage → index of the last step that reads it in the forward pass."""
    last: dict[int, int] = {}
    for i, step in enumerate(steps):
        for t in step.inputs:
            last[t.storage] = i
    return last


def inference_peak(
    analysis: Analysis, batch: int = 1, dtype: str = "float32", threads: int = 1
) -> int:
    """The most bytes live in one eval-mode forward pass without grad (see the module doc)."""
    return _inference(analysis, batch, dtype, threads).peak


def _inference(analysis: Analysis, batch: int, dtype: str, threads: int) -> _Live:
    autocast = None if dtype == "float32" else dtype
    walk, steps = _walk(analysis, autocast, training=False, batch=batch, threads=threads)
    graph = analysis.graph
    assert graph is not None
    weights = analysis.totals.params * FLOAT32_BYTES + analysis.totals.buffers * FLOAT32_BYTES
    live = _Live(walk, batch, {"weights": weights, "input": walk.storages[0].bytes(batch)})
    keep = {steps[o - 1].out.storage for o in graph.outputs if o > 0}
    last = _last_reads(steps)
    copies = 0
    for i, step in enumerate(steps):
        saved_rule = step.made[1:] if step.made and step.made[0] == step.out.storage else step.made
        for s in step.made:
            live.add(s)
        live.extra["weight copies"] = copies + _bytes(step.weight_copies, dtype)
        live.extra["workspace"] = step.scratch
        live.check("inference")
        live.extra["workspace"] = 0
        # autocast's cache keeps each weight's low-precision copy until the pass ends
        copies += _bytes(step.weight_copies, dtype)
        for s in saved_rule:
            if s != step.out.storage:
                live.drop(s)
        for t in step.inputs:
            if last.get(t.storage) == i and t.storage not in keep and t.storage != 0:
                live.drop(t.storage)
    return live


def footprint(
    analysis: Analysis,
    batch: int = 1,
    dtype: str = "float32",
    optimizer: str = "adam",
    threads: int = 1,
) -> Footprint:
    """The memory of ``analysis`` at ``batch``: see :class:`Footprint` and the module doc.
    ``threads``: the CPU threads torch runs on, for the kernels that keep scratch per thread."""
    autocast = None if dtype == "float32" else dtype
    walk, steps = _walk(analysis, autocast, training=True, batch=batch, threads=threads)
    graph = analysis.graph
    assert graph is not None
    totals = analysis.totals
    params = totals.params * FLOAT32_BYTES
    trainable = totals.trainable_params * FLOAT32_BYTES
    buffers = totals.buffers * FLOAT32_BYTES
    state = OPTIMIZER_STATE[optimizer] * trainable
    inp = walk.storages[0].bytes(batch)
    outputs = [steps[o - 1].out if o > 0 else None for o in graph.outputs]
    live = _Live(
        walk,
        batch,
        {"params": params, "buffers": buffers, "optimizer_state": state, "input": inp},
    )
    # targets: one int64 class index per sample and output position
    live.base["targets"] = sum(
        _bytes(batch * (t.elems // max(1, _channels(analysis, o))), "int64")
        for t, o in zip(outputs, graph.outputs, strict=True)
        if t is not None
    )
    holders: dict[int, int] = {}  # storage → how many steps keep it for backward
    for step in steps:
        for s in set(step.saved):
            holders[s] = holders.get(s, 0) + 1
    live.saved = set(holders)
    keep = {t.storage for t in outputs if t is not None}
    last = _last_reads(steps)
    for i, step in enumerate(steps):
        for s in step.made:
            live.add(s)
        live.extra["workspace"] = step.scratch
        live.check("forward")
        live.extra["workspace"] = 0
        for s in step.made:
            if s not in holders and s not in keep and last.get(s, -1) <= i:
                live.drop(s)
        for t in step.inputs:
            s = t.storage
            if last.get(s) == i and s not in holders and s not in keep and s != 0:
                live.drop(s)
    saved_total = sum(walk.storages[s].bytes(batch) for s in holders)
    # the loss: cross-entropy over each output's channels, in float32 (autocast's list)
    grads: dict[int, int] = {}  # storage of a forward tensor → its gradient's bytes
    loss = 0
    for o in outputs:
        if o is None or not o.grad:
            continue
        loss += _bytes(o.elems * batch)  # log-softmax's output, saved
        grads[o.storage] = _bytes(o.elems * batch, o.dtype)
    for s in keep:
        if s not in holders and s != 0:
            live.drop(s)
    live.extra["loss"] = loss
    live.extra["gradients"] = 0
    live.extra["activation gradients"] = sum(grads.values())
    live.extra["workspace"] = loss  # nll's and log-softmax's gradients, one at a time
    live.check("backward")
    live.extra["loss"] = live.extra["workspace"] = 0
    gradients = 0
    for step in reversed(steps):
        g = grads.pop(step.out.storage, None)
        if g is None:
            continue  # no gradient reaches it
        made = 0
        new_grads: list[tuple[int, int]] = []
        for t in step.inputs:
            if not t.grad:
                continue
            n = 0 if step.alias else _bytes(t.elems * batch, t.dtype)
            made += n
            new_grads.append((t.storage, n))
        cast = sum(_bytes(e * batch, autocast or "float32") for e in step.cast_grads)
        cast += _bytes(step.weight_copies, autocast or "float32")
        gradients += _bytes(step.params)
        live.extra["gradients"] = gradients
        live.extra["activation gradients"] = sum(grads.values()) + g
        live.extra["workspace"] = made + cast
        live.check("backward")
        live.extra["workspace"] = 0
        for s in set(step.saved):
            holders[s] -= 1
            if holders[s] == 0:
                live.drop(s)
        for s, n in new_grads:
            # a second gradient for the same tensor is added into the first
            grads[s] = grads.get(s, 0) or (n if n else g)
        live.extra["activation gradients"] = sum(grads.values())
    live.extra["activation gradients"] = 0
    largest = max((r.trainable_params for r in analysis.rows), default=0)
    live.extra["workspace"] = _STEP_TEMPORARIES[optimizer] * _bytes(largest)
    live.extra["gradients"] = trainable
    live.check("step")
    return Footprint(
        batch=batch,
        dtype=dtype,
        optimizer=optimizer,
        params=params,
        buffers=buffers,
        gradients=trainable,
        optimizer_state=state,
        input=inp,
        saved=saved_total,
        training_peak=live.peak,
        training_phase=live.phase,
        at_peak={k: v for k, v in live.parts.items() if v},
        inference_peak=inference_peak(analysis, batch, dtype, threads),
    )


def _channels(analysis: Analysis, node: int) -> int:
    shapes = _shapes(analysis)
    shape = shapes[node]
    return shape[0] if shape else 1


def saved_bytes(analysis: Analysis, batch: int = 1, dtype: str = "float32") -> int:
    """What autograd keeps for backward after one training forward pass, each storage once."""
    autocast = None if dtype == "float32" else dtype
    walk, steps = _walk(analysis, autocast, training=True, batch=batch)
    storages = {s for step in steps for s in step.saved}
    return sum(walk.storages[s].bytes(batch) for s in storages)
