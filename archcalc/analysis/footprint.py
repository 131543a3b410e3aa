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

from collections.abc import Callable
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
    backward: tuple[_Storage, ...]  # scratch its backward allocates beside its gradients
    # bytes its kernel allocates and frees while it runs (forward), for a batch size
    scratch: Callable[[int], int] | None


class _Walk:
    """Storages and steps of one pass; storage 0 is the batch."""

    def __init__(self) -> None:
        self.storages: list[_Storage] = []
        self.unknown: list[str] = []  # paths of layers without a memory rule
        # _frees of this walk's steps, made once: fit replays a walk at every batch it tries
        self.frees: list[list[int]] | None = None

    def new(self, per_sample: int, dtype: str, fixed: int = 0) -> int:
        self.storages.append(_Storage(per_sample, fixed, dtype))
        return len(self.storages) - 1


_Walked = tuple[_Walk, list[_Step]]


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
        elems = prod(shapes[node.id])
        if node.is_merge:
            step = _merge(walk, node.id, node.op, ins, elems, training)
        else:
            row = rows[node.id]
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
        scratch=None,
        backward=(),
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
        weight_copies=rule.weights,
        backward=tuple(_Storage(o.per_sample, o.fixed, o.dtype) for o in rule.backward),
        scratch=partial(kind.scratch, args, row.input_shape, row.output_shape, ctx)
        if kind is not None and kind.scratch is not None
        else None,
    )


# -- the passes ---------------------------------------------------------------------------


class _Live:
    """Bytes live, storage by storage plus named extras, and the most seen with its parts.

    Running totals, not sums over what is live: a 10,000-layer training walk keeps
    10,000 saved tensors live, and summing them at every step would be quadratic.
    """

    def __init__(self, walk: _Walk, batch: int, base: dict[str, int]) -> None:
        self.walk = walk
        self.batch = batch
        self.base = dict(base)
        self.base_total = sum(base.values())
        self.live: dict[int, int] = {}
        self.live_total = 0
        self.saved_total = 0  # of the live storages that are in ``saved``
        self.extra: dict[str, int] = {}
        self.saved: set[int] = set()
        self.peak = -1
        self.phase = ""
        self.parts: dict[str, int] = {}

    def add(self, storage: int) -> None:
        if storage not in self.live:
            n = self.walk.storages[storage].bytes(self.batch)
            self.live[storage] = n
            self.live_total += n
            if storage in self.saved:
                self.saved_total += n

    def drop(self, storage: int) -> None:
        n = self.live.pop(storage, None)
        if n is not None:
            self.live_total -= n
            if storage in self.saved:
                self.saved_total -= n

    def check(self, phase: str) -> None:
        total = self.base_total + self.live_total + sum(self.extra.values())
        if total > self.peak:
            self.peak, self.phase = total, phase
            self.parts = {
                **self.base,
                "saved": self.saved_total,
                "activations": self.live_total - self.saved_total,
                **self.extra,
            }


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
        return _inference(analysis, batch, dtype, threads).peak


def _inference(
    analysis: Analysis, batch: int, dtype: str, threads: int, walked: _Walked | None = None
) -> _Live:
    walk, steps = walked or _walk(analysis, _autocast(dtype), training=False, threads=threads)
    graph = analysis.graph
    assert graph is not None
    live = _Live(
        walk, batch, {"weights": _weights(analysis), "input": walk.storages[0].bytes(batch)}
    )
    keep = {steps[o - 1].out.storage for o in graph.outputs if o > 0}
    if walk.frees is None:
        walk.frees = _frees(analysis, steps)
    frees = walk.frees
    copies = 0
    for i, step in enumerate(steps):
        for s in step.made:
            live.add(s)
        # autocast's cache keeps each weight's low-precision copy until the pass ends
        copies += _bytes(step.weight_copies, dtype)
        live.extra["weight copies"] = copies
        live.extra["workspace"] = step.scratch(batch) if step.scratch else 0
        live.check("inference")
        live.extra["workspace"] = 0
        for s in step.made:  # copies and padding live while the op runs
            if s != step.out.storage:
                live.drop(s)
        for s in frees[i]:
            if s not in keep:
                live.drop(s)
    return live


def _training(
    analysis: Analysis,
    batch: int,
    dtype: str,
    optimizer: str,
    threads: int,
    walked: _Walked | None = None,
) -> tuple[_Live, int, list[str]]:
    """The step's walk: its live bytes at the peak, the saved total and the unknown layers."""
    autocast = _autocast(dtype)
    walk, steps = walked or _walk(analysis, autocast, training=True, threads=threads)
    graph = analysis.graph
    assert graph is not None
    shapes = _shapes(analysis)
    trainable = analysis.totals.trainable_params * FLOAT32_BYTES
    outputs = [steps[o - 1].out for o in graph.outputs if o > 0]
    live = _Live(
        walk,
        batch,
        {
            "params": analysis.totals.params * FLOAT32_BYTES,
            "buffers": analysis.totals.buffers * FLOAT32_BYTES,
            "optimizer_state": OPTIMIZER_STATE[optimizer] * trainable,
            "input": walk.storages[0].bytes(batch),
            # cross-entropy's targets: one int64 class per sample and output position
            "targets": sum(
                _bytes(batch * prod(shapes[o][1:]), "int64") for o in graph.outputs if o > 0
            ),
        },
    )
    holders: dict[int, int] = {}  # storage → how many steps keep it for backward
    for step in steps:
        for s in set(step.saved):
            holders[s] = holders.get(s, 0) + 1
    live.saved = set(holders)
    keep = {o.storage for o in outputs}
    if walk.frees is None:
        walk.frees = _frees(analysis, steps)
    frees = walk.frees
    # forward: what no later step reads and no step saves is freed after its last reader
    for i, step in enumerate(steps):
        for s in step.made:
            live.add(s)
        live.extra["workspace"] = step.scratch(batch) if step.scratch else 0
        live.check("forward")
        live.extra["workspace"] = 0
        for s in frees[i]:
            if s not in holders and s not in keep:
                live.drop(s)
    saved_total = sum(walk.storages[s].bytes(batch) for s in holders)
    # the loss: cross-entropy over each output's channels, in float32 (autocast's list)
    grads: dict[int, int] = {}  # a forward tensor's storage → its gradient's bytes
    loss = 0
    for o in outputs:
        if o.grad:
            loss += _bytes(o.elems * batch)  # log-softmax's output, saved
            grads[o.storage] = _bytes(o.elems * batch, o.dtype)
    for s in keep:
        if s not in holders and s != 0:
            live.drop(s)
    live.extra["loss"] = loss
    live.extra["gradients"] = 0
    live.extra["activation gradients"] = sum(grads.values())
    live.extra["workspace"] = loss  # nll's and log-softmax's gradients
    live.check("backward")
    live.extra["loss"] = live.extra["workspace"] = 0
    # backward, layer by layer in reverse: its input's gradient and its weights' are made,
    # then its saved tensors and its output's gradient are released
    low = autocast or "float32"
    gradients = 0
    for step in reversed(steps):
        g = grads.pop(step.out.storage, None)
        if g is None:
            continue  # no gradient reaches it
        made: list[tuple[int, int]] = []
        for t in step.inputs:
            if t.grad:
                made.append((t.storage, 0 if step.alias else _bytes(t.elems * batch, t.dtype)))
        cast = sum(_bytes(e * batch, low) for e in step.cast_grads)
        gradients += _bytes(step.params)
        live.extra["gradients"] = gradients
        live.extra["activation gradients"] = sum(grads.values()) + g
        scratch = sum(b.bytes(batch) for b in step.backward)
        live.extra["workspace"] = (
            sum(n for _, n in made) + cast + _bytes(step.weight_copies, low) + scratch
        )
        live.check("backward")
        live.extra["workspace"] = 0
        for s in set(step.saved):
            holders[s] -= 1
            if holders[s] == 0:
                live.drop(s)
        for s, n in made:
            if s in grads:
                # a second gradient for the same tensor: both and their sum, for a moment
                live.extra["activation gradients"] = sum(grads.values()) + (n or g)
                live.extra["workspace"] = grads[s]
                live.check("backward")
                live.extra["workspace"] = 0
            else:
                grads[s] = n or g
        live.extra["activation gradients"] = sum(grads.values())
    # the optimizer step: every gradient, and the update's temporaries
    largest = max((r.trainable_params for r in analysis.rows), default=0)
    live.extra["activation gradients"] = 0
    live.extra["gradients"] = trainable
    live.extra["workspace"] = _STEP_TEMPORARIES[optimizer] * _bytes(largest)
    live.check("step")
    return live, saved_total, walk.unknown


def training_peak(
    analysis: Analysis,
    batch: int = 1,
    dtype: str = "float32",
    optimizer: str = "adam",
    threads: int = 1,
) -> int:
    """The most bytes live in one steady-state training step (see the module doc)."""
    with paused_gc():
        return _training(analysis, batch, dtype, optimizer, threads)[0].peak


def footprint(
    analysis: Analysis,
    batch: int = 1,
    dtype: str = "float32",
    optimizer: str = "adam",
    threads: int = 1,
) -> Footprint:
    """The memory of ``analysis`` at ``batch``: see :class:`Footprint` and the module doc.
    ``threads``: the CPU threads torch runs on, for the kernels that keep scratch per thread."""
    return _footprint(analysis, batch, dtype, optimizer, threads)


def _footprint(
    analysis: Analysis,
    batch: int,
    dtype: str,
    optimizer: str,
    threads: int,
    train_walk: _Walked | None = None,
    infer_walk: _Walked | None = None,
) -> Footprint:
    with paused_gc():
        live, saved, unknown = _training(analysis, batch, dtype, optimizer, threads, train_walk)
        infer_peak = _inference(analysis, batch, dtype, threads, infer_walk).peak
    base = live.base
    return Footprint(
        batch=batch,
        dtype=dtype,
        optimizer=optimizer,
        params=base["params"],
        buffers=base["buffers"],
        gradients=analysis.totals.trainable_params * FLOAT32_BYTES,
        optimizer_state=base["optimizer_state"],
        input=base["input"],
        saved=saved,
        training_peak=live.peak,
        training_phase=live.phase,
        at_peak={k: v for k, v in live.parts.items() if v},
        inference_peak=infer_peak,
        unknown=tuple(unknown),
    )


def saved_bytes(analysis: Analysis, batch: int = 1, dtype: str = "float32") -> int:
    """What autograd keeps for backward after one training forward pass, each storage once."""
    with paused_gc():
        walk, steps = _walk(analysis, _autocast(dtype), training=True)
    storages = {s for step in steps for s in step.saved}
    return sum(walk.storages[s].bytes(batch) for s in storages)


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
    autocast = _autocast(dtype)
    with paused_gc():
        # the walks do not depend on the batch: made once, replayed at every batch tried
        training = _walk(analysis, autocast, training=True, threads=threads)
        train = largest_batch(
            lambda b: _training(analysis, b, dtype, optimizer, threads, training)[0].peak, budget
        )
        inference = _walk(analysis, autocast, training=False, threads=threads)
        infer = largest_batch(
            lambda b: _inference(analysis, b, dtype, threads, inference).peak, budget
        )
        walks = (training, inference)
        return Fit(
            budget=budget,
            train_batch=train,
            infer_batch=infer,
            train=_footprint(analysis, max(train, 1), dtype, optimizer, threads, *walks),
            infer=_footprint(analysis, max(infer, 1), dtype, optimizer, threads, *walks),
        )
