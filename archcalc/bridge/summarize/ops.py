"""Watching aten operations: which cost nothing, what a call's arguments are, who runs them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from archcalc.bridge.summarize.torch_kinds import pair
from archcalc.kinds.base import SpatialStep

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


class OpWatcher(TorchDispatchMode):
    """Hands each aten op, with the FLOPs torch's counter gave it, to the tracer.

    FlopCounterMode's own per-module breakdown does not fit rows per *call*: it
    is keyed by module name and sums every call of a module (resnet runs each
    block's relu twice), and a module registered under two names is counted
    under one. So the counter runs underneath this mode and each op's share is
    the change in its running total, credited to the innermost module running
    (the tracer's ``on_op``).
    """

    def __init__(self, tracer: Tracer) -> None:
        super().__init__()
        self.tracer = tracer

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        before = self.tracer.counter.get_total_flops()
        out = func(*args, **kwargs)
        flops = self.tracer.counter.get_total_flops() - before
        if isinstance(func, torch._ops.OpOverload):
            self.tracer.on_op(func, args, kwargs, out, flops)
        return out


def bind(func: Any, args: Any, kwargs: Any) -> dict[str, Any]:
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


def first_tensor(value: Any) -> torch.Tensor | None:
    """The first tensor in a (nested) value: a module's input or output, an op's result."""
    return next((t for t in tree_flatten(value)[0] if isinstance(t, torch.Tensor)), None)
