"""Torch functions in a container's own code, read as the spec layers they are.

``out += identity`` is an ``add``, ``torch.flatten(x, 1)`` a ``flatten``,
``F.adaptive_avg_pool2d(x, 1)`` an ``adaptive_avg_pool2d: 1``, ShuffleNet's
view-transpose-view a ``channel_shuffle``. Each conversion returns what the
call is (a layer per output, a merge, the input passed on unchanged, or a
reshape still in progress); anything else is a :class:`Refusal` naming the
function, since a spec must say everything the forward does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from archcalc.bridge.export import args as kind_args
from archcalc.errors import ArchcalcError

if TYPE_CHECKING:
    from archcalc.bridge.export.trace import _Tracer


@dataclass(frozen=True)
class Pass:
    """The output is the input: no layer (``contiguous``, a view to the same shape, ``x + 0``)."""

    tensor: torch.Tensor


@dataclass(frozen=True)
class Layers:
    """One layer per output tensor: (kind, written arguments, the tensor it reads)."""

    layers: tuple[tuple[str, dict[str, Any], torch.Tensor], ...]


@dataclass(frozen=True)
class Merge:
    """``add`` / ``mul`` / ``cat`` of several tensors."""

    op: str
    tensors: tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class Pending:
    """A reshape half done: ShuffleNet's channel shuffle, between its first view and its last."""

    node: int
    groups: int
    step: str  # "split" after view(N, g, C/g, …), "swapped" after transpose(1, 2)
    shape: tuple[int, ...]  # the original (N, C, …)


@dataclass(frozen=True)
class Moved:
    """A permute between channels first and channels last: the same tensor of the spec,
    which writes every tensor C first (ConvNeXt's ``Permute([0, 2, 3, 1])`` and back)."""

    tensor: torch.Tensor
    last: bool  # the output is channels last


Result = Pass | Layers | Merge | Pending | Moved


class Call:
    """One function call on traced tensors, with what export needs to read it."""

    def __init__(
        self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any, tracer: _Tracer
    ) -> None:
        self.name = name.rstrip("_") if not name.endswith("__") else name
        self.raw = name
        self.args = args
        self.kwargs = kwargs
        self.out = out
        self.tracer = tracer

    @property
    def text(self) -> str:
        return f"torch {self.raw}"

    def arg(self, i: int, name: str, default: Any = None) -> Any:
        if i < len(self.args):
            return self.args[i]
        return self.kwargs.get(name, default)

    def refuse(self, why: str, hint: str | None = None) -> Exception:
        from archcalc.bridge.export.trace import Refusal

        return Refusal(self.tracer.where(), self.text, why, hint=hint)

    def traced(self, t: Any) -> bool:
        return self.tracer.node_of(t) is not None

    def last(self, t: Any) -> bool:
        """Whether ``t`` is a traced tensor moved channels last."""
        return self.tracer.last_of(t) is not None


def parse_args(kind: str, written: dict[str, Any], call: Call) -> Any:
    """The kind's arguments for a functional call, or a refusal saying what the kind refuses."""
    try:
        return kind_args.parse(kind, written)
    except ArchcalcError as err:
        raise call.refuse(f"as {kind} {written}: {err.message}") from None


def convert(call: Call) -> Result:
    """What ``call`` is in a spec (or a Refusal)."""
    handler = _HANDLERS.get(call.name)
    if handler is None:
        raise call.refuse(_WHY.get(call.name, "has no spec form"))
    if call.name not in _RESHAPING:
        flat = [*call.args, *call.kwargs.values()]
        flat += [t for a in flat if isinstance(a, (list, tuple)) for t in a]
        if any(call.tracer.pending_of(t) is not None for t in flat):
            raise call.refuse("reads a tensor in the middle of a reshape a spec cannot say")
    if call.name not in _LAYOUT:
        flat = [*call.args, *call.kwargs.values()]
        flat += [t for a in flat if isinstance(a, (list, tuple)) for t in a]
        if any(call.last(t) for t in flat):
            raise call.refuse(
                "reads a channels-last tensor (after a permute); a spec writes C first, where "
                "only per-position layers (linear, layer norm, activations) and the permute "
                "back read the same"
            )
    return handler(call)


def _x(call: Call) -> torch.Tensor:
    x = call.arg(0, "input")
    if not isinstance(x, torch.Tensor):
        raise call.refuse("expects a tensor first")
    return x


def _one(kind: str, written: dict[str, Any] | None = None) -> Any:
    def handle(call: Call) -> Result:
        return Layers(((kind, dict(written or {}), _x(call)),))

    return handle


def _activation(kind: str, *params: tuple[str, int, Any]) -> Any:
    """An activation whose written arguments are torch's (name, position, default)."""

    def handle(call: Call) -> Result:
        text = {}
        for name, i, default in params:
            v = call.arg(i, name, default)
            if v != default:
                text[name] = float(v) if isinstance(v, (int, float)) else v
        return Layers(((kind, text, _x(call)),))

    return handle


def _hardtanh(call: Call) -> Result:
    lo, hi = call.arg(1, "min_val", -1.0), call.arg(2, "max_val", 1.0)
    if (lo, hi) != (0.0, 6.0):
        raise call.refuse(f"hardtanh({lo}, {hi}) has no spec form; relu6 is hardtanh(0, 6)")
    return Layers((("relu6", {}, _x(call)),))


def _gelu(call: Call) -> Result:
    if call.arg(1, "approximate", "none") != "none":
        raise call.refuse("gelu's tanh approximation has no spec form")
    return Layers((("gelu", {}, _x(call)),))


def _softmax(call: Call) -> Result:
    x = _x(call)
    dim = call.arg(1, "dim")
    if dim is None or dim % x.dim() != 1:
        raise call.refuse(f"softmax over dim {dim}; a spec's softmax is over channels (dim 1)")
    return Layers((("softmax", {}, x),))


def _dropout(kind: str) -> Any:
    def handle(call: Call) -> Result:
        p = float(call.arg(1, "p", 0.5))
        return Layers(((kind, {"p": p}, _x(call)),))

    return handle


def _window(prefix: str, rank: int) -> Any:
    """F.max_poolNd / F.avg_poolNd with torch's arguments, as maxpoolNd / avgpoolNd."""
    is_max = prefix == "max"

    def handle(call: Call) -> Result:
        kernel = call.arg(1, "kernel_size")
        stride = call.arg(2, "stride") or kernel
        text: dict[str, Any] = {
            "kernel": _axes(kernel),
            "stride": _axes(stride),
            "padding": _axes(call.arg(3, "padding", 0)),
        }
        if is_max:
            text["dilation"] = _axes(call.arg(4, "dilation", 1))
            text["ceil_mode"] = bool(call.arg(5, "ceil_mode", False))
            if call.arg(6, "return_indices", False):
                raise call.refuse("returns indices as well; a spec layer returns one tensor")
        else:
            text["ceil_mode"] = bool(call.arg(4, "ceil_mode", False))
            text["count_include_pad"] = bool(call.arg(5, "count_include_pad", True))
            if call.arg(6, "divisor_override") is not None:
                raise call.refuse("divisor_override has no spec form")
        return Layers(((f"{prefix}pool{rank}d", text, _x(call)),))

    return handle


def _adaptive(word: str, rank: int) -> Any:
    def handle(call: Call) -> Result:
        x = _x(call)
        size = call.arg(1, "output_size")
        sizes = list(size) if isinstance(size, (list, tuple)) else [size] * rank
        # torch: None keeps that axis's size
        sizes = [x.shape[2 + a] if s is None else int(s) for a, s in enumerate(sizes)]
        if call.arg(2, "return_indices", False):
            raise call.refuse("returns indices as well; a spec layer returns one tensor")
        return Layers(((f"adaptive_{word}_pool{rank}d", {"output": _axes(sizes)}, x),))

    return handle


def _axes(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        items = [int(i) for i in v]
        return items[0] if all(i == items[0] for i in items) else items
    return int(v)


def _flatten(call: Call) -> Result:
    x = _x(call)
    pend = call.tracer.pending_of(x)
    if pend is not None:
        return _continue_pending(call, pend, tuple(call.out.shape))
    start = call.arg(1, "start_dim", 0)
    end = call.arg(2, "end_dim", -1)
    if x.dim() <= 2 and start % max(x.dim(), 1) in (0, 1):
        return Pass(x)
    if start % x.dim() == 1 and end % x.dim() == x.dim() - 1:
        return Layers((("flatten", {}, x),))
    if start == 0 and x.shape[0] == 1 and end % x.dim() == x.dim() - 1:
        raise call.refuse("flattens the batch dimension too; a spec keeps the batch")
    return _reshape_pending(call, x, tuple(call.out.shape))


def _view(call: Call) -> Result:
    x = call.arg(0, "input")
    shape = tuple(call.out.shape)
    pend = call.tracer.pending_of(x)
    if pend is not None:
        return _continue_pending(call, pend, shape)
    assert isinstance(x, torch.Tensor)
    if shape == tuple(x.shape):
        return Pass(x)
    if len(shape) == 2 and shape[0] == x.shape[0] and x.dim() > 2:
        return Layers((("flatten", {}, x),))
    return _reshape_pending(call, x, shape)


def _reshape_pending(call: Call, x: torch.Tensor, shape: tuple[int, ...]) -> Result:
    """view(N, g, C/g, …): the first step of a channel shuffle, or a reshape a spec cannot say."""
    n, c, *rest = tuple(x.shape)
    if len(shape) == x.dim() + 1 and shape[0] == n and list(shape[3:]) == rest:
        g = shape[1]
        if g * shape[2] == c:
            nid = call.tracer.node_of(x)
            assert nid is not None
            return Pending(nid, g, "split", tuple(x.shape))
    raise call.refuse(
        f"reshapes {_shape_text(x.shape)} to {_shape_text(shape)}; a spec reshapes only by "
        "flatten (and a channel shuffle written as view, transpose, view)"
    )


def _continue_pending(call: Call, pend: Pending, shape: tuple[int, ...]) -> Result:
    if pend.step == "swapped" and shape == pend.shape:
        return Layers((("channel_shuffle", {"groups": pend.groups}, call.args[0]),))
    if call.name == "contiguous":
        return pend
    raise call.refuse(f"reshapes to {_shape_text(shape)}, which no spec layer does")


def _transpose(call: Call) -> Result:
    x = call.arg(0, "input")
    pend = call.tracer.pending_of(x)
    dims = sorted(int(d) % x.dim() for d in (call.arg(1, "dim0"), call.arg(2, "dim1")))
    if pend is not None and pend.step == "split" and dims == [1, 2]:
        return Pending(pend.node, pend.groups, "swapped", pend.shape)
    raise call.refuse("transposes axes; a spec keeps the layout (C, then the spatial axes)")


def _contiguous(call: Call) -> Result:
    x = call.arg(0, "input")
    pend = call.tracer.pending_of(x)
    return pend if pend is not None else Pass(x)


def _permute(call: Call) -> Result:
    """Channels last and back (``x.permute(0, 2, 3, 1)``, then ``(0, 3, 1, 2)``): the
    layout changes, the spec's tensor does not; any other order has no spec form."""
    x = _x(call)
    dims = call.arg(1, "dims")
    if isinstance(dims, int):  # x.permute(0, 2, 3, 1)
        dims = call.args[1:]
    n = x.dim()
    order = [int(d) % n for d in dims]
    if order == list(range(n)):
        return Moved(x, call.last(x))
    to_last = [0, *range(2, n), 1]
    to_first = [0, n - 1, *range(1, n - 1)]
    if n >= 3 and call.last(x) and order == to_first:
        return Moved(x, last=False)
    if n >= 3 and not call.last(x) and order == to_last:
        return Moved(x, last=True)
    raise call.refuse(
        "reorders axes; a spec keeps the layout (C, then the spatial axes), and reads only a "
        "move of the channels last and back (ConvNeXt's)"
    )


def _same(call: Call) -> Result:
    """clone, detach, a dtype-preserving ``to``: the same values."""
    x = call.arg(0, "input")
    pend = call.tracer.pending_of(x)
    if pend is not None:
        return pend
    out = call.out
    if isinstance(out, torch.Tensor) and out.dtype == x.dtype and out.shape == x.shape:
        return Pass(x)
    raise call.refuse("changes the tensor's type; a spec keeps one dtype")


def _mean(call: Call) -> Result:
    x = _x(call)
    dims = call.arg(1, "dim")
    keep = bool(call.arg(2, "keepdim", False))
    if dims is None or x.dim() < 3:
        raise call.refuse("averages over the batch or features; a spec pools spatial axes only")
    dims = [dims] if isinstance(dims, int) else list(dims)
    if sorted(int(d) % x.dim() for d in dims) != list(range(2, x.dim())):
        raise call.refuse(f"averages over dims {dims}; a spec pools over every spatial axis")
    return Layers((("global_avg_pool", {} if not keep else {"flatten": False}, x),))


def _interpolate(call: Call) -> Result:
    x = _x(call)
    size = call.arg(1, "size")
    scale = call.arg(2, "scale_factor")
    mode = call.arg(3, "mode", "nearest")
    align = call.arg(4, "align_corners")
    if call.arg(5, "recompute_scale_factor") or call.arg(6, "antialias", False):
        raise call.refuse("recompute_scale_factor and antialias have no spec form")
    text: dict[str, Any] = {"mode": mode}
    if size is not None:
        text["size"] = _axes(size)
    else:
        values = list(scale) if isinstance(scale, (list, tuple)) else [scale]
        floats = [float(v) for v in values]
        text["scale"] = floats[0] if all(v == floats[0] for v in floats) else floats
    if align:
        text["align_corners"] = True
    return Layers((("upsample", text, x),))


def _pad(call: Call) -> Result:
    x = _x(call)
    pad = [int(p) for p in call.arg(1, "pad")]
    mode = call.arg(2, "mode", "constant")
    value = call.arg(3, "value", None)
    rank = x.dim() - 2
    if len(pad) % 2 or len(pad) // 2 > rank:
        raise call.refuse("pads the channel or batch axes; a spec pads spatial axes only")
    pairs = [[0, 0] for _ in range(rank)]
    for i in range(len(pad) // 2):  # F.pad lists the last axis first
        pairs[rank - 1 - i] = [pad[2 * i], pad[2 * i + 1]]
    text: dict[str, Any] = {"padding": pairs, "mode": mode}
    if value:
        text["value"] = float(value)
    return Layers((("pad", text, x),))


def _pieces(call: Call) -> Result:
    """x.chunk(n, 1) and x.split(s, 1): one layer per piece (chunk / split keep one each)."""
    x = _x(call)
    dim = call.arg(2, "dim", 0)
    if dim % x.dim() != 1:
        raise call.refuse(f"splits dim {dim}; a spec splits channels (dim 1)")
    pieces = list(call.out)
    layers: tuple[tuple[str, dict[str, Any], torch.Tensor], ...]
    if call.name == "chunk":
        chunks = int(call.arg(1, "chunks"))
        layers = tuple(("chunk", {"chunks": chunks, "index": i}, x) for i in range(len(pieces)))
    else:
        sizes = [int(p.shape[1]) for p in pieces]
        layers = tuple(("split", {"sizes": sizes, "index": i}, x) for i in range(len(pieces)))
    return Layers(layers)


def _shuffle(call: Call) -> Result:
    return Layers((("channel_shuffle", {"groups": int(call.arg(1, "groups"))}, _x(call)),))


def _merge(op: str) -> Any:
    def handle(call: Call) -> Result:
        a, b = call.arg(0, "input"), call.arg(1, "other")
        alpha = call.arg(2, "alpha", 1)
        if op == "add" and alpha != 1:
            raise call.refuse(f"adds with alpha={alpha}; a spec's add is a plain sum")
        tensors = [t for t in (a, b) if isinstance(t, torch.Tensor)]
        if len(tensors) == 1:
            other = b if a is tensors[0] else a
            neutral = 0 if op == "add" else 1
            if isinstance(other, (int, float)) and other == neutral:
                return Pass(tensors[0])  # sum([a, b]) starts from 0 + a
            raise call.refuse(
                f"{'adds' if op == 'add' else 'multiplies by'} a constant ({other!r}); "
                "a spec's merges read tensors the network computed"
            )
        if op == "add" and tuple(a.shape) != tuple(b.shape):
            raise call.refuse(
                f"adds {_shape_text(a.shape)} and {_shape_text(b.shape)}, broadcasting; "
                "a spec's add needs equal shapes"
            )
        return Merge(op, (a, b))

    return handle


def _cat(call: Call) -> Result:
    tensors = list(call.arg(0, "tensors"))
    dim = call.arg(1, "dim", 0)
    if dim % tensors[0].dim() != 1:
        raise call.refuse(f"joins on dim {dim}; a spec's cat joins channels (dim 1)")
    if len(tensors) == 1:
        return Pass(tensors[0])
    return Merge("cat", tuple(tensors))


def _shape_text(shape: Any) -> str:
    return "×".join(str(int(d)) for d in shape)


_HANDLERS: dict[str, Any] = {
    "relu": _one("relu"),
    "relu6": _one("relu6"),
    "hardtanh": _hardtanh,
    "silu": _one("silu"),
    "gelu": _gelu,
    "sigmoid": _one("sigmoid"),
    "tanh": _one("tanh"),
    "hardsigmoid": _one("hardsigmoid"),
    "hardswish": _one("hardswish"),
    "mish": _one("mish"),
    "selu": _one("selu"),
    "leaky_relu": _activation("leaky_relu", ("negative_slope", 1, 0.01)),
    "elu": _activation("elu", ("alpha", 1, 1.0)),
    "softplus": _activation("softplus", ("beta", 1, 1.0), ("threshold", 2, 20.0)),
    "softmax": _softmax,
    "dropout": _dropout("dropout"),
    "dropout1d": _dropout("dropout1d"),
    "dropout2d": _dropout("dropout2d"),
    "dropout3d": _dropout("dropout3d"),
    "flatten": _flatten,
    "view": _view,
    "reshape": _view,
    "transpose": _transpose,
    "contiguous": _contiguous,
    "permute": _permute,
    "clone": _same,
    "detach": _same,
    "to": _same,
    "float": _same,
    "mean": _mean,
    "interpolate": _interpolate,
    "upsample": _interpolate,
    "pad": _pad,
    "chunk": _pieces,
    "split": _pieces,
    "channel_shuffle": _shuffle,
    "native_channel_shuffle": _shuffle,
    "add": _merge("add"),
    "__add__": _merge("add"),
    "__radd__": _merge("add"),
    "__iadd__": _merge("add"),
    "mul": _merge("mul"),
    "__mul__": _merge("mul"),
    "__rmul__": _merge("mul"),
    "__imul__": _merge("mul"),
    "cat": _cat,
    "concat": _cat,
    "concatenate": _cat,
    **{f"{p}max_pool{r}d": _window("max", r) for r in (1, 2, 3) for p in ("", "_")},
    **{f"max_pool{r}d_with_indices": _window("max", r) for r in (1, 2, 3)},
    **{f"avg_pool{r}d": _window("avg", r) for r in (1, 2, 3)},
    **{f"adaptive_avg_pool{r}d": _adaptive("avg", r) for r in (1, 2, 3)},
    **{f"adaptive_max_pool{r}d": _adaptive("max", r) for r in (1, 2, 3)},
    **{f"adaptive_max_pool{r}d_with_indices": _adaptive("max", r) for r in (1, 2, 3)},
}

# Refusals that deserve their reason.
_WHY = {
    "unbind": "splits the batch into single images; a spec runs the batch through one graph",
    "__getitem__": "indexes or slices a tensor; a spec slices only by chunk, split and center_crop",
    "sub": "subtracts; a spec's merges are add, mul and cat",
    "__sub__": "subtracts; a spec's merges are add, mul and cat",
    "__rsub__": "subtracts; a spec's merges are add, mul and cat",
    "div": "divides; a spec's merges are add, mul and cat",
    "__truediv__": "divides; a spec's merges are add, mul and cat",
    "matmul": "multiplies matrices of activations (attention); a spec has no such layer",
    "bmm": "multiplies matrices of activations (attention); a spec has no such layer",
}

# What may read a channels-last tensor: the permute back, and copies of the same values.
_LAYOUT = frozenset({"permute", "contiguous"})

# What may read a reshape in progress (a channel shuffle between its views).
_RESHAPING = frozenset({"view", "reshape", "flatten", "transpose", "contiguous", "clone", "detach"})
