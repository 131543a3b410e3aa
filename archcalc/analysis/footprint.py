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

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from math import prod
from typing import Any, NamedTuple

from archcalc import kinds
from archcalc.analysis.result import FLOAT32_BYTES, Analysis, Row
from archcalc.errors import ArchcalcError
from archcalc.gcpause import paused_gc
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
    unknown: tuple[str, ...] = ()  # layers without a memory rule, assumed to save their input

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
            **({"unknown_layers": list(self.unknown)} if self.unknown else {}),
        }


# -- the walk ------------------------------------------------------------------------------


# Bytes as a line in the batch size: (slope, intercept), bytes = slope·batch + intercept.
# Every tensor but the weights grows with the batch, and what is live when does not depend
# on it, so one walk answers every batch (fit asks for a dozen).
_Line = tuple[int, int]
_ZERO: _Line = (0, 0)


def _at(line: _Line, batch: int) -> int:
    return line[0] * batch + line[1]


def _sum(lines: Iterable[_Line]) -> _Line:
    a = c = 0
    for la, lc in lines:
        a += la
        c += lc
    return a, c


class _Tensor(NamedTuple):
    storage: int
    dtype: str
    grad: bool
    elems: int  # per sample
    strided: bool = False  # a slice or a permuted view (Saved.strided)


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
    # what its kernels allocate and free while they run, forward and backward: indices
    # into _Walk.scratch, or -1 for nothing
    scratch: int
    backward_scratch: int


class _Walk:
    """Storages and steps of one pass; storage 0 is the batch."""

    def __init__(self) -> None:
        self.lines: list[_Line] = []  # each storage's bytes; its index names it
        self.unknown: list[str] = []  # paths of layers without a memory rule
        # the kernels' scratch as functions of the batch, one per distinct layer: the same
        # convolution repeated is asked once per batch, not once per copy
        self.scratch: list[Callable[[int], int]] = []
        self._scratch_of: dict[tuple[Any, ...], int] = {}

    def new(self, per_sample: int, dtype: str, fixed: int = 0) -> int:
        size = DTYPE_BYTES[dtype]
        self.lines.append((per_sample * size, fixed * size))
        return len(self.lines) - 1

    def scratch_index(
        self, rule: Callable[..., int] | None, args: Any, row: Row, ctx: SaveContext
    ) -> int:
        """The index of a layer's scratch ``rule`` (a LayerKind's ``scratch`` or
        ``backward_scratch``) at its shapes, shared with its identical copies; -1: none."""
        if rule is None:
            return -1
        key = (rule, args, row.input_shape, row.output_shape, ctx)
        try:
            index = self._scratch_of.get(key)
            hashable = True
        except TypeError:  # arguments that do not hash: an entry of their own
            index, hashable = None, False
        if index is None:
            fn = partial(rule, args, row.input_shape, row.output_shape, ctx)
            self.scratch.append(fn)
            index = len(self.scratch) - 1
            if hashable:
                self._scratch_of[key] = index
        return index


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
        if not ins:
            shapes[node.id] = ()
        elif node.op == "cat":
            shapes[node.id] = (sum(s[0] for s in ins), *ins[0][1:])
        elif node.op == "mul":
            shapes[node.id] = _broadcast(ins)
        else:
            shapes[node.id] = ins[0]
    return shapes


def _broadcast(shapes: list[Shape]) -> Shape:
    """Shapes broadcast as torch does, aligned from the right (a traced module may multiply
    tensors of different ranks); the first where they do not broadcast."""
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    out = []
    for dims in zip(*padded, strict=True):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            return shapes[0]
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def _promote(dtypes: list[str]) -> str:
    return "float32" if "float32" in dtypes else dtypes[0]


def _walk(
    analysis: Analysis, autocast: str | None, training: bool, threads: int = 1
) -> tuple[_Walk, list[_Step]]:
    graph = analysis.graph
    if graph is None:
        raise ArchcalcError("this analysis has no graph to estimate memory from")
    shapes = _shapes(analysis)
    rows = {r.node: r for r in analysis.rows if r.node is not None}
    walk = _Walk()
    n = prod(analysis.input_shape)
    tensors: list[_Tensor] = [_Tensor(walk.new(n, "float32"), "float32", False, n)]
    steps: list[_Step] = []
    for node in graph.nodes[1:]:
        ins = tuple(tensors[i] for i in node.inputs)
        row = rows.get(node.id)
        if not ins:  # made from constants alone (a traced detector's anchors): none of the batch
            size = prod(row.input_shape) if row is not None else 0
            ins = (_Tensor(walk.new(0, "float32", size), "float32", False, 0),)
        elems = prod(shapes[node.id])
        if node.is_merge:
            step = _merge(walk, node.id, node.op, ins, elems, training)
        elif row is None:
            # an op in a traced container's own code whose row a later op took over: counted
            # as a new tensor that keeps nothing for backward
            walk.unknown.append(node.path)
            step = _merge(walk, node.id, "add", ins, elems, training)
        else:
            src = ins[0]
            ctx = SaveContext(src.dtype, autocast, src.grad, training, threads, not src.strided)
            step = _layer(walk, node.id, node.op, node.args, row, ins[0], elems, ctx)
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
        scratch=-1,
        backward_scratch=-1,
    )


def _layer(
    walk: _Walk,
    nid: int,
    op: str,
    args: Any,
    row: Row,
    src: _Tensor,
    elems: int,
    ctx: SaveContext,
) -> _Step:
    kind = kinds.REGISTRY.get(op)
    training, autocast = ctx.training, ctx.autocast
    if kind is None or kind.saves is None:
        # a module archcalc has no kind for (summary --module): assumed to save its input
        walk.unknown.append(row.path)
        rule = Saved(ctx.dtype, input=ctx.dtype)
    else:
        rule = kind.saves(args, row.input_shape, ctx)
    traits = kind.traits if kind is not None else None
    params = row.trainable_params
    grad = src.grad or params > 0
    view = rule.view or (not training and traits is not None and traits.pass_through)
    made: list[int] = []
    if view:
        strided = rule.strided or src.strided
        out = src._replace(dtype=rule.dtype, grad=grad, elems=elems, strided=strided)
    else:
        out = _Tensor(walk.new(elems, rule.dtype), rule.dtype, grad, elems, rule.strided)
        made.append(out.storage)
    saved: list[int] = []
    cast_grads: list[int] = []
    if rule.input is not None:
        if rule.input == src.dtype:
            saved.append(src.storage)
        else:  # autocast's copy; without grad it lives while the op runs
            made.append(walk.new(src.elems, rule.input))
            saved.append(made[-1])
            if src.grad:
                cast_grads.append(src.elems)
    if rule.output:
        saved.append(out.storage)
    for own in rule.own:
        if training or own.inference:
            made.append(walk.new(own.per_sample, own.dtype, own.fixed))
            saved.append(made[-1])
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
        weight_copies=max(rule.weights, rule.casts),
        scratch=walk.scratch_index(kind.scratch, args, row, ctx) if kind else -1,
        backward_scratch=walk.scratch_index(kind.backward_scratch, args, row, ctx)
        if kind and training
        else -1,
    )


# -- the passes ---------------------------------------------------------------------------


class _Curve:
    """A pass's moments as lines in the batch: the most live at ``batch`` is the highest
    of them there, the first one reaching it where several do.

    Each moment (``check``) keeps the slope and intercept of everything live, the kernel
    scratch running then (an index into the walk's scratch functions, which may bend with
    the batch: torch's kernels pick paths by size), and what it is made of, so ``at``
    gives the breakdown at any batch without walking the graph again.
    """

    def __init__(self, walk: _Walk, base: dict[str, _Line]) -> None:
        self.scratch = walk.scratch
        self.base = base
        self.slopes: list[int] = []
        self.intercepts: list[int] = []
        self.kernels: list[int] = []  # scratch index, or -1
        # phase, saved, live and the named extras at each moment
        self.parts: list[tuple[str, _Line, _Line, tuple[tuple[str, _Line], ...]]] = []

    def _scratch_at(self, batch: int) -> list[int]:
        return [f(batch) for f in self.scratch] + [0]  # index -1: none

    def _highest(self, batch: int, scratch: list[int]) -> tuple[int, int]:
        best, peak = -1, -1
        for i, (a, c, k) in enumerate(zip(self.slopes, self.intercepts, self.kernels, strict=True)):
            total = a * batch + c + scratch[k]
            if total > peak:
                best, peak = i, total
        return best, peak

    def peak(self, batch: int) -> int:
        return self._highest(batch, self._scratch_at(batch))[1]

    def at(self, batch: int) -> tuple[int, str, dict[str, int]]:
        """The peak at ``batch``, its phase, and what was live then, by part."""
        scratch = self._scratch_at(batch)
        best, peak = self._highest(batch, scratch)
        phase, saved, live, extra = self.parts[best]
        parts = {name: _at(line, batch) for name, line in self.base.items()}
        parts["saved"] = _at(saved, batch)
        parts["activations"] = _at(live, batch) - parts["saved"]
        for name, line in extra:
            parts[name] = _at(line, batch)
        if self.kernels[best] >= 0:
            parts["workspace"] = parts.get("workspace", 0) + scratch[self.kernels[best]]
        return peak, phase, parts

    def base_at(self, name: str, batch: int) -> int:
        return _at(self.base[name], batch)


class _Live:
    """What is live during a walk, as lines: storage by storage plus named extras.

    Running totals, not sums over what is live: a 5,000-layer training walk keeps
    5,000 saved tensors live, and summing them at every step would be quadratic.
    """

    def __init__(self, walk: _Walk, base: dict[str, _Line]) -> None:
        self.lines = walk.lines
        self.base_a, self.base_c = _sum(base.values())
        self.live: set[int] = set()
        self.live_a = self.live_c = 0
        self.saved_a = self.saved_c = 0  # of the live storages that are in ``saved``
        self.extra: dict[str, _Line] = {}
        self.saved: set[int] = set()
        self.curve = _Curve(walk, base)

    def add(self, storage: int) -> None:
        if storage not in self.live:
            self.live.add(storage)
            a, c = self.lines[storage]
            self.live_a += a
            self.live_c += c
            if storage in self.saved:
                self.saved_a += a
                self.saved_c += c

    def drop(self, storage: int) -> None:
        if storage in self.live:
            self.live.remove(storage)
            a, c = self.lines[storage]
            self.live_a -= a
            self.live_c -= c
            if storage in self.saved:
                self.saved_a -= a
                self.saved_c -= c

    def check(self, phase: str, scratch: int = -1) -> None:
        """A moment of the pass, with the kernel scratch running then (-1: none)."""
        ea, ec = _sum(self.extra.values())
        curve = self.curve
        curve.slopes.append(self.base_a + self.live_a + ea)
        curve.intercepts.append(self.base_c + self.live_c + ec)
        curve.kernels.append(scratch)
        curve.parts.append(
            (
                phase,
                (self.saved_a, self.saved_c),
                (self.live_a, self.live_c),
                tuple(self.extra.items()),
            )
        )


def _bytes(n: int, dtype: str = "float32") -> int:
    return n * DTYPE_BYTES[dtype]


def _frees(analysis: Analysis, steps: list[_Step]) -> list[list[int]]:
    """For each step, the storages nothing needs once it has run (its made ones included).

    Its last reader, or later: a nested module (a block's Sequential, a residual, a concat)
    holds its input until it returns, as the Python frame calling it keeps a reference, so
    a block's input lives until the block's output exists. A spec that names tensors runs
    as one GraphNet, which drops each tensor after its last reader.
    """
    last: dict[int, int] = {}
    for i, step in enumerate(steps):
        for t in step.inputs:
            last[t.storage] = i
    graph = analysis.graph
    assert graph is not None
    if not (graph.names_tensors() and analysis.source == "spec"):
        for scope in graph.scopes.values():
            if scope.input > 0 and scope.output > 0:
                s = steps[scope.input - 1].out.storage
                last[s] = max(last.get(s, -1), scope.output - 1)
    frees: list[list[int]] = [[] for _ in steps]
    for i, step in enumerate(steps):
        for s in step.made:
            last.setdefault(s, i)  # made and never read: done once its step is
    for s, i in last.items():
        if s != 0:  # the batch: the caller holds it
            frees[i].append(s)
    return frees


def _autocast(dtype: str) -> str | None:
    return None if dtype == "float32" else dtype


def _weights(analysis: Analysis) -> int:
    return (analysis.totals.params + analysis.totals.buffers) * FLOAT32_BYTES


def inference_peak(
    analysis: Analysis, batch: int = 1, dtype: str = "float32", threads: int = 1
) -> int:
    """The most bytes live in one eval-mode forward pass without grad (see the module doc)."""
    with paused_gc():  # tens of thousands of small records, none in a cycle
        return _inference(analysis, dtype, threads).peak(batch)


def _inference(analysis: Analysis, dtype: str, threads: int) -> _Curve:
    walk, steps = _walk(analysis, _autocast(dtype), training=False, threads=threads)
    graph = analysis.graph
    assert graph is not None
    live = _Live(walk, {"weights": (0, _weights(analysis)), "input": walk.lines[0]})
    keep = {steps[o - 1].out.storage for o in graph.outputs if o > 0}
    frees = _frees(analysis, steps)
    copies = 0
    for i, step in enumerate(steps):
        for s in step.made:
            live.add(s)
        # autocast's cache keeps each weight's low-precision copy until the pass ends
        copies += _bytes(step.weight_copies, dtype)
        live.extra["weight copies"] = (0, copies)
        live.extra["workspace"] = _ZERO
        live.check("inference", step.scratch)
        for s in step.made:  # copies and padding live while the op runs
            if s != step.out.storage:
                live.drop(s)
        for s in frees[i]:
            if s not in keep:
                live.drop(s)
    return live.curve


def _training(
    analysis: Analysis, dtype: str, optimizer: str, threads: int
) -> tuple[_Curve, _Line, list[str]]:
    """The step's walk: its moments, the saved bytes and the layers without a rule."""
    autocast = _autocast(dtype)
    walk, steps = _walk(analysis, autocast, training=True, threads=threads)
    graph = analysis.graph
    assert graph is not None
    shapes = _shapes(analysis)
    trainable = analysis.totals.trainable_params * FLOAT32_BYTES
    outputs = [steps[o - 1].out for o in graph.outputs if o > 0]
    live = _Live(
        walk,
        {
            "params": (0, analysis.totals.params * FLOAT32_BYTES),
            "buffers": (0, analysis.totals.buffers * FLOAT32_BYTES),
            "optimizer_state": (0, OPTIMIZER_STATE[optimizer] * trainable),
            "input": walk.lines[0],
            # cross-entropy's targets: one int64 class per sample and output position
            "targets": (
                sum(_bytes(prod(shapes[o][1:]), "int64") for o in graph.outputs if o > 0),
                0,
            ),
        },
    )
    holders: dict[int, int] = {}  # storage → how many steps keep it for backward
    for step in steps:
        for s in set(step.saved):
            holders[s] = holders.get(s, 0) + 1
    live.saved = set(holders)
    keep = {o.storage for o in outputs}
    frees = _frees(analysis, steps)
    # forward: what no later step reads and no step saves is freed after its last reader
    for i, step in enumerate(steps):
        for s in step.made:
            live.add(s)
        live.check("forward", step.scratch)
        for s in frees[i]:
            if s not in holders and s not in keep:
                live.drop(s)
    saved = _sum(walk.lines[s] for s in holders)
    # the loss: cross-entropy over each output's channels, in float32 (autocast's list)
    grads: dict[int, _Line] = {}  # a forward tensor's storage → its gradient's bytes
    loss = 0
    for o in outputs:
        if o.grad:
            loss += _bytes(o.elems)  # log-softmax's output, saved
            grads[o.storage] = (_bytes(o.elems, o.dtype), 0)
    for s in keep:
        if s not in holders and s != 0:
            live.drop(s)
    live.extra["loss"] = (loss, 0)
    live.extra["gradients"] = _ZERO
    # log-softmax's input gradient is float32 (autocast casts it down to the output's dtype
    # after), beside nll's gradient
    live.extra["activation gradients"] = (loss, 0)
    live.extra["workspace"] = (loss, 0)
    live.check("backward")
    live.extra["loss"] = live.extra["workspace"] = _ZERO
    # backward, layer by layer in reverse: its input's gradient and its weights' are made,
    # then its saved tensors and its output's gradient are released
    low = autocast or "float32"
    gradients = 0
    for step in reversed(steps):
        g = grads.pop(step.out.storage, None)
        if g is None:
            continue  # no gradient reaches it
        made: list[tuple[int, _Line | None]] = []  # None: its output's gradient, passed on
        for t in step.inputs:
            if t.grad:
                made.append((t.storage, None if step.alias else (_bytes(t.elems, t.dtype), 0)))
        # under autocast a layer's weights get their gradient in low precision, cast to
        # their own float32 one after its kernels are done
        copied = _bytes(step.weight_copies, low) if autocast else 0
        if not copied:
            gradients += _bytes(step.params)
        live.extra["gradients"] = (0, gradients)
        pending = _sum(grads.values())
        live.extra["activation gradients"] = (pending[0] + g[0], pending[1] + g[1])
        new = _sum(n for _, n in made if n is not None)
        live.extra["workspace"] = (
            new[0] + _bytes(sum(step.cast_grads), low),
            new[1] + _bytes(step.weight_copies, low),
        )
        live.check("backward", step.backward_scratch)
        live.extra["workspace"] = _ZERO
        for s in set(step.saved):
            holders[s] -= 1
            if holders[s] == 0:
                live.drop(s)
        for s, n in made:
            if s in grads:
                # a second gradient for the same tensor: both and their sum, for a moment
                pending = _sum(grads.values())
                second = g if n is None else n
                live.extra["activation gradients"] = (
                    pending[0] + second[0],
                    pending[1] + second[1],
                )
                live.extra["workspace"] = grads[s]
                live.check("backward")
                live.extra["workspace"] = _ZERO
            else:
                grads[s] = g if n is None else n
        live.extra["activation gradients"] = _sum(grads.values())
        if copied:
            gradients += _bytes(step.params)
            live.extra["gradients"] = (0, gradients)
            live.extra["workspace"] = (0, copied)
            live.check("backward")
            live.extra["workspace"] = _ZERO
    # the optimizer step: every gradient, and the update's temporaries
    largest = max((r.trainable_params for r in analysis.rows), default=0)
    live.extra["activation gradients"] = _ZERO
    live.extra["gradients"] = (0, trainable)
    live.extra["workspace"] = (0, _STEP_TEMPORARIES[optimizer] * _bytes(largest))
    live.check("step")
    return live.curve, saved, walk.unknown


def training_peak(
    analysis: Analysis,
    batch: int = 1,
    dtype: str = "float32",
    optimizer: str = "adam",
    threads: int = 1,
) -> int:
    """The most bytes live in one steady-state training step (see the module doc)."""
    with paused_gc():
        return _training(analysis, dtype, optimizer, threads)[0].peak(batch)


class _Curves(NamedTuple):
    """Both passes of one network at one dtype, optimizer and thread count: any batch."""

    training: _Curve
    saved: _Line
    unknown: tuple[str, ...]
    inference: _Curve
    dtype: str
    optimizer: str
    gradients: int

    def at(self, batch: int) -> Footprint:
        peak, phase, parts = self.training.at(batch)
        return Footprint(
            batch=batch,
            dtype=self.dtype,
            optimizer=self.optimizer,
            params=self.training.base_at("params", batch),
            buffers=self.training.base_at("buffers", batch),
            gradients=self.gradients,
            optimizer_state=self.training.base_at("optimizer_state", batch),
            input=self.training.base_at("input", batch),
            saved=_at(self.saved, batch),
            training_peak=peak,
            training_phase=phase,
            at_peak={k: v for k, v in parts.items() if v},
            inference_peak=self.inference.peak(batch),
            unknown=self.unknown,
        )


def _curves(analysis: Analysis, dtype: str, optimizer: str, threads: int) -> _Curves:
    with paused_gc():  # tens of thousands of small records, none in a cycle
        training, saved, unknown = _training(analysis, dtype, optimizer, threads)
        return _Curves(
            training=training,
            saved=saved,
            unknown=tuple(unknown),
            inference=_inference(analysis, dtype, threads),
            dtype=dtype,
            optimizer=optimizer,
            gradients=analysis.totals.trainable_params * FLOAT32_BYTES,
        )


def footprint(
    analysis: Analysis,
    batch: int = 1,
    dtype: str = "float32",
    optimizer: str = "adam",
    threads: int = 1,
) -> Footprint:
    """The memory of ``analysis`` at ``batch``: see :class:`Footprint` and the module doc.
    ``threads``: the CPU threads torch runs on, for the kernels that keep scratch per thread."""
    return _curves(analysis, dtype, optimizer, threads).at(batch)


def saved_bytes(analysis: Analysis, batch: int = 1, dtype: str = "float32") -> int:
    """What autograd keeps for backward after one training forward pass, each storage once."""
    with paused_gc():
        walk, steps = _walk(analysis, _autocast(dtype), training=True)
    storages = {s for step in steps for s in step.saved}
    return sum(_at(walk.lines[s], batch) for s in storages)


# -- fit ----------------------------------------------------------------------------------

MAX_BATCH = 2**31 - 1


@dataclass(frozen=True)
class Fit:
    """The largest batches that train and that infer within ``budget`` bytes (0: not even
    one sample), and the footprint at each (at batch 1 when none fits)."""

    budget: int
    train_batch: int
    infer_batch: int
    train: Footprint
    infer: Footprint

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget_bytes": self.budget,
            "dtype": self.train.dtype,
            "optimizer": self.train.optimizer,
            "train_batch": self.train_batch,
            "infer_batch": self.infer_batch,
            "train": self.train.to_dict(),
            "infer": self.infer.to_dict(),
        }


def largest_batch(peak: Any, budget: int) -> int:
    """The largest batch whose ``peak(batch)`` is within ``budget`` (0 when batch 1 is not).

    The peak grows with the batch, nearly as a straight line (every tensor but the
    weights scales with it): a few secant steps aim where it meets the budget, then a
    bracket widened from one batch apart and a bisection make the answer exact for any
    peak that grows with the batch. About eight passes where doubling from 1 took 20
    to 30 for each of training and inference; each pass walks every layer.
    """
    low = peak(1)
    if low > budget:
        return 0
    b0, p0, b1, p1 = 1, low, 2, peak(2)
    for _ in range(4):
        guess = MAX_BATCH if p1 <= p0 else b1 + (budget - p1) * (b1 - b0) // (p1 - p0)
        guess = max(1, min(guess, MAX_BATCH))
        if guess == b1:
            break
        b0, p0, b1, p1 = b1, p1, guess, peak(guess)
    step = 1
    if p1 <= budget:
        good = b1
        while True:
            if good == MAX_BATCH:
                return MAX_BATCH
            bad = min(good + step, MAX_BATCH)
            if peak(bad) > budget:
                break
            good, step = bad, 2 * step
    else:
        bad = b1
        while True:
            good = max(1, bad - step)
            if good == 1 or peak(good) <= budget:  # peak(1) is within the budget
                break
            bad, step = good, 2 * step
    while bad - good > 1:
        mid = (good + bad) // 2
        if peak(mid) <= budget:
            good = mid
        else:
            bad = mid
    return good


def fit(
    analysis: Analysis,
    budget: int,
    dtype: str = "float32",
    optimizer: str = "adam",
    threads: int = 1,
) -> Fit:
    """How large a batch trains, and infers, within ``budget`` bytes (docs/memory.md)."""
    # one walk of each pass answers every batch the search tries
    curves = _curves(analysis, dtype, optimizer, threads)
    train = largest_batch(curves.training.peak, budget)
    infer = largest_batch(curves.inference.peak, budget)
    return Fit(
        budget=budget,
        train_batch=train,
        infer_batch=infer,
        train=curves.at(max(train, 1)),
        infer=curves.at(max(infer, 1)),
    )
