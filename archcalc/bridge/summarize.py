"""``summarize(module, input_shape)``: an existing ``nn.Module`` as the Analysis a spec gives.

One forward pass (batch 1, eval mode, no grad, on the module's own device and
dtype) is watched from two sides:

- module hooks give one row per leaf-module *call*, in execution order, with
  its output shape and the parameters it owns (each tensor counted once, on
  the first row that uses it);
- a dispatch mode sees every aten operation: torch's FlopCounterMode costs it
  (conv and matmul work), and a small dataflow tracker follows the receptive
  field through the functional glue between modules (``x + identity``,
  ``torch.cat``, ``torch.flatten``).

What archcalc cannot cost is reported (``macs=None``, listed in the notes),
and where it cannot follow the receptive field it says why and stops, rather
than guess. The module's train/eval mode is restored and all hooks removed,
whatever happens.

>>> import archcalc, torchvision
>>> a = archcalc.summarize(torchvision.models.resnet18(), (3, 224, 224))
>>> a.totals.params, a.totals.macs
(11689512, 1814073344)
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import sys
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from math import prod
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from archcalc import kinds
from archcalc.analysis import receptive
from archcalc.analysis.receptive import ReceptiveField
from archcalc.analysis.result import FLOAT32_BYTES, Analysis, Row, totals_of
from archcalc.bridge.modules import GlobalAvgPool
from archcalc.errors import ArchcalcError, suggest
from archcalc.kinds.activations import LeakyReluArgs
from archcalc.kinds.adaptive_pool import AdaptiveArgs, GlobalPoolArgs
from archcalc.kinds.base import GLOBAL, Effect, Pair, Shape, ShapeError, SpatialStep, fmt_shape
from archcalc.kinds.batchnorm import BatchNormArgs
from archcalc.kinds.conv2d import Conv2dArgs
from archcalc.kinds.dropout import DropoutArgs
from archcalc.kinds.linear import LinearArgs
from archcalc.kinds.local_response_norm import LRNArgs
from archcalc.kinds.pooling import PoolArgs

# ---------------------------------------------------------------------------
# Known torch classes → archcalc kinds. Exact classes only: a subclass may
# override forward (timm's Conv2dSame pads first), so it is treated as opaque.


@dataclass(frozen=True)
class _Known:
    """A module recognised as an archcalc kind, with that kind's arguments."""

    kind: str
    args: Any
    op_shape: Shape  # what the kind's ``operation`` text reads (in channels / features)

    def operation(self) -> str:
        return str(kinds.REGISTRY[self.kind].operation(self.args, self.op_shape))

    def effect(self, in_shape: Shape) -> Effect:
        return kinds.REGISTRY[self.kind].apply(self.args, in_shape)


def _pair(v: Any) -> Pair:
    """An int, a 1-list (aten writes ``[3]`` for 3) or a pair, as (h, w)."""
    if isinstance(v, (tuple, list)):
        return (int(v[0]), int(v[-1]))
    return (int(v), int(v))


def _conv(m: Any, s: Shape) -> _Known:
    pad = m.padding if isinstance(m.padding, str) else _pair(m.padding)
    args = Conv2dArgs(m.out_channels, _pair(m.kernel_size), _pair(m.stride), pad,
                      _pair(m.dilation), m.groups, m.bias is not None)
    return _Known("conv2d", args, (m.in_channels,))


def _pool(m: Any, kind: str, dilation: Any, count_include_pad: bool) -> _Known:
    kernel = _pair(m.kernel_size)
    stride = kernel if m.stride is None else _pair(m.stride)
    args = PoolArgs(kernel, stride, _pair(m.padding), _pair(dilation), bool(m.ceil_mode),
                    count_include_pad)
    return _Known(kind, args, ())


def _adaptive(m: Any, s: Shape) -> _Known:
    out = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size,) * 2
    # torch: None keeps that axis's input size
    size = tuple(s[-2 + a] if o is None and len(s) >= 2 else (o or 1) for a, o in enumerate(out))
    return _Known("adaptive_avg_pool2d", AdaptiveArgs(_pair(size)), ())


def _batchnorm(m: Any, kind: str) -> _Known:
    momentum = 0.1 if m.momentum is None else float(m.momentum)
    args = BatchNormArgs(float(m.eps), momentum, bool(m.affine), bool(m.track_running_stats))
    return _Known(kind, args, (m.num_features,))


_Adapter = Callable[[Any, Shape], _Known]

_ADAPTERS: dict[type[nn.Module], _Adapter] = {
    nn.Conv2d: _conv,
    nn.Linear: lambda m, s: _Known("linear", LinearArgs(m.out_features, m.bias is not None),
                                   (m.in_features,)),
    nn.MaxPool2d: lambda m, s: _pool(m, "maxpool2d", m.dilation, True),
    nn.AvgPool2d: lambda m, s: _pool(m, "avgpool2d", 1, bool(m.count_include_pad)),
    nn.AdaptiveAvgPool2d: _adaptive,
    GlobalAvgPool: lambda m, s: _Known("global_avg_pool", GlobalPoolArgs(m.flatten), ()),
    nn.BatchNorm2d: lambda m, s: _batchnorm(m, "batchnorm2d"),
    nn.BatchNorm1d: lambda m, s: _batchnorm(m, "batchnorm1d"),
    nn.ReLU: lambda m, s: _Known("relu", None, ()),
    nn.LeakyReLU: lambda m, s: _Known("leaky_relu", LeakyReluArgs(m.negative_slope), ()),
    nn.Tanh: lambda m, s: _Known("tanh", None, ()),
    nn.Sigmoid: lambda m, s: _Known("sigmoid", None, ()),
    nn.GELU: lambda m, s: _Known("gelu", None, ()),
    nn.Softmax: lambda m, s: _Known("softmax", None, ()),
    nn.Identity: lambda m, s: _Known("identity", None, ()),
    nn.Flatten: lambda m, s: _Known("flatten", None, ()),
    nn.Dropout: lambda m, s: _Known("dropout", DropoutArgs(m.p), ()),
    nn.LocalResponseNorm: lambda m, s: _Known(
        "local_response_norm", LRNArgs(m.size, m.alpha, m.beta, m.k), ()),
}


def _known(module: nn.Module, in_shape: Shape) -> _Known | None:
    adapter = _ADAPTERS.get(type(module))
    return adapter(module, in_shape) if adapter is not None else None


# ---------------------------------------------------------------------------
# Which aten operations cost no MACs. DESIGN.md counts the multiply-adds of conv
# and linear work only, so elementwise ops, views, reductions, pooling,
# normalisation, padding, resampling and lookups are 0 by definition. An op in
# none of these groups may well be a product torch has no formula for (cdist,
# fft, linalg), so it is reported as uncounted, never as 0 (fvcore's rule).

_FREE_OPS = frozenset({
    # moving and copying data
    "cat", "stack", "view", "_unsafe_view", "reshape", "_to_copy", "copy_", "fill_", "zero_",
    "roll", "flip", "repeat", "repeat_interleave", "tile", "pixel_shuffle", "pixel_unshuffle",
    "channel_shuffle", "native_channel_shuffle", "im2col", "col2im", "tril", "triu",
    "index", "_unsafe_index", "index_select", "gather", "scatter", "scatter_add", "index_put",
    "index_put_", "masked_select", "nonzero", "embedding", "topk", "sort", "cumsum",
    "constant_pad_nd", "reflection_pad1d", "reflection_pad2d", "replication_pad1d",
    "replication_pad2d", "upsample_nearest1d", "upsample_nearest2d", "_upsample_nearest_exact2d",
    "upsample_bilinear2d",
    # pooling and normalisation
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool2d_with_indices",
    "max_pool3d_with_indices", "mkldnn_max_pool2d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "_adaptive_avg_pool2d", "_adaptive_avg_pool3d",
    "adaptive_max_pool2d", "native_batch_norm", "_native_batch_norm_legit",
    "_native_batch_norm_legit_no_training", "native_layer_norm", "native_group_norm",
    "_softmax", "_log_softmax", "_safe_softmax", "native_dropout",
    # making new tensors
    "zeros", "ones", "empty", "full", "arange", "linspace", "zeros_like", "ones_like",
    "empty_like", "full_like", "new_zeros", "new_ones", "new_empty", "new_full", "scalar_tensor",
    "rand", "randn", "randint", "bernoulli", "bernoulli_", "normal_", "uniform_",
    "lift_fresh", "lift_fresh_copy", "_local_scalar_dense",
})


def _is_free(func: Any) -> bool:
    if torch.Tag.pointwise in func.tags or torch.Tag.reduction in func.tags:
        return True
    if any(r.alias_info is not None and not r.alias_info.is_write for r in func._schema.returns):
        return True  # a view: no arithmetic at all
    return func._overloadpacket.__name__ in _FREE_OPS


# ---------------------------------------------------------------------------
# The records one forward pass fills in; frozen into Rows at the end.


@dataclass(frozen=True)
class _Field:
    """A tensor's receptive field; ``rf`` None with ``why`` None: not an image (no field)."""

    rf: ReceptiveField | None
    why: str | None = None


_NO_FIELD = _Field(None)


@dataclass
class _Record:
    """One row in the making: a leaf call, a container's own part, or an uncalled module."""

    path: str
    kind: str
    operation: str
    depth: int
    module: nn.Module | None
    known: _Known | None = None
    input_shape: Shape = ()
    output_shape: Shape = ()
    out_field: _Field = _NO_FIELD
    flops: int = 0
    uncosted: set[str] = field(default_factory=set)
    params: int = 0
    trainable: int = 0
    buffers: int = 0
    activations: bool = True
    call: int = 1
    notes: list[str] = field(default_factory=list)

    @property
    def macs(self) -> int | None:
        if self.uncosted and self.known is None:
            return None
        return self.flops // 2


@dataclass
class _Group:
    """One container call; its own part (own parameters, functional ops) is ``own``."""

    path: str
    module: nn.Module
    depth: int
    call: int
    children: list[_Record | _Group] = field(default_factory=list)
    input_shape: Shape = ()
    output_shape: Shape = ()
    out_field: _Field = _NO_FIELD
    own: _Record | None = None


@dataclass
class _Frame:
    node: _Record | _Group
    in_field: _Field | None = None


class _Tracer:
    """Everything one summarize() call learns; plain state, thrown away afterwards."""

    def __init__(self, model: nn.Module, input_hw: Pair) -> None:
        self.model = model
        self.names: dict[nn.Module, str] = {}
        for path, module in model.named_modules():
            self.names.setdefault(module, path)
        self.input_hw = input_hw
        self.top: list[_Record | _Group] = []
        self.stack: list[_Frame] = []
        self.calls: dict[nn.Module, int] = {}
        self.owner: dict[int, _Record] = {}  # id(parameter or buffer) → the row counting it
        self.fields: dict[int, tuple[weakref.ref[torch.Tensor], _Field]] = {}
        self.reported: set[str] = set()
        self.used_by: dict[int, str] = {}  # id(parameter) → the module whose own code used it
        self.notes: list[str] = []
        self.counter = FlopCounterMode(display=False)

    # -- naming ------------------------------------------------------------
    def path(self, module: nn.Module) -> str:
        name = self.names.get(module, "")
        return name or type(module).__name__

    def _parent(self) -> _Group | None:
        return next((f.node for f in reversed(self.stack) if isinstance(f.node, _Group)), None)

    # -- receptive-field dataflow ----------------------------------------------
    def field_of(self, t: Any) -> _Field | None:
        if not isinstance(t, torch.Tensor):
            return None
        entry = self.fields.get(id(t))
        return entry[1] if entry is not None and entry[0]() is t else None

    def set_field(self, t: torch.Tensor, f: _Field) -> None:
        self.fields[id(t)] = (weakref.ref(t), f)

    # -- parameters --------------------------------------------------------
    def count_own(self, rec: _Record, module: nn.Module) -> None:
        """Credit ``rec`` with the module's own tensors that no earlier row has counted."""
        tied: list[str] = []
        for name, p in module.named_parameters(recurse=False):
            owner = self.owner.setdefault(id(p), rec)
            if owner is rec:
                rec.params += p.numel()
                rec.trainable += p.numel() if p.requires_grad else 0
            elif owner.module is not module:  # tied weights; a repeated call says so itself
                tied.append(f"{name} with {owner.path}")
        for _, b in module.named_buffers(recurse=False):
            if self.owner.setdefault(id(b), rec) is rec:
                rec.buffers += b.numel()
        if tied:
            rec.notes.append("shares " + ", ".join(tied) + " (counted there)")

    def has_uncounted(self, module: nn.Module) -> bool:
        own = [*module.parameters(recurse=False), *module.buffers(recurse=False)]
        return any(id(t) not in self.owner for t in own)

    # -- module hooks ------------------------------------------------------
    def pre_hook(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        call = self.calls[module] = self.calls.get(module, 0) + 1
        parent = self._parent()
        siblings = parent.children if parent is not None else self.top
        depth = parent.depth + 1 if parent is not None else 1
        x = _first_tensor((args, kwargs))
        in_shape = tuple(x.shape[1:]) if x is not None else ()
        in_field = self.field_of(x)
        path = self.path(module)
        if next(module.children(), None) is not None:
            if module is self.model:  # the root is the table itself, not a row around it
                group = _Group(path, module, 0, call, children=self.top)
            else:
                group = _Group(path, module, depth, call)
                siblings.append(group)
            group.input_shape = in_shape
            self.stack.append(_Frame(group, in_field))
            if self.has_uncounted(module):
                self.own_record(group)
            return
        known = _known(module, in_shape)
        rec = _Record(
            path=path,
            kind=known.kind if known else type(module).__name__.lower(),
            operation=known.operation() if known else _class_text(module),
            depth=depth, module=module, known=known, input_shape=in_shape, call=call,
        )
        self.count_own(rec, module)
        siblings.append(rec)
        self.stack.append(_Frame(rec, in_field))

    def post_hook(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
    ) -> None:
        frame = self.stack.pop()
        y = _first_tensor(output)
        node = frame.node
        node.output_shape = tuple(y.shape[1:]) if y is not None else ()
        if isinstance(node, _Record):
            node.out_field = self.leaf_field(node, frame.in_field, y)
        else:
            node.out_field = (self.field_of(y) if y is not None else None) or _NO_FIELD
            if node.own is not None:
                node.own.input_shape = node.input_shape
        if y is not None:
            self.set_field(y, node.out_field)

    def own_record(self, group: _Group) -> _Record:
        """The row for what a container does itself: its own parameters, its functional ops."""
        if group.own is None:
            depth = group.depth + 1
            group.own = _Record(path=group.path, kind="own", operation="", depth=depth,
                                module=group.module, call=group.call, activations=False)
            self.count_own(group.own, group.module)
            group.children.append(group.own)
        return group.own

    def leaf_field(self, rec: _Record, in_field: _Field | None, y: torch.Tensor | None) -> _Field:
        if rec.known is None:
            # An opaque module: its inner ops went through the dataflow tracker.
            inner = self.field_of(y)
            if inner is not None:
                return inner
            return _Field(None, f"opaque module {type(rec.module).__name__}")
        if in_field is None:
            return _Field(None, f"the input of {rec.path} is not traced from the network input")
        if in_field.rf is None:
            return in_field
        try:
            step = rec.known.effect(rec.input_shape).rf
        except ShapeError:
            return _Field(None, f"{type(rec.module).__name__} on a "
                                f"{fmt_shape(rec.input_shape)} input")
        return _Field(receptive.step(in_field.rf, step, self.input_hw))

    # -- aten operations -----------------------------------------------------
    def on_op(self, func: Any, args: Any, kwargs: Any, out: Any, flops: int) -> None:
        if not self.stack:
            return
        frame = self.stack[-1]
        node = frame.node
        notable = flops > 0 or not _is_free(func)
        if isinstance(node, _Record):
            if node.known is not None:
                node.flops += flops
                return  # a known layer: its rows' rules, not its inner ops, say what it does
            target = node
        elif notable:
            target = self.own_record(node)
        else:
            target = None
        if target is not None:
            target.flops += flops
            if not _is_free(func) and flops == 0:
                target.uncosted.add(func._overloadpacket.__name__)
            if target is not node:  # a container's own row shows what its own ops made
                y = _first_tensor(out)
                target.output_shape = tuple(y.shape[1:]) if y is not None else ()
        for t in tree_flatten((args, kwargs))[0]:
            if isinstance(t, nn.Parameter):
                self.used_by.setdefault(id(t), node.path)
        where = (f"opaque module {type(node.module).__name__}" if isinstance(node, _Record)
                 else node.path)
        self.follow(func, args, kwargs, out, where)

    def follow(self, func: Any, args: Any, kwargs: Any, out: Any, where: str) -> None:
        """Carry receptive fields through one op outside known layers, or mark them unknown."""
        ins = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        data = [(t, f) for t in ins if (f := self.field_of(t)) is not None]
        outs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        if not data or not outs:
            return  # constants and parameters carry no field
        unknown = next((f for _, f in data if f.rf is None), None)
        result = unknown or self._through(func, args, kwargs, data, outs, where)
        for t in outs:
            self.set_field(t, result)

    def _through(
        self, func: Any, args: Any, kwargs: Any, data: list[tuple[torch.Tensor, _Field]],
        outs: list[torch.Tensor], where: str,
    ) -> _Field:
        name = func._overloadpacket.__name__
        y = outs[0]
        arg = _bind(func, args, kwargs)
        fields = [f.rf for _, f in data if f.rf is not None]
        x = arg.get("input", arg.get("self"))
        if len(data) == 1 and data[0][0] is x and x.dim() == 4:
            window = _window(name, arg)
            if window is not None:  # functional conv / pooling: the step its layer makes
                return _Field(receptive.step(fields[0], window, self.input_hw))
        if torch.Tag.pointwise in func.tags:
            if all(t.dim() == y.dim() and (t.shape[-2:] == y.shape[-2:] or f.whole)
                   for (t, _), f in zip(data, fields, strict=True)):
                return self._merge(fields, where)
        elif name in ("view", "_unsafe_view", "reshape", "alias", "detach", "clone", "_to_copy"):
            x = data[0][0]
            if tuple(y.shape) == tuple(x.shape):
                return _Field(fields[0])
            if x.dim() == 4 and y.dim() == 2 and y.shape[0] == x.shape[0]:
                return _Field(receptive.step(fields[0], GLOBAL, self.input_hw))
        elif name == "cat":
            if y.dim() in (2, 4) and arg.get("dim") in (1, 1 - y.dim()):
                return self._merge(fields, where)
        elif name == "mean" and y.dim() in (2, 4) and data[0][0].dim() == 4:
            dim = arg.get("dim")
            dims = {d % 4 for d in dim} if isinstance(dim, (list, tuple)) else set()
            if dims >= {2, 3}:
                return _Field(receptive.step(fields[0], GLOBAL, self.input_hw))
        return _Field(None, f"aten.{name} in {where} is not followed")

    def _merge(self, fields: list[ReceptiveField], where: str) -> _Field:
        if len(fields) == 1:
            return _Field(fields[0])
        rf, misaligned = receptive.merge(fields)
        if misaligned:
            self.notes.append(f"{where}: paths meet with misaligned receptive-field centres")
        return _Field(rf)


class _OpWatcher(TorchDispatchMode):
    """Hands each aten op, with the FLOPs torch's counter gave it, to the tracer.

    FlopCounterMode's own per-module breakdown does not fit rows per *call*: it
    is keyed by module name and sums every call of a module (resnet runs each
    block's relu twice), and a module registered under two names is counted
    under one. So the counter runs underneath this mode and each op's share is
    the change in its running total, credited to the innermost module running.
    """

    def __init__(self, tracer: _Tracer) -> None:
        super().__init__()
        self.tracer = tracer

    def __torch_dispatch__(
        self, func: Any, types: Any, args: Any = (), kwargs: Any = None
    ) -> Any:
        kwargs = kwargs or {}
        before = self.tracer.counter.get_total_flops()
        out = func(*args, **kwargs)
        flops = self.tracer.counter.get_total_flops() - before
        if isinstance(func, torch._ops.OpOverload):
            self.tracer.on_op(func, args, kwargs, out, flops)
        return out


def _bind(func: Any, args: Any, kwargs: Any) -> dict[str, Any]:
    """An aten call's arguments by name, defaults filled in from its schema."""
    bound: dict[str, Any] = {}
    for i, a in enumerate(func._schema.arguments):
        if i < len(args):
            bound[a.name] = args[i]
        elif a.name in kwargs:
            bound[a.name] = kwargs[a.name]
        elif a.has_default_value():
            bound[a.name] = a.default_value
    return bound


_POOLS = ("max_pool2d", "max_pool2d_with_indices", "avg_pool2d")


def _window(name: str, arg: dict[str, Any]) -> SpatialStep | None:
    """The receptive-field step of a functional conv or pooling call, if it is one."""
    if name == "convolution" and not arg.get("transposed"):
        kernel = _pair(tuple(arg["weight"].shape[-2:]))
    elif name in _POOLS:
        kernel = _pair(arg["kernel_size"])
    else:
        return None
    stride = _pair(arg.get("stride") or kernel)
    pad = _pair(arg.get("padding") or 0)
    dil = _pair(arg.get("dilation") or 1)
    effective = (dil[0] * (kernel[0] - 1) + 1, dil[1] * (kernel[1] - 1) + 1)
    return SpatialStep(kernel=effective, stride=stride, pad_before=pad)


def _first_tensor(value: Any) -> torch.Tensor | None:
    return next((t for t in tree_flatten(value)[0] if isinstance(t, torch.Tensor)), None)


def _class_text(module: nn.Module) -> str:
    extra = module.extra_repr()
    text = f"{type(module).__name__}({extra})"
    return text if len(text) <= 60 else text[:57] + "…)"


# ---------------------------------------------------------------------------
# The public entry points.


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
    on a zero input of batch 1, on the module's device, in eval mode and
    without grad; the module's modes are restored afterwards. ``dtype``
    overrides the input's dtype (e.g. ``torch.long`` for an embedding). A
    model built on the meta device gives the same numbers without memory.
    """
    shape = _check_shape(input_shape)
    device, param_dtype = _placement(module)
    x = torch.zeros((1, *shape), device=device, dtype=dtype or param_dtype)
    tracer = _Tracer(module, (shape[1], shape[2]) if len(shape) == 3 else (1, 1))
    # Every tensor computed from the input carries a field; only an image's is a real one.
    tracer.set_field(x, _Field(receptive.initial()) if len(shape) == 3 else _NO_FIELD)
    output = _run(module, x, tracer)
    return _analysis(tracer, name or type(module).__name__, shape, output)


def summarize_target(target: str, input_shape: tuple[int, ...]) -> Analysis:
    """``archcalc summary --module pkg.mod:attr``: import ``attr``, make the module, summarise it.

    ``attr`` may be a module instance, a class, or a factory; it is called
    without arguments, or with the keyword literals written after it
    (``torchvision.models:googlenet(aux_logits=False)``). A factory that takes
    ``weights`` gets ``weights=None``: archcalc never downloads weights.
    """
    return summarize(_load_target(target), input_shape, name=target)


def _check_shape(input_shape: Sequence[int]) -> Shape:
    shape = tuple(input_shape)
    if not shape or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape):
        raise ArchcalcError(
            f"input shape expects positive sizes without the batch, e.g. (3, 224, 224), "
            f"but gets {input_shape!r}"
        )
    return shape


def _placement(module: nn.Module) -> tuple[torch.device, torch.dtype]:
    tensors = [*module.parameters(), *module.buffers()]
    floating = [t for t in tensors if t.is_floating_point()]
    first = floating[0] if floating else (tensors[0] if tensors else None)
    if first is None:
        return torch.device("cpu"), torch.get_default_dtype()
    return first.device, first.dtype if first.is_floating_point() else torch.get_default_dtype()


def _run(module: nn.Module, x: torch.Tensor, tracer: _Tracer) -> Any:
    modes = {m: m.training for m in module.modules()}
    handles = []
    try:
        for m in tracer.names:
            handles.append(m.register_forward_pre_hook(tracer.pre_hook, with_kwargs=True))
            handles.append(m.register_forward_hook(tracer.post_hook, with_kwargs=True))
        module.eval()  # batch norm must not update its running statistics
        with torch.no_grad(), tracer.counter, _OpWatcher(tracer):
            return module(x)
    except ArchcalcError:
        raise
    except Exception as err:
        where = tracer.stack[-1].node.path if tracer.stack else tracer.path(module)
        failing = tracer.stack[-1].node.module if tracer.stack else module
        cls = type(failing).__name__ if failing is not None else "?"
        first = (str(err).strip().splitlines() or [""])[0]
        raise ArchcalcError(
            f"forward on an input of {fmt_shape(tuple(x.shape[1:]))} fails in {where} ({cls}): "
            f"{type(err).__name__}: {first}",
            hint="check the input shape (C×H×W, without the batch)",
        ) from None
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.training = training


def _load_target(target: str) -> nn.Module:
    mod_name, sep, rest = target.partition(":")
    if not sep or not mod_name or not rest:
        raise ArchcalcError(f"--module expects PKG.MOD:NAME, but gets {target!r}",
                            hint="e.g. torchvision.models:resnet18")
    attr, kwargs = _parse_call(rest, target)
    # Like `python -m`, find the user's own modules in the current folder, even when
    # run through the `archcalc` script (whose sys.path does not hold it).
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        obj: Any = importlib.import_module(mod_name)
    except Exception as err:
        first = (str(err).splitlines() or [""])[0]
        raise ArchcalcError(f"cannot import `{mod_name}`: {type(err).__name__}: {first}",
                            hint="check the module name and that it is installed") from None
    finally:
        if added:
            sys.path.remove(cwd)
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise ArchcalcError(f"`{mod_name}` has no attribute `{attr}`",
                                hint=suggest(part, names)) from None
        obj = getattr(obj, part)
    if isinstance(obj, nn.Module):
        if kwargs:
            raise ArchcalcError(f"`{attr}` is a module instance; it takes no arguments")
        return obj
    if not callable(obj):
        raise ArchcalcError(f"`{target}` expects an nn.Module, a class or a factory, "
                            f"but gets {type(obj).__name__}")
    if _takes_weights(obj):
        if kwargs.get("weights") is not None:
            raise ArchcalcError("archcalc never downloads weights, but the target asks for "
                                f"weights={kwargs['weights']!r}", hint="leave `weights` out")
        kwargs["weights"] = None
    try:
        made = obj(**kwargs)
    except Exception as err:
        first = (str(err).splitlines() or [""])[0]
        raise ArchcalcError(f"calling `{attr}` fails: {type(err).__name__}: {first}",
                            hint="give a class or factory that needs no arguments, or write "
                            "them as PKG.MOD:NAME(key=value)") from None
    if not isinstance(made, nn.Module):
        raise ArchcalcError(f"`{target}` expects to give an nn.Module, "
                            f"but gives {type(made).__name__}")
    return made


def _parse_call(text: str, target: str) -> tuple[str, dict[str, Any]]:
    """``name`` or ``name(key=literal, ...)`` → (name, kwargs), never evaluating code."""
    try:
        node = ast.parse(text, mode="eval").body
        if isinstance(node, ast.Call) and not node.args:
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
            if len(kwargs) == len(node.keywords):
                return ast.unparse(node.func), kwargs
        elif isinstance(node, (ast.Name, ast.Attribute)):
            return text, {}
    except (SyntaxError, ValueError):
        pass
    raise ArchcalcError(f"--module expects PKG.MOD:NAME or PKG.MOD:NAME(key=value, ...), "
                        f"but gets {target!r}", hint="values must be literals")


def _takes_weights(obj: Callable[..., Any]) -> bool:
    try:
        return "weights" in inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------
# Freezing the records into an Analysis.


def _analysis(tracer: _Tracer, name: str, shape: Shape, output: Any) -> Analysis:
    _add_uncalled(tracer)
    rows: list[Row] = []
    tree = tuple(_freeze(node, tracer, rows) for node in tracer.top)
    totals = totals_of(rows)
    expected = sum(p.numel() for p in tracer.model.parameters())
    if totals.params != expected:  # pragma: no cover - would be a bug in the bookkeeping
        raise RuntimeError(f"summarize counted {totals.params} parameters, torch {expected}")
    y = _first_tensor(output)
    notes = [*tracer.notes, *_uncounted_notes(rows, totals.params)]
    return Analysis(
        name=name, input_shape=shape, output_shape=tuple(y.shape[1:]) if y is not None else (),
        rows=tuple(rows), tree=tree, totals=totals, notes=tuple(notes), source="module",
    )


def _add_uncalled(tracer: _Tracer) -> None:
    """Modules forward never ran still hold parameters torch counts: give them rows."""
    added: list[_Record] = []
    names: list[str] = []
    for module, path in tracer.names.items():
        if not tracer.has_uncounted(module):
            continue
        adapter = _ADAPTERS.get(type(module))
        known = adapter(module, ()) if adapter is not None else None
        rec = _Record(path=path or type(module).__name__,
                      kind=known.kind if known else type(module).__name__.lower(),
                      operation=known.operation() if known else _class_text(module),
                      depth=1, module=module, activations=False)
        tracer.count_own(rec, module)
        users = sorted({tracer.used_by[id(p)] for p in module.parameters(recurse=False)
                        if id(p) in tracer.used_by})
        rec.notes.append("not called by forward" + (
            f" (its parameters are used by {', '.join(users)})" if users else "")
            + "; its parameters are counted here")
        added.append(rec)
        names.append(f"{rec.path} (used by {', '.join(users)})" if users else rec.path)
    if added:
        tracer.top.extend(added)
        tracer.notes.append(
            f"{len(added)} module(s) not called by forward hold "
            f"{sum(r.params for r in added):,} parameters (included in the totals): "
            + ", ".join(names)
        )


def _freeze(node: _Record | _Group, tracer: _Tracer, rows: list[Row]) -> Row:
    if isinstance(node, _Record):
        row = _leaf_row(node, tracer)
        rows.append(row)
        return row
    children = tuple(_freeze(child, tracer, rows) for child in node.children)
    leaves = list(_leaves(children))
    t = totals_of(leaves)
    name = type(node.module).__name__
    return Row(
        path=node.path, kind=name.lower(), operation=name, depth=node.depth,
        input_shape=node.input_shape, output_shape=node.output_shape,
        params=t.params, trainable_params=t.trainable_params, buffers=t.buffers, macs=t.macs,
        activation_bytes=t.activation_bytes, receptive_field=node.out_field.rf, children=children,
        calls=tracer.calls.get(node.module, 1),
    )


def _leaves(rows: tuple[Row, ...]) -> Iterator[Row]:
    for row in rows:
        if row.is_leaf:
            yield row
        else:
            yield from _leaves(row.children)


def _leaf_row(rec: _Record, tracer: _Tracer) -> Row:
    notes = list(rec.notes)
    path, kind, operation = rec.path, rec.kind, rec.operation
    if rec.kind == "own":  # a container's own part
        path, kind, operation = _own_text(rec)
    calls = tracer.calls.get(rec.module, 1) if rec.module is not None else 1
    if rec.call > 1:
        notes.insert(0, f"call {rec.call} of {calls}" + (
            f"; weights shared with {rec.path} (first call)" if _holds_params(rec.module) else ""))
    if rec.uncosted and rec.macs is None:
        notes.append("MACs uncounted: no cost rule for " + ", ".join(sorted(rec.uncosted)))
    why = rec.out_field.why
    if rec.out_field.rf is None and why is not None and why not in tracer.reported:
        tracer.reported.add(why)
        notes.append(f"receptive field unknown: {why}")
        tracer.notes.append(f"{path}: receptive field unknown from here on: {why}")
    return Row(
        path=path, kind=kind, operation=operation, depth=rec.depth,
        input_shape=rec.input_shape, output_shape=rec.output_shape,
        params=rec.params, trainable_params=rec.trainable, buffers=rec.buffers, macs=rec.macs,
        activation_bytes=prod(rec.output_shape) * FLOAT32_BYTES if rec.activations else 0,
        receptive_field=rec.out_field.rf, note="; ".join(notes) or None, calls=calls,
    )


def _own_text(rec: _Record) -> tuple[str, str, str]:
    assert rec.module is not None
    tensors = [f"{n} {fmt_shape(tuple(t.shape))}" for n, t in
               [*rec.module.named_parameters(recurse=False),
                *rec.module.named_buffers(recurse=False)]]
    ops = sorted(rec.uncosted)
    if rec.params or rec.buffers:
        return f"{rec.path} (own parameters)", "parameters", ", ".join(tensors + ops)
    text = "functional ops" + (f": {', '.join(ops)}" if ops else "")
    return f"{rec.path} (own operations)", "functional", text


def _holds_params(module: nn.Module | None) -> bool:
    return module is not None and next(module.parameters(recurse=False), None) is not None


def _uncounted_notes(rows: list[Row], total_params: int) -> list[str]:
    uncounted = [r for r in rows if r.macs is None]
    if not uncounted:
        return []
    params = sum(r.params for r in uncounted)
    share = f"{100 * params / total_params:.1f}%" if total_params else "0%"
    return [
        f"MACs uncounted for {len(uncounted)} of {len(rows)} rows (no cost rule): "
        f"{', '.join(r.path for r in uncounted)} — they hold {share} of the parameters; "
        "the total MACs exclude them"
    ]
