"""Hypothesis strategies that draw archcalc specs, for property tests against torch.

:func:`specs` draws *valid* specs; :func:`invalid_specs` draws specs that torch
rejects. Both draw plain dicts in the spec's own structure, what a YAML file
holds and what :func:`archcalc.from_dict` takes, so a falsifying example prints
as a spec you can paste into a file::

    from hypothesis import given
    import archcalc
    from archcalc.testing.strategies import specs

    @given(specs())
    def test_my_rule(spec_dict):
        analysis = archcalc.analyze(archcalc.from_dict(spec_dict))
        ...

Drawing is shape-aware: the running shape is tracked (with torch's rules,
written out here independently of the analyser) so that every drawn layer
fits its input, and sizes stay small (channels ≤ 8, H, W ≤ 24 by default) so
a torch forward pass takes milliseconds. Needs ``hypothesis``; never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from math import prod
from typing import Any

from hypothesis import strategies as st

Shape = tuple[int, ...]
Entry = Any  # one layer as a spec writes it: "relu", {"linear": 10}, {"conv2d": {...}}

# Kinds that keep any input's shape; the image-only ones keep a C×H×W shape.
ELEMENTWISE = (
    "identity",
    "relu",
    "leaky_relu",
    "tanh",
    "sigmoid",
    "gelu",
    "softmax",
    "dropout",
    "relu6",
    "silu",
    "hardswish",
    "hardsigmoid",
    "mish",
    "elu",
    "selu",
    "softplus",
    "prelu",
)
IMAGE_ELEMENTWISE = ("dropout2d",)
# A drawn kind's name in this list only sets how often it is drawn; the first
# entries are the simplest, which is where hypothesis shrinks to.
_IMAGE_KINDS = (
    "elementwise",
    "conv2d",
    "conv2d",
    "conv2d",
    "maxpool2d",
    "avgpool2d",
    "batchnorm2d",
    "adaptive_avg_pool2d",
    "local_response_norm",
    "global_avg_pool",
    "flatten",
)
_FLAT_KINDS = ("elementwise", "linear", "linear", "batchnorm1d", "flatten")
_SAME_SHAPE_KINDS = ("elementwise", "batchnorm")
_COMPOSITES = ("repeat", "residual", "concat")
_MAX_DEPTH = 2  # a composite may hold a composite, not deeper


@dataclass(frozen=True)
class _Limits:
    channels: int
    size: int


# ---------------------------------------------------------------- public strategies


@st.composite
def specs(
    draw: st.DrawFn,
    max_layers: int = 12,
    max_channels: int = 8,
    max_size: int = 24,
    flat_inputs: bool = True,
    composites: bool = True,
) -> dict[str, Any]:
    """A valid spec dict with 1 to ``max_layers`` leaf layers.

    Every kind in :data:`DRAWN_KINDS` appears, with int and pair kernels,
    strides, dilation, ``same`` padding (even kernels included), pooling
    padding and ``ceil_mode``,
    groups, scalar shorthands, residuals (identity or projection shortcut)
    and concats, on non-square inputs; some specs start from a flat input.
    """
    lim = _Limits(max_channels, max_size)
    if flat_inputs and draw(st.sampled_from(("image",) * 9 + ("flat",))) == "flat":
        shape: Shape = (draw(st.integers(1, max_channels)),)
    else:
        shape = (
            draw(st.integers(1, min(4, max_channels))),
            draw(st.integers(1, max_size)),
            draw(st.integers(1, max_size)),
        )
    depth = 0 if composites else _MAX_DEPTH
    layers, _, _ = _sequence(draw, shape, max_layers, depth, lim, keep_rank=False)
    return {"name": "drawn", "input": list(shape), "layers": layers}


@st.composite
def invalid_specs(
    draw: st.DrawFn, max_layers: int = 6, max_channels: int = 8, max_size: int = 24
) -> dict[str, Any]:
    """A spec torch rejects; its last top-level layer is the offending one.

    The layers before it form a valid spec on an image input. The last layer
    collapses the spatial size (conv or pooling larger than the padded input),
    uses groups that do not divide the channels, pads a pooling window by
    more than half its kernel, asks `same` padding of a strided conv, or joins
    concat branches of different H×W.
    """
    lim = _Limits(max_channels, max_size)
    shape: Shape = (
        draw(st.integers(1, min(4, max_channels))),
        draw(st.integers(1, max_size)),
        draw(st.integers(1, max_size)),
    )
    layers: list[Entry] = []
    end = shape
    if max_layers > 1 and draw(st.booleans()):
        layers, end, _ = _sequence(draw, shape, max_layers - 1, 1, lim, keep_rank=True)
    how = draw(
        st.sampled_from(
            (
                "conv_collapse",
                "pool_collapse",
                "groups_in",
                "groups_out",
                "pool_padding",
                "same_stride",
                "concat_mismatch",
            )
        )
    )
    layers.append(_invalid_layer(draw, how, end, lim))
    return {"name": "invalid", "input": list(shape), "layers": layers}


def output_shape(layers: list[Entry], shape: Shape) -> Shape | None:
    """The shape ``layers`` give ``shape`` by torch's rules, or None where torch refuses."""
    for entry in layers:
        out = _entry_shape(entry, shape)
        if out is None:
            return None
        shape = out
    return shape


# ---------------------------------------------------------------- drawing sequences


def _sequence(
    draw: st.DrawFn,
    shape: Shape,
    budget: int,
    depth: int,
    lim: _Limits,
    *,
    keep_rank: bool,
    same_shape: bool = False,
) -> tuple[list[Entry], Shape, int]:
    """Layers for ``shape`` with 1..``budget`` leaves; returns them, the shape after, the leaves.

    Whether to go on is drawn before each further layer (rather than a count
    up front), so that shrinking can delete a layer and keep the rest.
    """
    layers: list[Entry] = []
    used = 0
    while used < budget and (used == 0 or draw(st.integers(0, 9)) > 0):
        entry, leaves = _layer(draw, shape, budget - used, depth, lim, keep_rank, same_shape)
        out = _entry_shape(entry, shape)
        if out is None:  # pragma: no cover - a bug in this module, not in archcalc
            raise AssertionError(f"drew an invalid layer {entry!r} for input {shape}")
        layers.append(entry)
        shape = out
        used += leaves
    return layers, shape, used


def _layer(
    draw: st.DrawFn,
    shape: Shape,
    remaining: int,
    depth: int,
    lim: _Limits,
    keep_rank: bool,
    same_shape: bool,
) -> tuple[Entry, int]:
    image = len(shape) == 3
    if same_shape:
        options: tuple[str, ...] = _SAME_SHAPE_KINDS
    else:
        options = _IMAGE_KINDS if image else _FLAT_KINDS
        if keep_rank:
            options = tuple(o for o in options if o not in ("flatten", "global_avg_pool"))
        if depth < _MAX_DEPTH and remaining >= 2:
            options += _COMPOSITES
    kind = draw(st.sampled_from(options))
    if kind == "repeat":
        return _repeat(draw, shape, remaining, depth, lim)
    if kind == "residual":
        return _residual(draw, shape, remaining, depth, lim)
    if kind == "concat":
        return _concat(draw, shape, remaining, depth, lim)
    return _LEAVES[kind](draw, shape, lim), 1


# ---------------------------------------------------------------- leaf layers


def _fmt(draw: st.DrawFn, a: int, b: int) -> int | list[int]:
    """A pair as the spec may write it: an int when square (mostly), else [h, w]."""
    return [a, b] if a != b or draw(st.booleans()) else a


def _elementwise(draw: st.DrawFn, shape: Shape, lim: _Limits, kind: str | None = None) -> Entry:
    if kind is None:
        kinds = ELEMENTWISE + IMAGE_ELEMENTWISE if len(shape) == 3 else ELEMENTWISE
        kind = draw(st.sampled_from(kinds))
    main = {
        "leaky_relu": ("negative_slope", (0.2, 0.01, 0.5)),
        "dropout": ("p", (0.25, 0.0, 0.5, 1.0)),
        "dropout2d": ("p", (0.25, 0.0, 0.5, 1.0)),
        "elu": ("alpha", (1.0, 0.5, 2.0, 0.0)),
    }
    if kind in main and draw(st.booleans()):
        name, values = main[kind]
        v = draw(st.sampled_from(values))
        return {kind: v} if draw(st.booleans()) else {kind: {name: v}}
    if kind == "softplus" and draw(st.booleans()):
        args = {"beta": draw(st.sampled_from((1.0, 0.5, 2.0)))}
        if draw(st.booleans()):
            args["threshold"] = draw(st.sampled_from((20.0, 1.0, -1.0)))
        return {kind: args}
    if kind == "prelu" and draw(st.booleans()):
        return {kind: {"per_channel": draw(st.booleans())}}
    return kind


def _batchnorm(draw: st.DrawFn, shape: Shape, lim: _Limits) -> Entry:
    kind = "batchnorm2d" if len(shape) == 3 else "batchnorm1d"
    args: dict[str, Any] = {}
    if draw(st.booleans()):
        args["affine"] = draw(st.booleans())
        args["track_running_stats"] = draw(st.booleans())
        args["eps"] = draw(st.sampled_from((1e-5, 1e-3)))
        args["momentum"] = draw(st.sampled_from((0.1, 0.0, 1.0)))
    return {kind: args} if args else kind


def _conv2d(draw: st.DrawFn, shape: Shape, lim: _Limits) -> Entry:
    c, h, w = shape
    groups = draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0]))
    out = groups * draw(st.integers(1, max(1, lim.channels // groups)))
    mode = draw(st.sampled_from(("int", "same", "valid")))
    stride = (1, 1) if mode == "same" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    kernel, pad = [], []
    for n, d in ((h, dilation[0]), (w, dilation[1])):
        if mode == "same":  # any kernel: torch pads d·(k−1) in total
            kernel.append(draw(st.integers(1, 5)))
            continue
        if mode == "valid":
            kernel.append(draw(st.integers(1, min(5, (n - 1) // d + 1))))
            continue
        k = draw(st.integers(1, min(5, (n + 3) // d + 1)))  # fits with padding ≤ 2
        k_eff = d * (k - 1) + 1
        lo = max(0, -(-(k_eff - n) // 2))  # the least padding that fits the window
        hi = max(lo, min(2, (lim.size - n + k_eff - 1) // 2))  # keep H, W ≤ size
        kernel.append(k)
        pad.append(draw(st.integers(lo, hi)))
    args: dict[str, Any] = {"out": out, "kernel": _fmt(draw, kernel[0], kernel[1])}
    if stride != (1, 1):
        args["stride"] = _fmt(draw, *stride)
    if mode != "int":
        args["padding"] = mode
    elif pad != [0, 0] or draw(st.booleans()):
        args["padding"] = _fmt(draw, pad[0], pad[1])
    if dilation != (1, 1):
        args["dilation"] = _fmt(draw, *dilation)
    if groups != 1:
        args["groups"] = groups
    if draw(st.booleans()):
        args["bias"] = False
    return {"conv2d": args}


def _pool(draw: st.DrawFn, shape: Shape, kind: str) -> Entry:
    _, h, w = shape
    maxpool = kind == "maxpool2d"
    kernel, pad, dilation = [], [], []
    for n in (h, w):
        d = draw(st.integers(1, 2)) if maxpool else 1
        # torch allows padding up to half the kernel (not the dilated one)
        fits = [k for k in range(1, 5) if d * (k - 1) + 1 <= n + 2 * (k // 2)]
        k = draw(st.sampled_from(fits))
        lo = max(0, -(-(d * (k - 1) + 1 - n) // 2))
        kernel.append(k)
        pad.append(draw(st.integers(lo, k // 2)))
        dilation.append(d)
    args: dict[str, Any] = {"kernel": _fmt(draw, kernel[0], kernel[1])}
    if draw(st.booleans()):
        args["stride"] = _fmt(draw, draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    if pad != [0, 0]:
        args["padding"] = _fmt(draw, pad[0], pad[1])
    if dilation != [1, 1]:
        args["dilation"] = _fmt(draw, dilation[0], dilation[1])
    if draw(st.booleans()):
        args["ceil_mode"] = True
    if not maxpool and draw(st.booleans()):
        args["count_include_pad"] = False
    if list(args) == ["kernel"] and isinstance(args["kernel"], int) and draw(st.booleans()):
        return {kind: args["kernel"]}  # the scalar shorthand: `maxpool2d: 2`
    return {kind: args}


def _adaptive(draw: st.DrawFn, shape: Shape, lim: _Limits) -> Entry:
    _, h, w = shape
    out = _fmt(draw, draw(st.integers(1, min(6, h + 1))), draw(st.integers(1, min(6, w + 1))))
    return {"adaptive_avg_pool2d": out if draw(st.booleans()) else {"output": out}}


def _lrn(draw: st.DrawFn, shape: Shape, lim: _Limits) -> Entry:
    size = draw(st.integers(1, 5))
    if draw(st.booleans()):
        return {"local_response_norm": size}
    return {"local_response_norm": {"size": size, "alpha": 1e-3, "beta": 0.5, "k": 2.0}}


def _global(draw: st.DrawFn, shape: Shape, lim: _Limits) -> Entry:
    return {"global_avg_pool": {"flatten": False}} if draw(st.booleans()) else "global_avg_pool"


def _linear(draw: st.DrawFn, shape: Shape, lim: _Limits) -> Entry:
    out = draw(st.integers(1, lim.channels))
    return {"linear": {"out": out, "bias": False}} if draw(st.booleans()) else {"linear": out}


_LEAVES: dict[str, Callable[[st.DrawFn, Shape, _Limits], Entry]] = {
    "elementwise": _elementwise,
    **{k: partial(_elementwise, kind=k) for k in ELEMENTWISE + IMAGE_ELEMENTWISE},
    "batchnorm": _batchnorm,
    "batchnorm2d": _batchnorm,
    "batchnorm1d": _batchnorm,
    "conv2d": _conv2d,
    "maxpool2d": lambda draw, shape, lim: _pool(draw, shape, "maxpool2d"),
    "avgpool2d": lambda draw, shape, lim: _pool(draw, shape, "avgpool2d"),
    "adaptive_avg_pool2d": _adaptive,
    "local_response_norm": _lrn,
    "global_avg_pool": _global,
    "flatten": lambda draw, shape, lim: "flatten",
    "linear": _linear,
}

# Every layer kind these strategies draw: what tests/kinds/test_completeness.py
# holds against the registry. A kind is in it only through the drawers above.
DRAWN_KINDS = frozenset(
    {k for k in _LEAVES if k not in ("elementwise", "batchnorm")}
    | set(ELEMENTWISE)
    | set(IMAGE_ELEMENTWISE)
)


@st.composite
def layer(draw: st.DrawFn, kind: str, shape: Shape, max_channels: int = 8) -> Entry:
    """One layer of ``kind`` that fits ``shape``, drawn as :func:`specs` draws it.

    Raises KeyError for a kind no drawer knows; the layer may not fit a shape
    of the wrong rank (conv2d on a flat input): check with :func:`output_shape`.
    """
    size = max([24, *shape[1:]])
    entry: Entry = _LEAVES[kind](draw, shape, _Limits(max_channels, size))
    return entry


# ---------------------------------------------------------------- composites


def _repeat(
    draw: st.DrawFn, shape: Shape, remaining: int, depth: int, lim: _Limits
) -> tuple[Entry, int]:
    body, _, leaves = _sequence(draw, shape, min(2, remaining), depth + 1, lim, keep_rank=True)
    times = draw(st.integers(1, 3))
    # The same arguments must fit every copy's input: keep the copies that do.
    while times > 1 and (leaves * times > remaining or output_shape(body * times, shape) is None):
        times -= 1
    return {"repeat": {"times": times, "layers": body}}, leaves * times


def _residual(
    draw: st.DrawFn, shape: Shape, remaining: int, depth: int, lim: _Limits
) -> tuple[Entry, int]:
    # A projection shortcut costs up to two leaves; without room for it the
    # main branch keeps the shape.
    room = remaining >= 3
    main, out, leaves = _sequence(
        draw,
        shape,
        remaining - 2 if room else remaining,
        depth + 1,
        lim,
        keep_rank=True,
        same_shape=not room,
    )
    args: dict[str, Any] = {"layers": main}
    if out != shape:
        shortcut: list[Entry] = [_bridge(draw, shape, out)]
        if len(out) == 3 and draw(st.booleans()):
            shortcut.append("batchnorm2d")
        args["shortcut"] = shortcut
        leaves += len(shortcut)
    elif room and draw(st.booleans()):
        args["shortcut"] = [_batchnorm(draw, shape, lim)]
        leaves += 1
    return {"residual": args}, leaves


def _concat(
    draw: st.DrawFn, shape: Shape, remaining: int, depth: int, lim: _Limits
) -> tuple[Entry, int]:
    n = draw(st.integers(2, 3)) if remaining >= 3 else 2
    each = remaining // n
    first, target, leaves = _sequence(draw, shape, each, depth + 1, lim, keep_rank=True)
    branches = [first]
    for _ in range(n - 1):
        if each >= 2 or len(shape) == 1:
            body, out, used = _sequence(
                draw,
                shape,
                each - 1 if len(shape) == 3 else each,
                depth + 1,
                lim,
                keep_rank=True,
            )
        else:
            body, out, used = [], shape, 0
        if len(shape) == 3 and out[1:] != target[1:]:
            body = [*body, _bridge(draw, out, (draw(st.integers(1, lim.channels)), *target[1:]))]
            used += 1
        elif not body:
            body, used = [_elementwise(draw, shape, lim)], 1
        branches.append(body)
        leaves += used
    return {"concat": branches}, leaves


def _bridge(draw: st.DrawFn, shape: Shape, target: Shape) -> Entry:
    """One layer that turns ``shape`` into ``target`` (a conv, or a linear when flat)."""
    if len(shape) == 1:
        return {"linear": target[0]}
    kernel, stride, pad = [], [], []
    for n, o in zip(shape[1:], target[1:], strict=True):
        top = max(2, (o - n + 1) // 2)
        fits = [
            (k, s, p)
            for s in range(1, 4)
            for p in range(top + 1)
            for k in range(1, n + 2 * p + 1)
            if (n + 2 * p - k) // s + 1 == o
        ]
        k, s, p = draw(st.sampled_from(fits))
        kernel.append(k)
        stride.append(s)
        pad.append(p)
    return {
        "conv2d": {
            "out": target[0],
            "kernel": _fmt(draw, kernel[0], kernel[1]),
            "stride": _fmt(draw, stride[0], stride[1]),
            "padding": _fmt(draw, pad[0], pad[1]),
            "bias": False,
        }
    }


# ---------------------------------------------------------------- invalid layers


def _invalid_layer(draw: st.DrawFn, how: str, shape: Shape, lim: _Limits) -> Entry:
    c, h, w = shape
    if how == "groups_out" and not any(c % g == 0 for g in range(2, c + 1)):
        how = "groups_in"  # one channel: every groups ≥ 2 fails on the input instead
    if how == "conv_collapse":
        d = draw(st.integers(1, 2))
        p = draw(st.integers(0, 1))
        axis = draw(st.sampled_from(("h", "w", "both")))
        ks = [
            (n + 2 * p - 1) // d + 2 + draw(st.integers(0, 2))
            if axis in (name, "both")
            else draw(st.integers(1, max(1, (n + 2 * p - 1) // d + 1)))
            for name, n in (("h", h), ("w", w))
        ]
        return {
            "conv2d": {
                "out": draw(st.integers(1, lim.channels)),
                "kernel": _fmt(draw, ks[0], ks[1]),
                "padding": p,
                "dilation": d,
            }
        }
    if how == "pool_collapse":
        kind = draw(st.sampled_from(("maxpool2d", "avgpool2d")))
        axis = draw(st.sampled_from(("h", "w", "both")))
        ks = [
            n + 1 + draw(st.integers(0, 2)) if axis in (name, "both") else 1
            for name, n in (("h", h), ("w", w))
        ]
        return {kind: {"kernel": _fmt(draw, ks[0], ks[1]), "stride": 1}}
    if how == "groups_in":
        g = draw(st.sampled_from([g for g in range(2, c + 3) if c % g]))
        return {"conv2d": {"out": g * draw(st.integers(1, 2)), "kernel": 1, "groups": g}}
    if how == "groups_out":
        g = draw(st.sampled_from([g for g in range(2, c + 1) if c % g == 0]))
        out = draw(st.sampled_from([o for o in range(1, 2 * g + 1) if o % g]))
        return {"conv2d": {"out": out, "kernel": 1, "groups": g}}
    if how == "pool_padding":
        k = draw(st.integers(1, 3))
        p = k // 2 + draw(st.integers(1, 2))
        kind = draw(st.sampled_from(("maxpool2d", "avgpool2d")))
        return {kind: {"kernel": k, "stride": 1, "padding": _fmt(draw, p, draw(st.integers(0, p)))}}
    if how == "same_stride":
        stride = _fmt(draw, draw(st.integers(2, 3)), draw(st.integers(1, 3)))
        return {"conv2d": {"out": 2, "kernel": 3, "padding": "same", "stride": stride}}
    assert how == "concat_mismatch"
    grow = _fmt(draw, draw(st.integers(0, 2)), draw(st.integers(1, 2)))
    return {
        "concat": [
            [{"conv2d": {"out": 2, "kernel": 1}}],
            [{"conv2d": {"out": 3, "kernel": 1, "padding": grow}}],
        ]
    }


# ---------------------------------------------------------------- torch's shape rules


def _split(entry: Entry) -> tuple[str, Any]:
    if isinstance(entry, str):
        return entry, {}
    ((kind, args),) = entry.items()
    return kind, args


_MAIN_ARG = {
    "dropout2d": "p",
    "elu": "alpha",
    "softplus": "beta",
    "maxpool2d": "kernel",
    "avgpool2d": "kernel",
    "adaptive_avg_pool2d": "output",
    "linear": "out",
    "dropout": "p",
    "leaky_relu": "negative_slope",
    "local_response_norm": "size",
}


def _pair(v: Any, default: int) -> tuple[int, int]:
    if v is None:
        return default, default
    return (v, v) if isinstance(v, int) else (v[0], v[1])


def _entry_shape(entry: Entry, shape: Shape) -> Shape | None:
    kind, args = _split(entry)
    if kind == "repeat":
        return output_shape(args["layers"] * args["times"], shape)
    if kind == "residual":
        main = output_shape(args["layers"], shape)
        short = output_shape(args.get("shortcut") or [], shape)
        return main if main is not None and main == short else None
    if kind == "concat":
        outs = [output_shape(branch, shape) for branch in args]
        known = [o for o in outs if o is not None]
        if len(known) < len(outs) or any(o[1:] != known[0][1:] for o in known):
            return None  # torch.cat needs equal sizes off the channel axis
        return (sum(o[0] for o in known), *known[0][1:])
    if not isinstance(args, dict):
        args = {_MAIN_ARG[kind]: args}
    image = len(shape) == 3
    if kind == "conv2d":
        return _conv_shape(args, shape) if image else None
    if kind in ("maxpool2d", "avgpool2d"):
        return _pool_shape(args, shape) if image else None
    if kind == "adaptive_avg_pool2d":
        return (shape[0], *_pair(args["output"], 0)) if image else None
    if kind == "global_avg_pool":
        return None if not image else (shape[0],) if args.get("flatten", True) else (shape[0], 1, 1)
    if kind in ("batchnorm2d", "local_response_norm", *IMAGE_ELEMENTWISE):
        return shape if image else None
    if kind in ("batchnorm1d", "linear"):
        return None if image else (args["out"],) if kind == "linear" else shape
    if kind == "flatten":
        return (prod(shape),)
    return shape  # elementwise


def _conv_shape(args: dict[str, Any], shape: Shape) -> Shape | None:
    c, h, w = shape
    groups = args.get("groups", 1)
    if c % groups or args["out"] % groups:
        return None
    kernel = _pair(args["kernel"], 0)
    stride = _pair(args.get("stride"), 1)
    dilation = _pair(args.get("dilation"), 1)
    padding = args.get("padding", 0)
    if padding == "same" and stride != (1, 1):
        return None
    out = []
    for n, k, s, d, axis in zip((h, w), kernel, stride, dilation, (0, 1), strict=True):
        k_eff = d * (k - 1) + 1
        total = (
            {"same": k_eff - 1, "valid": 0}.get(padding)
            if isinstance(padding, str)
            else 2 * _pair(padding, 0)[axis]
        )
        assert total is not None
        if n + total < k_eff:
            return None
        out.append((n + total - k_eff) // s + 1)
    return (args["out"], out[0], out[1])


def _pool_shape(args: dict[str, Any], shape: Shape) -> Shape | None:
    c, h, w = shape
    kernel = _pair(args["kernel"], 0)
    stride = _pair(args.get("stride"), 0) if args.get("stride") is not None else kernel
    padding = _pair(args.get("padding"), 0)
    dilation = _pair(args.get("dilation"), 1)
    ceil = args.get("ceil_mode", False)
    out = []
    for n, k, s, p, d in zip((h, w), kernel, stride, padding, dilation, strict=True):
        if p > k // 2:
            return None
        k_eff = d * (k - 1) + 1
        # aten/src/ATen/native/Pool.h: pooling_output_shape_pad_lr
        o = (n + 2 * p - k_eff + (s - 1 if ceil else 0)) // s + 1
        if ceil and (o - 1) * s >= n + p:
            o -= 1
        if o < 1:
            return None
        out.append(o)
    return (c, out[0], out[1])
