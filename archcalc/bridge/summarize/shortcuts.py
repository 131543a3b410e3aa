"""Outputs of common aten ops on the meta device, made from their inputs' shapes alone.

Torch 2.14 gives many ops their meta kernel in Python (``torch._refs``,
``torch._decomp``): an eval batch norm on meta tensors takes over a
millisecond, a hardswish several, where ``torch.empty`` takes one
microsecond. Those kernels were most of a summary's time. Each shortcut here
makes the same result (shape, strides, dtype; the input itself for an
in-place op) for the plain cases a network's forward is made of, from the
arguments as given (a real parameter reads as its meta twin would: only its
shape, strides and dtype are looked at), and answers
``NotImplemented`` for anything else (mixed dtypes, odd layouts, shapes that
do not fit), so that the op's own kernel runs and says what is wrong in
torch's words. tests/bridge/test_summarize_shortcuts.py holds each to the
kernel it stands in for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

Shortcut = Callable[[tuple[Any, ...], dict[str, Any]], Any]

_META = torch.device("meta")
_SCALARS = (int, float, bool, str, type(None))
# Elementwise ops whose result has their floating inputs' dtype (comparisons, which
# give bools, and integer division are not here). hardswish carries no pointwise tag.
_SAME_DTYPE = frozenset(
    {
        "abs",
        "add",
        "clamp",
        "clamp_max",
        "clamp_min",
        "cos",
        "div",
        "elu",
        "erf",
        "exp",
        "gelu",
        "hardsigmoid",
        "hardswish",
        "hardtanh",
        "leaky_relu",
        "log",
        "mish",
        "mul",
        "neg",
        "pow",
        "reciprocal",
        "relu",
        "rsqrt",
        "rsub",
        "sigmoid",
        "silu",
        "sin",
        "softplus",
        "sqrt",
        "square",
        "sub",
        "tanh",
        "threshold",
    }
)
_COMPARISONS = frozenset({"eq", "ne", "lt", "le", "gt", "ge"})
_NORM_DTYPES = (torch.float32, torch.float64)


def shortcut(func: Any) -> Shortcut | None:
    """The shortcut for one op overload, or None where its own kernel must always run."""
    if func in _BY_OP:
        return _BY_OP[func]
    schema = func._schema
    if len(schema.returns) != 1:
        return None
    name = func._overloadpacket.__name__
    if name in _SAME_DTYPE and not schema.is_mutable:
        return _pointwise
    if name in _COMPARISONS and not schema.is_mutable:
        return _compare
    if name.endswith("_") and name[:-1] in _SAME_DTYPE and schema.is_mutable:
        first = schema.arguments[0].alias_info if schema.arguments else None
        written = [
            a for a in schema.arguments if a.alias_info is not None and a.alias_info.is_write
        ]
        if first is not None and first.is_write and len(written) == 1:
            return _pointwise_
    return None


def _floats(
    args: Sequence[Any], kwargs: dict[str, Any], floating: bool = True
) -> list[torch.Tensor] | None:
    """The tensor arguments, all of one (floating) dtype, the rest scalars; else None."""
    tensors = []
    for a in args:
        if isinstance(a, torch.Tensor):
            tensors.append(a)
        elif not isinstance(a, _SCALARS):
            return None
    if any(not isinstance(v, _SCALARS) for v in kwargs.values()):
        return None
    if not tensors:
        return None
    dtype = tensors[0].dtype
    if dtype.is_complex or (floating and not dtype.is_floating_point):
        return None
    for t in tensors:
        if t.dtype != dtype:
            return None
    return tensors


def _broadcast(tensors: list[torch.Tensor]) -> tuple[int, ...] | None:
    """The shape the tensors broadcast to, or None where they do not."""
    shape = tensors[0].shape
    if all(t.shape == shape for t in tensors):
        return tuple(shape)
    rank = max(t.dim() for t in tensors)
    out = [1] * rank
    for t in tensors:
        for i, n in enumerate(t.shape, rank - t.dim()):
            if n != out[i]:
                if out[i] != 1 and n != 1:
                    return None
                out[i] = max(n, out[i]) if n and out[i] else 0
    return tuple(out)


def _dense(t: torch.Tensor) -> bool:
    """Whether ``t`` covers its storage once, so that a result made like it copies its strides."""
    return t.is_contiguous() or (
        t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last)
    )


def _pointwise(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _elementwise(_floats(args, kwargs), None)


def _compare(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _elementwise(_floats(args, kwargs, floating=False), torch.bool)


def _elementwise(tensors: list[torch.Tensor] | None, dtype: torch.dtype | None) -> Any:
    """An elementwise op's result: like its one tensor, or contiguous where all inputs are."""
    if tensors is None:
        return NotImplemented
    first = tensors[0]
    dtype = dtype or first.dtype
    if len(tensors) == 1:  # torch lays it out as empty_like does, dense or not
        return torch.empty_like(first, dtype=dtype, device=_META)
    shape = _broadcast(tensors)
    if shape is None:
        return NotImplemented
    if all(t.is_contiguous() for t in tensors):
        return torch.empty(shape, dtype=dtype, device=_META)
    stride = first.stride()
    if _dense(first) and all(t.shape == shape and t.stride() == stride for t in tensors):
        return torch.empty_strided(shape, stride, dtype=dtype, device=_META)
    return NotImplemented


def _pointwise_(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    tensors = _floats(args, kwargs)
    if (
        tensors is None
        or _broadcast(tensors) != tuple(tensors[0].shape)
        or tensors[0] is not args[0]
    ):
        return NotImplemented
    if not args[0].is_meta:  # a real tensor changed in place: its twin is what changes
        return NotImplemented
    return args[0]


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], i: int, name: str, default: Any) -> Any:
    return args[i] if i < len(args) else kwargs.get(name, default)


def _per_channel(t: Any, c: int, dtype: torch.dtype) -> bool:
    return t is None or (
        isinstance(t, torch.Tensor) and t.dtype == dtype and t.dim() == 1 and t.shape[0] == c
    )


def _batch_norm(args: tuple[Any, ...], kwargs: dict[str, Any], training_at: int | None) -> Any:
    """``native_batch_norm`` in eval and ``_native_batch_norm_legit_no_training``."""
    x = args[0] if args else None
    if not isinstance(x, torch.Tensor) or x.dtype not in _NORM_DTYPES:
        return NotImplemented
    if x.dim() < 2 or not _dense(x) or x.numel() == 0:
        return NotImplemented
    if training_at is not None and _arg(args, kwargs, training_at, "training", True) is not False:
        return NotImplemented
    c = x.shape[1]
    names = ("weight", "bias", "running_mean", "running_var")
    stats = [_arg(args, kwargs, i + 1, n, None) for i, n in enumerate(names)]
    if stats[2] is None or stats[3] is None:
        return NotImplemented
    if not all(_per_channel(s, c, x.dtype) for s in stats):
        return NotImplemented
    out = torch.empty_strided(x.shape, x.stride(), dtype=x.dtype, device=_META)
    return (
        out,
        torch.empty(c, dtype=x.dtype, device=_META),
        torch.empty(c, dtype=x.dtype, device=_META),
    )


def _layer_norm(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``native_layer_norm``: its kernel makes the input contiguous first, so the outputs
    are contiguous whatever the input's layout (ConvNeXt normalises a permuted map)."""
    x = args[0] if args else None
    if not isinstance(x, torch.Tensor) or x.dtype not in _NORM_DTYPES or x.numel() == 0:
        return NotImplemented
    normalized = tuple(_arg(args, kwargs, 1, "normalized_shape", ()))
    n = len(normalized)
    if n == 0 or n > x.dim() or tuple(x.shape[x.dim() - n :]) != normalized:
        return NotImplemented
    for i, name in ((2, "weight"), (3, "bias")):
        t = _arg(args, kwargs, i, name, None)
        if t is not None and not (
            isinstance(t, torch.Tensor) and t.dtype == x.dtype and tuple(t.shape) == normalized
        ):
            return NotImplemented
    stats = (*x.shape[: x.dim() - n], *(1,) * n)
    return (
        torch.empty(x.shape, dtype=x.dtype, device=_META),
        torch.empty(stats, dtype=x.dtype, device=_META),
        torch.empty(stats, dtype=x.dtype, device=_META),
    )


def _mean(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``mean.dim`` over a contiguous floating tensor (global pooling, squeeze-excitation)."""
    x = args[0] if args else None
    dims = _arg(args, kwargs, 1, "dim", None)
    keep = _arg(args, kwargs, 2, "keepdim", False)
    if _arg(args, kwargs, 3, "dtype", None) is not None or not isinstance(keep, bool):
        return NotImplemented
    if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point:
        return NotImplemented
    rank = x.dim()
    if not x.is_contiguous() or rank == 0 or not isinstance(dims, (list, tuple)) or not dims:
        return NotImplemented
    if not all(isinstance(d, int) and -rank <= d < rank for d in dims):
        return NotImplemented
    reduced = {d % rank for d in dims}
    if len(reduced) != len(dims):
        return NotImplemented
    shape = [1 if i in reduced else s for i, s in enumerate(x.shape) if keep or i not in reduced]
    return torch.empty(shape, dtype=x.dtype, device=_META)


def _cat(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    tensors = _arg(args, kwargs, 0, "tensors", None)
    dim = _arg(args, kwargs, 1, "dim", 0)
    if not isinstance(tensors, (list, tuple)) or not tensors or not isinstance(dim, int):
        return NotImplemented
    first = tensors[0]
    if not isinstance(first, torch.Tensor):
        return NotImplemented
    rank = first.dim()
    if rank == 0 or not -rank <= dim < rank:
        return NotImplemented
    dim %= rank
    total = 0
    for t in tensors:
        if (
            not isinstance(t, torch.Tensor)
            or t.dtype != first.dtype
            or t.dim() != rank
            or not t.is_contiguous()
        ):
            return NotImplemented
        for i in range(rank):
            if i != dim and t.shape[i] != first.shape[i]:
                return NotImplemented
        total += t.shape[dim]
    shape = list(first.shape)
    shape[dim] = total
    return torch.empty(shape, dtype=first.dtype, device=_META)


def _ints(value: Any, n: int) -> list[int] | None:
    if not isinstance(value, (list, tuple)) or len(value) != n:
        return None
    return list(value) if all(type(v) is int for v in value) else None


def _convolution(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A batched, not transposed convolution (torch's meta kernel: always contiguous)."""
    if len(args) != 9 or kwargs:
        return NotImplemented
    x, w, bias, stride, padding, dilation, transposed, _, groups = args
    if transposed is not False or not isinstance(groups, int) or groups < 1:
        return NotImplemented
    if _matrices(x, w) is None or (bias is not None and _matrices(x, bias) is None):
        return NotImplemented
    rank = x.dim() - 2
    if rank < 1 or w.dim() != x.dim() or x.shape[1] != w.shape[1] * groups or x.shape[1] == 0:
        return NotImplemented
    if w.shape[0] % groups or (bias is not None and tuple(bias.shape) != (w.shape[0],)):
        return NotImplemented
    s, p, d = _ints(stride, rank), _ints(padding, rank), _ints(dilation, rank)
    if s is None or p is None or d is None or min(s) < 1 or min(d) < 1 or min(p) < 0:
        return NotImplemented
    shape = [x.shape[0], w.shape[0]]
    for i in range(rank):
        n = (x.shape[i + 2] + 2 * p[i] - d[i] * (w.shape[i + 2] - 1) - 1) // s[i] + 1
        if n < 1:
            return NotImplemented  # the kernel says the input is too small
        shape.append(n)
    return torch.empty(shape, dtype=x.dtype, device=_META)


def _matrices(*ts: Any) -> torch.dtype | None:
    dtype = ts[0].dtype if isinstance(ts[0], torch.Tensor) else None
    for t in ts:
        if not isinstance(t, torch.Tensor) or t.dtype != dtype:
            return None
    return dtype if dtype is not None and dtype.is_floating_point else None


def _mm(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if len(args) != 2 or kwargs:
        return NotImplemented
    a, b = args
    dtype = _matrices(a, b)
    if dtype is None or a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0]:
        return NotImplemented
    return torch.empty((a.shape[0], b.shape[1]), dtype=dtype, device=_META)


def _bmm(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if len(args) != 2 or kwargs:
        return NotImplemented
    a, b = args
    dtype = _matrices(a, b)
    if dtype is None or a.dim() != 3 or b.dim() != 3:
        return NotImplemented
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        return NotImplemented
    return torch.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=dtype, device=_META)


def _addmm(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if len(args) != 3 or any(not isinstance(v, (int, float)) for v in kwargs.values()):
        return NotImplemented
    bias, a, b = args
    dtype = _matrices(bias, a, b)
    if dtype is None or a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0]:
        return NotImplemented
    shape = (a.shape[0], b.shape[1])
    try:
        if torch.broadcast_shapes(bias.shape, shape) != shape:
            return NotImplemented
    except RuntimeError:
        return NotImplemented
    return torch.empty(shape, dtype=dtype, device=_META)


def _roll(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``roll``: a contiguous copy, whatever the input's layout."""
    x = _arg(args, kwargs, 0, "self", None)
    shifts = _arg(args, kwargs, 1, "shifts", None)
    dims = _arg(args, kwargs, 2, "dims", [])
    if not isinstance(x, torch.Tensor) or x.dim() == 0:
        return NotImplemented
    if not isinstance(shifts, (list, tuple)) or not isinstance(dims, (list, tuple)):
        return NotImplemented
    shifts, dims = _ints(shifts, len(shifts)), _ints(dims, len(dims))
    if not shifts or dims is None or len(dims) not in (0, len(shifts)):
        return NotImplemented
    if (not dims and len(shifts) != 1) or any(not -x.dim() <= d < x.dim() for d in dims):
        return NotImplemented
    return torch.empty(x.shape, dtype=x.dtype, device=_META)


def _clone(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``clone`` (``contiguous()`` too): laid out as ``empty_like`` lays it out."""
    x = _arg(args, kwargs, 0, "self", None)
    fmt = _arg(args, kwargs, 1, "memory_format", None)
    if not isinstance(x, torch.Tensor) or len(args) + len(kwargs) > 2:
        return NotImplemented
    if fmt is None or fmt is torch.preserve_format:
        return torch.empty_like(x, device=_META)
    if fmt is torch.contiguous_format:
        return torch.empty(x.shape, dtype=x.dtype, device=_META)
    return NotImplemented


def _softmax(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``_softmax`` / ``_log_softmax`` over a contiguous floating tensor, in its dtype."""
    if len(args) != 3 or kwargs:
        return NotImplemented
    x, dim, half_to_float = args
    if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point or half_to_float:
        return NotImplemented
    if (
        not x.is_contiguous()
        or not isinstance(dim, int)
        or not -max(x.dim(), 1) <= dim < max(x.dim(), 1)
    ):
        return NotImplemented
    return torch.empty(x.shape, dtype=x.dtype, device=_META)


def _masked_fill(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``masked_fill.Scalar`` with a mask of the input's own shape, both contiguous."""
    if len(args) != 3 or kwargs:
        return NotImplemented
    x, mask, value = args
    if not isinstance(x, torch.Tensor) or not isinstance(mask, torch.Tensor):
        return NotImplemented
    if mask.dtype != torch.bool or mask.shape != x.shape or not isinstance(value, (int, float)):
        return NotImplemented
    if not x.dtype.is_floating_point or not x.is_contiguous() or not mask.is_contiguous():
        return NotImplemented
    return torch.empty(x.shape, dtype=x.dtype, device=_META)


_aten = torch.ops.aten
_BY_OP: dict[Any, Shortcut] = {
    _aten.native_batch_norm.default: lambda a, k: _batch_norm(a, k, 5),
    _aten._native_batch_norm_legit_no_training.default: lambda a, k: _batch_norm(a, k, None),
    _aten.native_layer_norm.default: _layer_norm,
    _aten.mean.dim: _mean,
    _aten.cat.default: _cat,
    _aten.mm.default: _mm,
    _aten.bmm.default: _bmm,
    _aten.addmm.default: _addmm,
    _aten.convolution.default: _convolution,
    _aten.roll.default: _roll,
    _aten.clone.default: _clone,
    _aten._softmax.default: _softmax,
    _aten._log_softmax.default: _softmax,
    _aten.masked_fill.Scalar: _masked_fill,
}
