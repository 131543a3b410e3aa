"""``summarize(module, input_shape)``: an existing ``nn.Module`` as the Analysis a spec gives.

One forward pass (batch 1, eval mode, no grad) is watched from two sides:

- each module's call opens and closes a record: one row per leaf-module
  *call*, in execution order, with its output shape and the parameters it
  owns (each tensor counted once, on the first row that uses it). The
  tracer watches from a ``forward`` set on the instance for the pass (torch's
  hooks cost its slow call path and a registration each), and from hooks
  where a module has hooks of its own to run in order with;
- one dispatch mode sees every aten operation: torch's FLOP formulas cost it
  (conv, matmul and attention work), and a small dataflow tracker follows the
  receptive field through the functional glue between modules (``x +
  identity``, ``torch.cat``, ``torch.flatten``, a channel shuffle's views, a
  permute to channels last, ``F.interpolate``).

The pass runs on the meta device: the input is a meta tensor, and the op
watcher hands each op meta twins of the real parameters and buffers it
reads (made once each, from their shapes and strides), so there is no
arithmetic, no activation memory, and the module's tensors are neither
copied nor touched. FakeTensorMode would do the same at several times the
cost per op. Torch runs many meta kernels in Python (an eval batch norm
takes a millisecond), so the common ones are answered from shapes
(``shortcuts``), and torch's own conv, linear, batch-norm, activation,
pooling and dropout layers are not run at all but answered from their kind's
rule, which gives the same shape and FLOPs. A forward that needs real values
(data-dependent control flow, an op without a meta kernel) is run again for
real, on the module's own device, and the notes say so in one line; the
numbers are the same either way.

What archcalc cannot cost is reported (``macs=None``, listed in the notes),
and where it cannot follow the receptive field it says why and stops, rather
than guess. The module's train/eval mode is restored and all hooks and
instance forwards removed, whatever happens.

Torch's FlopCounterMode is not used: its per-module breakdown is keyed by
module name and sums every call of a module (resnet runs each block's relu
twice), a module registered under two names is counted under one, and its
module tracker costs more than the pass itself. Each op's FLOPs are credited
to the innermost module running instead.

The parts, in the order the data flows:

- ``target``: ``pkg.mod:attr(key=value)`` → the module (``summarize_target``);
- ``torch_kinds``: known torch classes read as archcalc kinds (their rules
  give shapes, MACs and receptive-field steps);
- ``ops``: the aten ops that cost nothing, and the dispatch mode that hands
  each op to the tracer;
- ``shortcuts``: meta results of common ops made from shapes alone;
- ``tracer``: the records one forward pass fills in;
- ``rows``: the records frozen into the Analysis, with the graph the tracer
  emitted (``Analysis.graph``: the same nodes and scopes a spec lowers to, so
  depth and lint read a module as they read a spec).

>>> import archcalc, torchvision
>>> a = archcalc.summarize(torchvision.models.resnet18(), (3, 224, 224))
>>> a.totals.params, a.totals.macs
(11689512, 1814073344)
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable, Sequence
from types import CodeType, FunctionType
from typing import Any

import torch
from torch import nn
from torch.nn.modules.module import _global_forward_hooks, _global_forward_pre_hooks

from archcalc.analysis import receptive
from archcalc.analysis.result import Analysis
from archcalc.bridge.summarize.ops import OpWatcher
from archcalc.bridge.summarize.rows import to_analysis
from archcalc.bridge.summarize.target import load_target
from archcalc.bridge.summarize.tracer import NO_FIELD, Field, Held, Tracer, ruled, survey
from archcalc.errors import ArchcalcError
from archcalc.gcpause import paused_gc
from archcalc.kinds.base import Shape, fmt_shape

__all__ = ["summarize", "summarize_target"]


def summarize(
    module: nn.Module,
    input_shape: Sequence[int],
    *,
    name: str | None = None,
    dtype: torch.dtype | None = None,
) -> Analysis:
    """Analyse an existing module at ``input_shape`` (no batch dimension) into an Analysis.

    Rows are leaf-module calls in execution order (a layer called twice gives
    two rows, its weights counted on the first); parameters held directly by a
    container get a ``"<path> (own parameters)"`` row, so the rows always sum
    to ``sum(p.numel() for p in module.parameters())``. The forward runs once
    on a meta input of batch 1 (a zero input on the module's device where it
    needs values), in eval mode and without grad; the module's modes are
    restored afterwards. ``dtype``
    overrides the input's dtype (e.g. ``torch.long`` for an embedding). A
    model built on the meta device gives the same numbers without memory.
    """
    shape = _check_shape(input_shape)
    # Thousands of small records, freed by reference counting; a collection of the older
    # generations in the middle (after a peer's forward, say) costs more than the tracing.
    with paused_gc():
        modules = survey(module)
        device, param_dtype = _placement(modules)
        x_dtype = dtype or param_dtype
        try:
            tracer, output = _trace(module, modules, shape, device, x_dtype, meta=True)
        except _NeedsRealValues as err:
            tracer, output = _trace(module, modules, shape, device, x_dtype, meta=False)
            tracer.notes.insert(0, f"summarised with a real forward: {err.why}")
        return to_analysis(tracer, name or type(module).__name__, shape, output)


def summarize_target(target: str, input_shape: tuple[int, ...]) -> Analysis:
    """``archcalc summary --module pkg.mod:attr``: import ``attr``, make the module, summarise it.

    ``attr`` may be a module instance, a class, or a factory; it is called
    without arguments, or with the keyword literals written after it
    (``torchvision.models:googlenet(aux_logits=False)``). A factory that takes
    ``weights`` gets ``weights=None``: archcalc never downloads weights.
    """
    return summarize(load_target(target), input_shape, name=target)


def _check_shape(input_shape: Sequence[int]) -> Shape:
    shape = tuple(input_shape)
    if not shape or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape):
        raise ArchcalcError(
            f"input shape expects positive sizes without the batch, e.g. (3, 224, 224), "
            f"but gets {input_shape!r}"
        )
    return shape


def _placement(modules: dict[nn.Module, tuple[str, Held]]) -> tuple[torch.device, torch.dtype]:
    """Where the model's tensors are, and their dtype: its first floating parameter's.

    Parameters first, then buffers, as ``[*parameters(), *buffers()]`` lists
    them; a model of integer tensors alone is where its first one is, in the
    default dtype.
    """
    first = None
    for which in ("params", "buffers"):
        for _, held in modules.values():
            for _, t in getattr(held, which):
                if t.is_floating_point():
                    return t.device, t.dtype
                if first is None:
                    first = t
    return (first.device if first is not None else torch.device("cpu")), torch.get_default_dtype()


def _wrappable(module: nn.Module) -> bool:
    """Whether the tracer may watch ``module`` from its forward rather than from hooks.

    Hooks cost torch's slow call path and a registration each; a forward set
    on the instance (removed afterwards) sees the same call where the module
    has no hooks of its own to run around it.
    """
    return (
        "forward" not in module.__dict__
        and isinstance(type(module).forward, FunctionType)
        and not module._forward_pre_hooks
        and not module._forward_hooks
        and not isinstance(module, _SCRIPTED)
    )


_SCRIPTED = torch.jit.ScriptModule


# Where torch's module call runs ``forward``: a forward called from anywhere else
# (``child.forward(x)`` in a parent's code) runs no hooks, and is not watched either.
_CALL = nn.Module._call_impl.__code__
_INNER = next(
    (c for c in _CALL.co_consts if isinstance(c, CodeType) and c.co_name == "inner"), _CALL
)


def _watched_forward(
    module: nn.Module, tracer: Tracer, meta: bool, leaf: bool
) -> Callable[..., Any]:
    """``module``'s forward between the tracer's two hooks (and, on meta, its rule's answer)."""
    own = type(module).forward
    pre, post = tracer.pre_hook, tracer.post_hook
    if meta and leaf and ruled(module, tracer.ruled_classes):
        call = tracer.ruled_call

        def ruled_forward(*args: Any, **kwargs: Any) -> Any:
            caller = sys._getframe(1).f_code  # compared by identity: hashing code is slow
            if caller is not _CALL and caller is not _INNER:
                return own(module, *args, **kwargs)
            return call(module, own, args, kwargs)

        return ruled_forward

    def forward(*args: Any, **kwargs: Any) -> Any:
        caller = sys._getframe(1).f_code
        if caller is not _CALL and caller is not _INNER:
            return own(module, *args, **kwargs)
        pre(module, args, kwargs)
        out = own(module, *args, **kwargs)
        post(module, args, kwargs, out)
        return out

    return forward


def _ruled_forward(module: nn.Module, tracer: Tracer) -> Callable[..., Any]:
    """``module``'s forward on the meta device: its rule's answer, or its own forward."""
    own = type(module).forward

    def forward(*args: Any, **kwargs: Any) -> Any:
        out = tracer.skip(module, args, kwargs)
        return own(module, *args, **kwargs) if out is NotImplemented else out

    return forward


class _NeedsRealValues(Exception):
    """The forward fails on meta tensors (it reads values, or an op has no meta kernel)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _trace(
    module: nn.Module,
    modules: dict[nn.Module, tuple[str, Held]],
    shape: Shape,
    device: torch.device,
    dtype: torch.dtype,
    *,
    meta: bool,
) -> tuple[Tracer, Any]:
    """One watched forward on a zero input of batch 1: the tracer's records and the output."""
    tracer = Tracer(module, shape[1:], modules)
    x = torch.zeros((1, *shape), device="meta" if meta else device, dtype=dtype)
    # Every tensor computed from the input carries a field; only an image's is a real one.
    tracer.set_field(x, Field(receptive.initial(len(shape) - 1)) if len(shape) > 1 else NO_FIELD)
    tracer.set_input(x)
    return tracer, _run(module, x, tracer, meta)


def _run(module: nn.Module, x: torch.Tensor, tracer: Tracer, meta: bool) -> Any:
    training = any(m.training for m in tracer.modules)
    # What each module holds besides its parameters, buffers and children, as it was: its
    # mode, and what a forward caches on it (torchvision's AnchorGenerator keeps its cell
    # anchors: a meta tensor there breaks the real forward after it, and the user's own).
    # The entries are put back after the pass.
    attributes = [(m.__dict__, dict(m.__dict__)) for m in tracer.modules]
    handles = []
    wrapped = []
    hooked = bool(_global_forward_hooks or _global_forward_pre_hooks)
    try:
        for m, (_, held) in tracer.modules.items():
            if hooked or not _wrappable(m):
                handles.append(m.register_forward_pre_hook(tracer.pre_hook, with_kwargs=True))
                handles.append(m.register_forward_hook(tracer.post_hook, with_kwargs=True))
                if meta and held.leaf and ruled(m, tracer.ruled_classes):
                    m.__dict__["forward"] = _ruled_forward(m, tracer)  # a hook cannot skip it
                    wrapped.append(m)
            else:
                m.__dict__["forward"] = _watched_forward(m, tracer, meta, held.leaf)
                wrapped.append(m)
        if training:
            module.eval()  # batch norm must not update its running statistics
        with torch.no_grad(), OpWatcher(tracer, meta=meta):
            return module(x)
    except ArchcalcError:
        raise
    except (Exception, SystemExit) as err:  # a forward that calls sys.exit() is a failure too
        where = tracer.stack[-1].node.path if tracer.stack else tracer.path(module)
        failing = tracer.stack[-1].node.module if tracer.stack else module
        cls = type(failing).__name__ if failing is not None else "?"
        first = (str(err).strip().splitlines() or [""])[0]
        if meta:
            # A real forward says what is wrong in torch's own words, or succeeds
            # where only meta tensors fail: either way, run it.
            raise _NeedsRealValues(
                f"on meta tensors {where} ({cls}) fails: {type(err).__name__}: {first[:120]}"
            ) from None
        raise ArchcalcError(
            f"forward on an input of {fmt_shape(tuple(x.shape[1:]))} fails in {where} ({cls}): "
            f"{type(err).__name__}: {first}",
            hint="check the input shape (C×H×W, without the batch)",
        ) from None
    finally:
        for m in wrapped:
            del m.__dict__["forward"]
        for h in handles:
            h.remove()
        for now, before in attributes:
            if len(now) != len(before) or not all(map(operator.is_, now.values(), before.values())):
                now.clear()
                now.update(before)
