"""Watching aten operations: which cost nothing, what a call's arguments are, who runs them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_unflatten
from torch.utils.flop_counter import flop_registry, sdpa_flop_count

from archcalc.bridge.summarize.shortcuts import Shortcut, shortcut
from archcalc.bridge.summarize.torch_kinds import pair
from archcalc.kinds import REGISTRY
from archcalc.kinds.base import RFStep, ShapeError, SpatialStep
from archcalc.kinds.upsample import UpsampleArgs

if TYPE_CHECKING:
    from archcalc.bridge.summarize.tracer import Tracer

# Which aten operations cost no MACs. archcalc counts the multiply-adds of conv
# and linear work only, so elementwise ops, views, reductions, pooling,
# normalisation, padding, resampling and lookups are 0 by definition. An op in
# none of these groups may well be a product torch has no formula for (cdist,
# fft, linalg), so it is reported as uncounted, never as 0 (fvcore's rule).

_FREE_OPS = frozenset(
    {
        # moving and copying data
        "cat",
        "stack",
        "view",
        "_unsafe_view",
        "reshape",
        "_to_copy",
        "copy_",
        "fill_",
        "zero_",
        "roll",
        "flip",
        "repeat",
        "repeat_interleave",
        "tile",
        "pixel_shuffle",
        "pixel_unshuffle",
        "channel_shuffle",
        "native_channel_shuffle",
        "im2col",
        "col2im",
        "tril",
        "triu",
        "index",
        "_unsafe_index",
        "index_select",
        "gather",
        "scatter",
        "scatter_add",
        "index_put",
        "index_put_",
        "masked_select",
        "nonzero",
        "embedding",
        "topk",
        "sort",
        "cumsum",
        "constant_pad_nd",
        "reflection_pad1d",
        "reflection_pad2d",
        "replication_pad1d",
        "replication_pad2d",
        "upsample_nearest1d",
        "upsample_nearest2d",
        "_upsample_nearest_exact2d",
        "upsample_bilinear2d",
        # pooling and normalisation
        "max_pool1d",
        "max_pool2d",
        "max_pool3d",
        "max_pool2d_with_indices",
        "max_pool3d_with_indices",
        "mkldnn_max_pool2d",
        "avg_pool1d",
        "avg_pool2d",
        "avg_pool3d",
        "adaptive_avg_pool1d",
        "adaptive_avg_pool2d",
        "_adaptive_avg_pool2d",
        "_adaptive_avg_pool3d",
        "adaptive_max_pool2d",
        "native_batch_norm",
        "_native_batch_norm_legit",
        "_native_batch_norm_legit_no_training",
        "native_layer_norm",
        "native_group_norm",
        "_softmax",
        "_log_softmax",
        "_safe_softmax",
        "native_dropout",
        # making new tensors
        "zeros",
        "ones",
        "empty",
        "full",
        "arange",
        "linspace",
        "zeros_like",
        "ones_like",
        "empty_like",
        "full_like",
        "new_zeros",
        "new_ones",
        "new_empty",
        "new_full",
        "scalar_tensor",
        "rand",
        "randn",
        "randint",
        "bernoulli",
        "bernoulli_",
        "normal_",
        "uniform_",
        "lift_fresh",
        "lift_fresh_copy",
        "_local_scalar_dense",
    }
)


def is_free(func: Any) -> bool:
    """Whether an aten op costs no MACs by docs/spec.md's rule (see the groups above)."""
    if torch.Tag.pointwise in func.tags or torch.Tag.reduction in func.tags:
        return True
    if any(r.alias_info is not None and not r.alias_info.is_write for r in func._schema.returns):
        return True  # a view: no arithmetic at all
    return func._overloadpacket.__name__ in _FREE_OPS


@dataclass(frozen=True)
class OpInfo:
    """What the watcher needs of an aten op, worked out once per op."""

    name: str  # the overload packet's name: ``convolution``, ``add_``
    free: bool  # costs no MACs by definition (``is_free``)
    formula: Callable[..., int] | None  # torch's FLOP formula, or archcalc's for attention
    decomposes: bool  # no formula, but a CompositeImplicitAutograd body whose parts may have one
    pointwise: bool
    shortcut: Shortcut | None = None  # its meta result from shapes alone (shortcuts.py)
    # torch's formula without its wrapper, which maps every argument to its shape
    # with a pytree walk; ``cost`` maps the few kinds of argument an op has itself.
    on_shapes: Callable[..., int] | None = None
    params: tuple[str, ...] = ()  # its schema's argument names, in order (``bind``)
    defaults: dict[str, Any] = field(default_factory=dict)

    def cost(self, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> int:
        """The op's FLOPs by its formula (0 without one)."""
        if self.on_shapes is not None:
            shapes = [_shape_of(a) for a in args]
            more = {k: _shape_of(v) for k, v in kwargs.items()}
            return int(self.on_shapes(*shapes, **more, out_shape=_shape_of(out)))
        if self.formula is not None:
            return int(self.formula(*args, **kwargs, out_val=out))
        return 0


def op_info(func: Any) -> OpInfo:
    packet = func._overloadpacket
    formula = _FORMULAS.get(packet) or flop_registry.get(packet)
    decomposes = formula is None and torch._C._dispatch_has_kernel_for_dispatch_key(
        func.name(), "CompositeImplicitAutograd"
    )
    wrapped = _ON_SHAPES.get(packet) or getattr(formula, "__wrapped__", None)
    return OpInfo(
        packet.__name__,
        is_free(func),
        formula,
        decomposes,
        torch.Tag.pointwise in func.tags,
        None if decomposes else shortcut(func),
        wrapped if packet in flop_registry and formula is flop_registry[packet] else None,
        tuple(a.name for a in func._schema.arguments),
        {a.name: a.default_value for a in func._schema.arguments if a.has_default_value()},
    )


def _raw(packet: Any) -> Callable[..., int]:
    formula: Callable[..., int] = flop_registry[packet].__wrapped__
    return formula


_mm_on_shapes, _bmm_on_shapes = _raw(torch.ops.aten.mm), _raw(torch.ops.aten.bmm)


def _addmm_on_shapes(self_shape: Any, a_shape: Any, b_shape: Any, *args: Any, **kwargs: Any) -> int:
    return _mm_on_shapes(a_shape, b_shape)  # torch's addmm_flop, past mm_flop's wrapper


def _baddbmm_on_shapes(
    self_shape: Any, a_shape: Any, b_shape: Any, *args: Any, **kwargs: Any
) -> int:
    return _bmm_on_shapes(a_shape, b_shape)


# Formulas whose torch body calls another formula through its shape wrapper (a
# pytree walk of shapes, the largest part of costing a transformer's linears).
_ON_SHAPES: dict[Any, Callable[..., int]] = {
    torch.ops.aten.addmm: _addmm_on_shapes,
    torch.ops.aten.baddbmm: _baddbmm_on_shapes,
}


def _shape_of(value: Any) -> Any:
    """What torch's ``shape_wrapper`` hands a formula: each tensor as its shape."""
    if isinstance(value, torch.Tensor):
        return value.shape
    if type(value) in (list, tuple):
        return type(value)(_shape_of(v) for v in value)
    return value


# What aten arguments hold besides tensors and lists of them: nothing to look into.
_LEAVES = (
    int,
    float,
    bool,
    str,
    type(None),
    torch.dtype,
    torch.device,
    torch.layout,
    torch.memory_format,
    torch.Size,
)


def tensors_in(value: Any) -> list[torch.Tensor]:
    """The tensors in a (nested) value, in ``tree_flatten``'s order, without its walk.

    Arguments, outputs and module inputs are tensors, scalars and plain lists,
    tuples and dicts of them; anything else (a registered pytree node, a
    namedtuple) is left to ``tree_flatten``.
    """
    if isinstance(value, torch.Tensor):
        return [value]
    kind = type(value)
    items = value.values() if kind is dict else value if kind in (tuple, list) else None
    if items is None:
        if isinstance(value, _LEAVES):
            return []
        return [t for t in tree_flatten(value)[0] if isinstance(t, torch.Tensor)]
    out: list[torch.Tensor] = []
    for v in items:
        if type(v) is int:  # sizes and dims, the most common item
            continue
        if isinstance(v, torch.Tensor):
            out.append(v)
        elif not isinstance(v, _LEAVES):
            kind = type(v)
            if (kind is list or kind is tuple) and all(type(n) is int for n in v):
                continue  # a list of sizes: no tensor in it
            out.extend(tensors_in(v))
    return out


# Questions about a tensor, not work on it: fake tensors (and subclasses with their
# own sizes) answer them through the dispatcher. FlopCounterMode passes them by too.
_METADATA = frozenset(
    {
        torch.ops.prim.device.default,
        torch.ops.prim.layout.default,
        torch.ops.aten.sym_is_contiguous.default,
        torch.ops.aten.is_contiguous.default,
        torch.ops.aten.is_contiguous.memory_format,
        torch.ops.aten.is_strides_like_format.default,
        torch.ops.aten.is_non_overlapping_and_dense.default,
        torch.ops.aten.size.default,
        torch.ops.aten.sym_size.default,
        torch.ops.aten.stride.default,
        torch.ops.aten.sym_stride.default,
        torch.ops.aten.storage_offset.default,
        torch.ops.aten.sym_storage_offset.default,
        torch.ops.aten.numel.default,
        torch.ops.aten.sym_numel.default,
        torch.ops.aten.dim.default,
    }
)


class OpWatcher(TorchDispatchMode):
    """The one dispatch mode of a pass: each aten op, costed, handed to the tracer.

    Each op is costed with torch's own FLOP formulas (``flop_registry``, what
    FlopCounterMode uses) and credited to the innermost module running (the
    tracer's ``on_op``); FlopCounterMode itself is not used, since its
    per-module breakdown sums every call of a module under one name and its
    module tracker costs more than the whole pass. An op torch has no formula
    for but a composite body (``func.decompose``) is costed by its parts, as
    FlopCounterMode does, and still seen as one op.
    """

    def __init__(self, tracer: Tracer, meta: bool = False) -> None:
        super().__init__()
        self.tracer = tracer
        self.meta = meta
        # id(real tensor) → (it, its meta twin): parameters are read by every call
        # of their layer, and their twin is made once. The tensor is held so that
        # its id is not reused while the pass runs.
        self.twins: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # Torch wraps a mode's __torch_dispatch__ in a dynamo guard by default, at a
        # cost on every op; nothing here runs under torch.compile.
        return False

    def _twin(self, t: torch.Tensor) -> torch.Tensor:
        entry = self.twins.get(id(t))
        if entry is None:
            twin = torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device="meta")
            entry = self.twins[id(t)] = (t, twin)
        return entry[1]

    def _on_meta(self, value: Any) -> Any:
        """``value`` with every real tensor in it read as its meta twin (no data copied).

        The value itself where it holds none, as aten arguments are tensors,
        scalars and plain lists of them.
        """
        if isinstance(value, torch.Tensor):
            return value if value.is_meta else self._twin(value)
        kind = type(value)
        if kind is tuple or kind is list:
            if all(type(v) is int for v in value):  # sizes, strides, dims: the common case
                return value
            items = [self._on_meta(v) for v in value]
            if all(a is b for a, b in zip(items, value, strict=True)):
                return value
            return kind(items)
        if kind is dict:
            swapped = {k: self._on_meta(v) for k, v in value.items()}
            return value if all(swapped[k] is v for k, v in value.items()) else swapped
        if isinstance(value, _LEAVES):
            return value
        flat, spec = tree_flatten(value)
        return tree_unflatten([self._on_meta(t) for t in flat], spec)

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        info = _info_of(func)
        if info is None:
            return func(*args, **kwargs)
        flops = 0
        out = NotImplemented
        if self.meta and info.shortcut is not None:
            out = info.shortcut(args, kwargs)  # shapes alone: no twins needed
            if out is not NotImplemented:
                flops = info.cost(args, kwargs, out)
        ins = tensors_in(args)
        if kwargs:
            ins += tensors_in(kwargs)
        if out is NotImplemented:
            run_args, run_kwargs = args, kwargs
            if self.meta and not all(t.is_meta for t in ins):
                run_args, run_kwargs = self._on_meta(args), self._on_meta(kwargs)
            if info.decomposes:
                with _Costs() as costs:
                    out = func.decompose(*run_args, **run_kwargs)
                flops = costs.flops
            if out is NotImplemented:
                out = func(*run_args, **run_kwargs)
                flops = info.cost(run_args, run_kwargs, out)
        outs: list[torch.Tensor] = [out] if isinstance(out, torch.Tensor) else tensors_in(out)
        self.tracer.on_op(func, info, args, kwargs, ins, out, outs, flops)
        return out


class _Costs(TorchDispatchMode):
    """FLOPs of a composite op's parts, summed (the parts are not rows of their own)."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False  # as OpWatcher's

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        info = _info_of(func)
        if info is None:
            return func(*args, **kwargs)
        if info.decomposes:
            out = func.decompose(*args, **kwargs)
            if out is not NotImplemented:
                return out
        out = func(*args, **kwargs)
        self.flops += info.cost(args, kwargs, out)
        return out


def _sdpa_cpu_flop(query: Any, key: Any, value: Any, *args: Any, **kwargs: Any) -> int:
    """``_scaled_dot_product_flash_attention_for_cpu``: torch's sdpa formula (B, heads, L, d)."""
    return int(sdpa_flop_count(query.shape, key.shape, value.shape))


def _native_mha_flop(
    query: Any,
    key: Any,
    value: Any,
    embed_dim: int,
    num_head: int,
    *args: Any,
    **kwargs: Any,
) -> int:
    """nn.MultiheadAttention's fused path: in-projections, attention (torch's sdpa formula), out.

    The same FLOPs its unfused path (linear, sdpa, linear) is costed at, so
    the answer does not depend on which path the device takes. ``query`` is
    (B, L, E), batch first, on this path.
    """
    b, lq = int(query.shape[0]), int(query.shape[1])
    lk = int(key.shape[1])
    e, h = int(embed_dim), int(num_head)
    d = e // h
    projections = 2 * e * e * (2 * b * lq + 2 * b * lk)  # q, k, v in; the output out
    attention = sdpa_flop_count((b, h, lq, d), (b, h, lk, d), (b, h, lk, d))
    return int(projections + attention)


_FORMULAS: dict[Any, Callable[..., int]] = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_cpu_flop,
    torch.ops.aten._native_multi_head_attention: _native_mha_flop,
}


def bind(info: OpInfo, args: Any, kwargs: Any) -> dict[str, Any]:
    """An aten call's arguments by name, defaults filled in from its schema."""
    bound = dict(zip(info.params, args, strict=False))
    for name in info.params[len(args) :]:
        if name in kwargs:
            bound[name] = kwargs[name]
        elif name in info.defaults:
            bound[name] = info.defaults[name]
    return bound


_POOLS = ("max_pool2d", "max_pool2d_with_indices", "avg_pool2d")


def window_step(name: str, arg: dict[str, Any]) -> SpatialStep | None:
    """The receptive-field step of a functional conv or pooling call, if it is one."""
    if name == "convolution" and not arg.get("transposed"):
        kernel = pair(tuple(arg["weight"].shape[-2:]))
    elif name in _POOLS:
        kernel = pair(arg["kernel_size"])
    else:
        return None
    stride = pair(arg.get("stride") or kernel)
    pad = pair(arg.get("padding") or 0)
    dil = pair(arg.get("dilation") or 1)
    effective = (dil[0] * (kernel[0] - 1) + 1, dil[1] * (kernel[1] - 1) + 1)
    return SpatialStep(kernel=effective, stride=stride, pad_before=pad)


# Interpolating resizes and the upsample kind's mode for each (nearest-exact has no rule).
RESIZES = {
    "upsample_nearest1d": ("nearest", 1),
    "upsample_nearest2d": ("nearest", 2),
    "upsample_nearest3d": ("nearest", 3),
    "upsample_linear1d": ("linear", 1),
    "upsample_bilinear2d": ("bilinear", 2),
    "upsample_trilinear3d": ("trilinear", 3),
}


def resize_step(name: str, arg: dict[str, Any], x: torch.Tensor, y: torch.Tensor) -> RFStep | None:
    """The receptive-field step of a functional resize (``F.interpolate``), as ``nn.Upsample``'s.

    Torch maps coordinates by the scales where the call carries them and by the
    sizes otherwise, which is the upsample kind's ``scale`` and ``size``; None
    where the call is no resize, or mixes the two per axis.
    """
    mode, rank = RESIZES.get(name, (None, 0))
    if mode is None or x.dim() != rank + 2 or y.dim() != rank + 2:
        return None
    scales = arg.get("scale_factors")
    if "scale_factors" not in arg:  # the .default overload: one optional scale per axis
        per_axis = [v for k, v in arg.items() if k.startswith("scales")]
        scales = None if all(v is None for v in per_axis) else per_axis
    if scales is not None and any(v is None for v in scales):
        return None
    size = tuple(y.shape[2:])
    up = UpsampleArgs(
        scale=tuple(float(v) for v in scales) if scales is not None else None,
        size=None if scales is not None else size,
        mode=mode,
        align_corners=bool(arg.get("align_corners") or False),
    )
    try:
        effect = REGISTRY["upsample"].apply(up, tuple(x.shape[1:]))
    except ShapeError:
        return None
    return effect.rf if effect.output_shape[1:] == size else None


def first_tensor(value: Any) -> torch.Tensor | None:
    """The first tensor in a (nested) value: a module's input or output, an op's result."""
    if isinstance(value, torch.Tensor):
        return value
    found = tensors_in(value)
    return found[0] if found else None


@functools.cache
def _info_of(func: Any) -> OpInfo | None:
    """``op_info(func)``, worked out once per op (an op overload is a fixed object of
    torch's, and its info a function of it alone); None for what is not an op to cost
    (a question about a tensor's metadata)."""
    if isinstance(func, torch._ops.OpOverload) and func not in _METADATA:
        return op_info(func)
    return None
