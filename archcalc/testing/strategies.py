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

Inputs are flat ([F]), C×L, C×H×W or C×D×H×W, and every registered kind that
fits a rank is drawn on it; the top-level list may also name tensors (``from:``,
skips that ``add`` an earlier tensor, gates that ``mul`` by a C×1×1 or 1×H×W
sigmoid, ``cat`` of branches). Drawing is shape-aware: the running shape is
tracked (with torch's rules, written out here independently of the analyser) so
that every drawn layer fits its input, and sizes stay small (channels ≤ 8,
sides ≤ 24, 3-D sides ≤ 6 by default) so a torch forward pass takes
milliseconds. Needs ``hypothesis``; never imports torch.

Each kind is one :class:`Drawer` in :data:`DRAWERS`: how to draw it for an
input, torch's shape rule for it, the ranks it takes. A new kind adds one entry
there (and :data:`DRAWN_KINDS`, which tests/kinds/test_completeness.py holds
against the registry, follows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from math import prod
from typing import Any

from hypothesis import strategies as st

Shape = tuple[int, ...]
Entry = Any  # one layer as a spec writes it: "relu", {"linear": 10}, {"conv2d": {...}}

# Spatial ranks, as the drawers name them: 0 is a flat vector, 1 C×L, 2 C×H×W, 3 C×D×H×W.
FLAT: tuple[int, ...] = (0,)
MAPS: tuple[int, ...] = (1, 2, 3)
ANY: tuple[int, ...] = (0, 1, 2, 3)

# Kinds that keep any input's shape and read no window.
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
# How often each family is drawn among those that fit, in shrinking order:
# hypothesis shrinks towards the first, the simplest. A family not listed
# here is drawn with weight 1, after these.
_FAMILIES = {
    "elementwise": 3,  # many kinds, each cheap: drawn often enough to meet them all
    "conv": 3,
    "pool": 2,
    "norm": 2,
    "adaptive": 1,
    "global": 1,
    "flatten": 1,
    "linear": 2,
    "resample": 2,
    "crop": 1,
    "channels": 1,
}
_COMPOSITES = ("repeat", "residual", "concat")
_MERGES = ("add", "mul", "cat")
_MAX_DEPTH = 2  # a composite may hold a composite, not deeper
# The top-level moves of a graph spec; "layer" (a plain layer or composite) first.
_MOVES = ("layer",) * 6 + ("from", "add", "mul", "cat")


@dataclass(frozen=True)
class Limits:
    """What a drawer may produce: channels, the largest side it grows a map to, and
    whether the input's rank must stay (inside composites: no flattening)."""

    channels: int
    size: int
    keep_rank: bool = False


DrawFn = Callable[[st.DrawFn, str, Shape, Limits], Entry]
# Torch's output shape for a layer's arguments (a mapping, shorthand expanded)
# on an input of one of the drawer's ranks; None where torch refuses.
ShapeRule = Callable[[dict[str, Any], Shape], Shape | None]


@dataclass(frozen=True)
class Drawer:
    """One kind, for the strategies: how to draw it, and what torch makes of it.

    ``draw`` gives a layer that fits the input (of a rank in ``ranks``);
    ``rule`` is torch's shape rule; ``main`` the argument a scalar shorthand
    sets; ``keeps_shape`` marks kinds a shape-keeping path may draw (a residual
    with no room for a projection); ``flattens`` kinds that always make a map
    flat, never drawn where the rank must stay.
    """

    draw: DrawFn
    rule: ShapeRule
    ranks: tuple[int, ...]
    family: str
    main: str | None = None
    keeps_shape: bool = False
    flattens: bool = False


# ---------------------------------------------------------------- public strategies


def _rank(shape: Shape) -> int:
    return len(shape) - 1


def _side_limit(rank: int, max_size: int) -> int:
    # A 3-D map's elements grow with the cube of its side: keep them tiny.
    return max(2, max_size // 4) if rank == 3 else max_size


@st.composite
def shapes(draw: st.DrawFn, rank: int, max_channels: int = 4, max_size: int = 24) -> Shape:
    """An input of ``rank`` spatial axes (0: a flat vector of up to 2·max_channels features)."""
    if rank == 0:
        return (draw(st.integers(1, 2 * max_channels)),)
    side = _side_limit(rank, max_size)
    return (
        draw(st.integers(1, max_channels)),
        *(draw(st.integers(1, side)) for _ in range(rank)),
    )


@st.composite
def specs(
    draw: st.DrawFn,
    max_layers: int = 12,
    max_channels: int = 8,
    max_size: int = 24,
    flat_inputs: bool = True,
    composites: bool = True,
    ranks: Sequence[int] = MAPS,
    graphs: bool = True,
    several_outputs: bool = False,
) -> dict[str, Any]:
    """A valid spec dict with 1 to ``max_layers`` leaf layers.

    The input has one of ``ranks`` spatial axes (C×L, C×H×W, C×D×H×W; most
    often C×H×W), or is flat with ``flat_inputs``. Every kind in
    :data:`DRAWN_KINDS` that fits the running rank appears, with int and
    per-axis kernels, strides, dilation, ``same`` padding (even kernels
    included), pooling padding and ``ceil_mode``, groups, scalar shorthands,
    residuals (identity or projection shortcut), concats and repeats, on
    non-square inputs. With ``graphs`` the top-level list also names tensors:
    layers that read an earlier one (``from:``), ``add`` skips, ``mul`` gates
    and ``cat`` joins, with default names (``conv2d_3``) and written ones; with
    ``several_outputs`` some specs list two ``outputs`` (``archcalc.build``
    then returns a tuple).
    """
    # Most inputs are C×H×W, the familiar case, which is also where shrinking goes.
    weights = {2: 9, 1: 5, 3: 4, 0: 2}
    allowed = [*ranks, *FLAT] if flat_inputs else list(ranks)
    rank = draw(
        st.sampled_from([r for r in (2, 1, 3, 0) if r in allowed for _ in range(weights[r])])
    )
    shape = draw(shapes(rank, min(4, max_channels), max_size))
    lim = Limits(max_channels, _side_limit(max(rank, 1), max_size))
    depth = 0 if composites else _MAX_DEPTH
    spec: dict[str, Any] = {"name": "drawn", "input": list(shape)}
    if graphs:
        layers, env = _graph(draw, shape, max_layers, depth, lim)
        spec["layers"] = layers
        names = [name for name, _ in env[1:]]
        if several_outputs and len(names) >= 2 and draw(st.integers(0, 4)) == 0:
            spec["outputs"] = draw(
                st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True)
            )
    else:
        spec["layers"], _, _ = _sequence(draw, shape, max_layers, depth, lim)
    return spec


@st.composite
def invalid_specs(
    draw: st.DrawFn, max_layers: int = 6, max_channels: int = 8, max_size: int = 24
) -> dict[str, Any]:
    """A spec torch rejects; its last top-level layer is the offending one.

    The layers before it form a valid spec on a C×L, C×H×W or C×D×H×W input.
    The last layer collapses a spatial size (conv or pooling larger than the
    padded input), uses groups that do not divide the channels, pads a pooling
    window by more than half its kernel,
    joins concat branches of different sizes, asks AvgPool3d for a kernel
    larger than the input (torch refuses it even where padding fits it),
    instance-normalises one position per channel, pixel-shuffles channels
    that are no multiple of r², gives a transposed conv an output_padding of
    its stride or dilation, reflects an axis past its size, or interpolates
    linearly at another rank than the mode's.
    """
    rank = draw(st.sampled_from((2, 1, 3)))
    shape = draw(shapes(rank, min(4, max_channels), max_size))
    lim = Limits(max_channels, _side_limit(rank, max_size), keep_rank=True)
    layers: list[Entry] = []
    end = shape
    if max_layers > 1 and draw(st.booleans()):
        layers, end, _ = _sequence(draw, shape, max_layers - 1, 1, lim)
    how = draw(
        st.sampled_from(
            (
                "conv_collapse",
                "pool_collapse",
                "groups_in",
                "groups_out",
                "pool_padding",
                "concat_mismatch",
                "avgpool3d_small",
                "instancenorm_one",
                "shuffle_channels",
                "output_padding",
                "reflect_pad",
                "interpolation_rank",
            )
        )
    )
    if how == "instancenorm_one":
        pool = draw(st.sampled_from(("adaptive_avg_pool", "adaptive_max_pool")))
        layers.append({f"{pool}{len(end) - 1}d": 1})
        end = (end[0], *(1 for _ in end[1:]))
    layers.append(_invalid_layer(draw, how, end, lim))
    return {"name": "invalid", "input": list(shape), "layers": layers}


@st.composite
def layer(draw: st.DrawFn, kind: str, shape: Shape, max_channels: int = 8) -> Entry:
    """One layer of ``kind`` that fits ``shape``, drawn as :func:`specs` draws it.

    Raises KeyError for a kind no drawer knows. ``shape`` must have one of the
    kind's ranks (:func:`kind_ranks`): conv2d cannot be drawn for a flat input.
    """
    size = max([24, *shape[1:]])
    entry: Entry = DRAWERS[kind].draw(draw, kind, shape, Limits(max_channels, size))
    return entry


def kind_ranks(kind: str) -> tuple[int, ...]:
    """The input ranks ``kind`` is drawn on: 0 flat, 1 C×L, 2 C×H×W, 3 C×D×H×W."""
    return DRAWERS[kind].ranks


def output_shape(layers: list[Entry], shape: Shape) -> Shape | None:
    """The shape ``layers`` give ``shape`` by torch's rules, or None where torch refuses.

    For a list without names: a layer reading ``from:`` another tensor, or a
    merge, needs the graph (their shapes are the drawer's to track).
    """
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
    lim: Limits,
    *,
    same_shape: bool = False,
) -> tuple[list[Entry], Shape, int]:
    """Layers for ``shape`` with 1..``budget`` leaves; returns them, the shape after, the leaves.

    Whether to go on is drawn before each further layer (rather than a count
    up front), so that shrinking can delete a layer and keep the rest.
    """
    layers: list[Entry] = []
    used = 0
    while used < budget and (used == 0 or draw(st.integers(0, 9)) > 0):
        entry, leaves = _layer(draw, shape, budget - used, depth, lim, same_shape)
        out = _checked(entry, shape)
        layers.append(entry)
        shape = out
        used += leaves
    return layers, shape, used


def _checked(entry: Entry, shape: Shape) -> Shape:
    out = _entry_shape(entry, shape)
    if out is None:  # pragma: no cover - a bug in this module, not in archcalc
        raise AssertionError(f"drew an invalid layer {entry!r} for input {shape}")
    return out


def _menu(rank: int, keep_rank: bool, same_shape: bool) -> list[tuple[str, tuple[str, ...]]]:
    """(family, its kinds that fit) per family, each repeated by its weight."""
    out = []
    for family in _FAMILY_ORDER:
        kinds = tuple(
            name
            for name, d in DRAWERS.items()
            if d.family == family
            and rank in d.ranks
            and not (keep_rank and d.flattens)
            and (d.keeps_shape or not same_shape)
        )
        if kinds:
            out += [(family, kinds)] * _FAMILIES.get(family, 1)
    return out


def _layer(
    draw: st.DrawFn,
    shape: Shape,
    remaining: int,
    depth: int,
    lim: Limits,
    same_shape: bool,
) -> tuple[Entry, int]:
    menu: list[tuple[str, tuple[str, ...]] | str] = list(
        _MENUS[_rank(shape), lim.keep_rank, same_shape]
    )
    if not same_shape and depth < _MAX_DEPTH and remaining >= 2:
        menu += _COMPOSITES
    pick = draw(st.sampled_from(menu))
    if pick == "repeat":
        return _repeat(draw, shape, remaining, depth, lim)
    if pick == "residual":
        return _residual(draw, shape, remaining, depth, lim)
    if pick == "concat":
        return _concat(draw, shape, remaining, depth, lim)
    assert not isinstance(pick, str)
    kind = draw(st.sampled_from(pick[1]))
    return DRAWERS[kind].draw(draw, kind, shape, lim), 1


# ---------------------------------------------------------------- graphs of named tensors


def _name_of(entry: Entry, index: int) -> str:
    """The tensor name an entry at ``index`` of the top-level list gives its output."""
    kind, args = _split(entry)
    if isinstance(args, dict) and "name" in args:
        return str(args["name"])
    return f"{kind}_{index}"  # docs/spec.md: unnamed layers are named kind_position


def _with_args(entry: Entry, **extra: Any) -> Entry:
    """``entry`` in its mapping form with ``extra`` arguments added (name, from)."""
    kind, args = _split(entry)
    if kind in _MERGES and isinstance(args, list):
        args = {"from": args}
    elif not isinstance(args, dict):
        main = DRAWERS[kind].main if kind in DRAWERS else None
        assert main is not None, entry
        args = {main: args}
    return {kind: {**args, **extra}}


def _graph(
    draw: st.DrawFn, shape: Shape, budget: int, depth: int, lim: Limits
) -> tuple[list[Entry], list[tuple[str, Shape]]]:
    """A top-level list whose layers may name and read earlier tensors.

    Returns the layers and every tensor they define, ("input", shape) first.
    Each entry (merges included) counts one leaf towards ``budget``, a
    composite its leaves.
    """
    layers: list[Entry] = []
    env: list[tuple[str, Shape]] = [("input", shape)]

    def emit(entry: Entry, out: Shape) -> None:
        # Some outputs get a written name; the rest are read by their default names.
        if _split(entry)[0] != "concat" and draw(st.integers(0, 3)) == 0:
            entry = _with_args(entry, name=f"t{len(layers)}")
        env.append((_name_of(entry, len(layers)), out))
        layers.append(entry)

    used = 0
    while used < budget and (used == 0 or draw(st.integers(0, 9)) > 0):
        prev_name, prev = env[-1]
        move = draw(st.sampled_from(_MOVES))
        same_rank = [(n, s) for n, s in env[:-1] if len(s) == len(prev)]
        if move == "from" and len(env) > 1:
            name, src = draw(st.sampled_from(env[:-1]))
            entry = _leaf(draw, src, lim)
            emit(_with_args(entry, **{"from": name}), _checked(entry, src))
            used += 1
        elif move in ("add", "cat") and same_rank and budget - used >= 2:
            name, src = draw(st.sampled_from(same_rank))
            fits = src == prev if move == "add" else src[1:] == prev[1:]
            if not fits or draw(st.integers(0, 3)) == 0:
                target = prev if move == "add" else (draw(st.integers(1, lim.channels)), *prev[1:])
                bridge = _bridge(draw, src, target)
                emit(_with_args(bridge, **{"from": name}), target)
                name, src = env[-1]
                used += 1
            names = [prev_name, name]
            if draw(st.integers(0, 4)) == 0:
                names.append(draw(st.sampled_from(names)))
            names = draw(st.permutations(names))
            out = prev if move == "add" else (sum(env_shape(env, n)[0] for n in names), *prev[1:])
            emit({move: {"from": names}} if draw(st.booleans()) else {move: names}, out)
            used += 1
        elif move == "mul" and len(prev) > 1 and budget - used >= 3:
            gate, leaves = _gate(draw, prev, budget - used - 1, lim)
            for entry in gate:
                emit(entry, _checked(entry, env[-1][1]))
            names = draw(st.permutations([prev_name, env[-1][0]]))
            emit({"mul": names}, prev)
            used += leaves + 1
        else:
            entry, leaves = _layer(draw, prev, budget - used, depth, lim, False)
            emit(entry, _checked(entry, prev))
            used += leaves
    return layers, env


def env_shape(env: list[tuple[str, Shape]], name: str) -> Shape:
    """The shape of the tensor ``name`` in a drawn graph's environment (the last of that name)."""
    return next(s for n, s in reversed(env) if n == name)


def _gate(draw: st.DrawFn, shape: Shape, budget: int, lim: Limits) -> tuple[list[Entry], int]:
    """Layers from ``shape`` to a sigmoid gate a ``mul`` broadcasts over it.

    A channel gate (squeeze-and-excitation: global pooling without flatten,
    1×1 convs, C or 1 channels) or a spatial one (a `same` conv to one channel).
    """
    c, rank = shape[0], _rank(shape)
    conv = f"conv{rank}d"
    squash = draw(st.sampled_from(("sigmoid", "hardsigmoid")))
    if draw(st.integers(0, 3)) == 0:  # spatial: one channel, the map's size
        k = draw(st.sampled_from((1, 3)))
        return [{conv: {"out": 1, "kernel": k, "padding": "same"}}, squash], 2
    pool = draw(st.sampled_from(("global_avg_pool",) * 3 + ("global_max_pool",)))
    layers: list[Entry] = [{pool: {"flatten": False}}]
    room = budget - 2
    convs = draw(st.sampled_from([n for n in (0, 1, 2) if n + (n == 2) <= room]))
    if convs == 2:  # squeeze, then excite back to C (or 1) channels
        squeeze = draw(st.integers(1, max(1, c // 2)))
        layers += [{conv: {"out": squeeze, "kernel": 1}}, "relu"]
    if convs:
        layers.append({conv: {"out": draw(st.sampled_from((c, 1))), "kernel": 1}})
    layers.append(squash)
    return layers, len(layers)


# ---------------------------------------------------------------- leaf layers


def _leaf(draw: st.DrawFn, shape: Shape, lim: Limits, same_shape: bool = False) -> Entry:
    """One plain layer (no composite) that fits ``shape`` (and keeps it, with ``same_shape``)."""
    _, kinds = draw(st.sampled_from(_MENUS[_rank(shape), lim.keep_rank, same_shape]))
    kind = draw(st.sampled_from(kinds))
    return DRAWERS[kind].draw(draw, kind, shape, lim)


def _fmt(draw: st.DrawFn, values: Sequence[int]) -> int | list[int]:
    """Per-axis values as a spec may write them: one int when equal (mostly), else a list."""
    if all(v == values[0] for v in values) and draw(st.booleans()):
        return values[0]
    return list(values)


# Values drawn for an elementwise kind's main argument (its Drawer's ``main``).
_MAIN_VALUES = {
    "leaky_relu": (0.2, 0.01, 0.5),
    "elu": (1.0, 0.5, 2.0, 0.0),
    **{d: (0.25, 0.0, 0.5, 1.0) for d in ("dropout", "dropout1d", "dropout2d", "dropout3d")},
}


def _elementwise(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    if kind in _MAIN_VALUES and draw(st.booleans()):
        v = draw(st.sampled_from(_MAIN_VALUES[kind]))
        return {kind: v} if draw(st.booleans()) else {kind: {DRAWERS[kind].main: v}}
    if kind == "softplus" and draw(st.booleans()):
        args = {"beta": draw(st.sampled_from((1.0, 0.5, 2.0)))}
        if draw(st.booleans()):
            args["threshold"] = draw(st.sampled_from((20.0, 1.0, -1.0)))
        return {kind: args}
    if kind == "prelu" and draw(st.booleans()):
        return {kind: {"per_channel": draw(st.booleans())}}
    return kind


def _batchnorm(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    args: dict[str, Any] = {}
    if draw(st.booleans()):
        args["affine"] = draw(st.booleans())
        args["track_running_stats"] = draw(st.booleans())
        args["eps"] = draw(st.sampled_from((1e-5, 1e-3)))
        args["momentum"] = draw(st.sampled_from((0.1, 0.0, 1.0)))
    return {kind: args} if args else kind


def _conv(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    c, sizes = shape[0], shape[1:]
    groups = draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0]))
    out = groups * draw(st.integers(1, max(1, lim.channels // groups)))
    mode = draw(st.sampled_from(("int", "sides", "same", "valid")))
    ones = [1] * len(sizes)
    # `same` at any stride is TensorFlow's split (⌈n/s⌉ outputs); stride 1 is torch's same
    stride = [draw(st.integers(1, 3)) for _ in sizes]
    dilation = [draw(st.integers(1, 3)) for _ in sizes]
    kernel: list[int] = []
    pad: list[Any] = []  # an int, or [before, after], per axis
    for n, d in zip(sizes, dilation, strict=True):
        if mode == "same":  # any kernel: torch pads d·(k−1) in total
            kernel.append(draw(st.integers(1, 5)))
            continue
        if mode == "valid":
            kernel.append(draw(st.integers(1, min(5, (n - 1) // d + 1))))
            continue
        k = draw(st.integers(1, min(5, (n + 3) // d + 1)))  # fits with padding ≤ 2
        k_eff = d * (k - 1) + 1
        lo = max(0, -(-(k_eff - n) // 2))  # the least padding that fits the window
        hi = max(lo, min(2, (lim.size - n + k_eff - 1) // 2))  # keep sides ≤ size
        kernel.append(k)
        if mode == "sides":  # each side at least the even padding that fits the window
            pad.append([draw(st.integers(lo, hi)), draw(st.integers(lo, hi))])
        else:
            pad.append(draw(st.integers(lo, hi)))
    args: dict[str, Any] = {"out": out, "kernel": _fmt(draw, kernel)}
    if stride != ones:
        args["stride"] = _fmt(draw, stride)
    if mode == "sides":
        args["padding"] = pad
    elif mode != "int":
        args["padding"] = mode
    elif any(pad) or draw(st.booleans()):
        args["padding"] = _fmt(draw, pad)
    if dilation != ones:
        args["dilation"] = _fmt(draw, dilation)
    if groups != 1:
        args["groups"] = groups
    if draw(st.booleans()):
        args["bias"] = False
    return {kind: args}


def _pool(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    is_max = kind.startswith("max")
    kernel: list[int] = []
    pad: list[Any] = []  # an int, or [before, after], per axis
    dilation: list[int] = []
    for n in shape[1:]:
        d = draw(st.integers(1, 2)) if is_max else 1
        # torch allows padding up to half the kernel (not the dilated one); AvgPool3d
        # wants the kernel within the input, padding or not
        fits = [
            k
            for k in range(1, 5)
            if d * (k - 1) + 1 <= n + 2 * (k // 2) and (k <= n or kind != "avgpool3d")
        ]
        k = draw(st.sampled_from(fits))
        lo = max(0, -(-(d * (k - 1) + 1 - n) // 2))
        kernel.append(k)
        if draw(st.integers(0, 3)) == 0:  # per side (TensorFlow's), each side fitting
            pad.append([draw(st.integers(lo, k // 2)), draw(st.integers(lo, k // 2))])
        else:
            pad.append(draw(st.integers(lo, k // 2)))
        dilation.append(d)
    args: dict[str, Any] = {"kernel": _fmt(draw, kernel)}
    if draw(st.booleans()):
        args["stride"] = _fmt(draw, [draw(st.integers(1, 3)) for _ in kernel])
    per_side = any(isinstance(p, list) for p in pad)
    if per_side:
        args["padding"] = pad
    elif any(pad):
        args["padding"] = _fmt(draw, pad)
    if any(d != 1 for d in dilation):
        args["dilation"] = _fmt(draw, dilation)
    uneven = any(isinstance(p, list) and p[0] != p[1] for p in pad)
    if not uneven and draw(st.booleans()):  # archcalc refuses ceil_mode with uneven sides
        args["ceil_mode"] = True
    if not is_max and draw(st.booleans()):
        args["count_include_pad"] = False
    if list(args) == ["kernel"] and isinstance(args["kernel"], int) and draw(st.booleans()):
        return {kind: args["kernel"]}  # the scalar shorthand: `maxpool2d: 2`
    return {kind: args}


def _adaptive(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    out = _fmt(draw, [draw(st.integers(1, min(6, n + 1))) for n in shape[1:]])
    return {kind: out if draw(st.booleans()) else {"output": out}}


def _lrn(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    size = draw(st.integers(1, 5))
    if draw(st.booleans()):
        return {kind: size}
    return {kind: {"size": size, "alpha": 1e-3, "beta": 0.5, "k": 2.0}}


def _global(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    if lim.keep_rank or draw(st.booleans()):
        return {kind: {"flatten": False}}
    return kind


def _linear(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    out = draw(st.integers(1, lim.channels))
    return {"linear": {"out": out, "bias": False}} if draw(st.booleans()) else {"linear": out}


# ---------------------------------------------------------------- torch's shape rules


def _axes(v: Any, rank: int, default: int) -> tuple[int, ...]:
    if v is None:
        return (default,) * rank
    return (v,) * rank if isinstance(v, int) else tuple(v)


def _same(args: dict[str, Any], shape: Shape) -> Shape:
    return shape


def _conv_shape(args: dict[str, Any], shape: Shape) -> Shape | None:
    c, sizes = shape[0], shape[1:]
    rank = len(sizes)
    groups = args.get("groups", 1)
    if c % groups or args["out"] % groups:
        return None
    kernel = _axes(args["kernel"], rank, 0)
    stride = _axes(args.get("stride"), rank, 1)
    dilation = _axes(args.get("dilation"), rank, 1)
    padding = args.get("padding", 0)
    if len(kernel) != rank:
        return None
    pairs = None if isinstance(padding, str) else _pad_pairs(_axes_or_pairs(padding, rank), rank)
    out = []
    for axis, (n, k, s, d) in enumerate(zip(sizes, kernel, stride, dilation, strict=True)):
        k_eff = d * (k - 1) + 1
        if padding == "same":  # TensorFlow: ⌈n/s⌉ outputs
            out.append(-(-n // s))
            continue
        total = 0 if pairs is None else sum(pairs[axis])
        if n + total < k_eff:
            return None
        out.append((n + total - k_eff) // s + 1)
    return (args["out"], *out)


def _pool_shape(args: dict[str, Any], shape: Shape) -> Shape | None:
    c, sizes = shape[0], shape[1:]
    rank = len(sizes)
    kernel = _axes(args["kernel"], rank, 0)
    stride = _axes(args.get("stride"), rank, 0) if args.get("stride") is not None else kernel
    padding = _pad_pairs(_axes_or_pairs(args.get("padding"), rank), rank)
    dilation = _axes(args.get("dilation"), rank, 1)
    ceil = args.get("ceil_mode", False)
    out = []
    for n, k, s, (p, q), d in zip(sizes, kernel, stride, padding, dilation, strict=True):
        if max(p, q) > k // 2:
            return None
        k_eff = d * (k - 1) + 1
        # aten/src/ATen/native/Pool.h: pooling_output_shape_pad_lr
        o = (n + p + q - k_eff + (s - 1 if ceil else 0)) // s + 1
        if ceil and (o - 1) * s >= n + p:
            o -= 1
        if o < 1:
            return None
        out.append(o)
    return (c, *out)


def _avgpool3d_shape(args: dict[str, Any], shape: Shape) -> Shape | None:
    # aten's pool3d_shape_check: AvgPool3d alone refuses an input smaller than its
    # kernel, whatever the padding.
    if any(n < k for n, k in zip(shape[1:], _axes(args["kernel"], 3, 0), strict=True)):
        return None
    return _pool_shape(args, shape)


def _adaptive_shape(args: dict[str, Any], shape: Shape) -> Shape:
    return (shape[0], *_axes(args["output"], _rank(shape), 0))


def _global_shape(args: dict[str, Any], shape: Shape) -> Shape:
    return (shape[0],) if args.get("flatten", True) else (shape[0], *(1 for _ in shape[1:]))


def _linear_shape(args: dict[str, Any], shape: Shape) -> Shape:
    return (args["out"],)


def _flatten_shape(args: dict[str, Any], shape: Shape) -> Shape:
    return (prod(shape),)


# ---------------------------------------------------------------- resampling, crops, channels


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _conv_transpose(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    c, sizes = shape[0], shape[1:]
    groups = draw(st.sampled_from(_divisors(c)))
    out = groups * draw(st.integers(1, max(1, lim.channels // groups)))
    kernel, stride, pad, extra, dilation = [], [], [], [], []
    for n in sizes:
        cap = max(lim.size, n)
        s = draw(st.sampled_from([s for s in (1, 2, 3) if (n - 1) * s + 1 <= cap]))
        d = draw(st.integers(1, 2))
        k = draw(st.integers(1, 4))
        o = draw(st.integers(0, max(s, d) - 1))  # torch: output_padding < max(stride, dilation)
        span = (n - 1) * s + d * (k - 1) + o  # the output is span − 2p + 1
        lo = max(0, -(-(span + 1 - cap) // 2))  # the least padding that keeps sides ≤ cap
        pad.append(draw(st.integers(lo, min(span // 2, lo + 2))))
        kernel.append(k)
        stride.append(s)
        extra.append(o)
        dilation.append(d)
    args: dict[str, Any] = {"out": out, "kernel": _fmt(draw, kernel)}
    for name, values, default in (
        ("stride", stride, 1),
        ("padding", pad, 0),
        ("output_padding", extra, 0),
        ("dilation", dilation, 1),
    ):
        if any(v != default for v in values) or draw(st.integers(0, 4)) == 0:
            args[name] = _fmt(draw, values)
    if groups != 1:
        args["groups"] = groups
    if draw(st.booleans()):
        args["bias"] = False
    return {kind: args}


def _conv_transpose_shape(args: dict[str, Any], shape: Shape) -> Shape | None:
    c, sizes = shape[0], shape[1:]
    rank = len(sizes)
    groups = args.get("groups", 1)
    if c % groups or args["out"] % groups:
        return None
    out = []
    for n, k, s, p, o, d in zip(
        sizes,
        _axes(args["kernel"], rank, 0),
        _axes(args.get("stride"), rank, 1),
        _axes(args.get("padding"), rank, 0),
        _axes(args.get("output_padding"), rank, 0),
        _axes(args.get("dilation"), rank, 1),
        strict=True,
    ):
        size = (n - 1) * s - 2 * p + d * (k - 1) + o + 1
        if o >= max(s, d) or size < 1:
            return None
        out.append(size)
    return (args["out"], *out)


_LINEAR_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}
_SCALES: tuple[float, ...] = (2, 1.5, 3, 0.5, 1, 2.5, 0.75)


def _upsample(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    sizes = shape[1:]
    args: dict[str, Any] = {}
    if draw(st.booleans()):  # a scale: one for every axis, or one per axis
        per_axis: list[list[float]] = [
            [v for v in _SCALES if 1 <= int(n * v) <= max(lim.size, n)] for n in sizes
        ]
        common = [v for v in _SCALES if all(v in fit for fit in per_axis)]
        every = bool(common) and draw(st.booleans())
        if every:
            args["scale"] = draw(st.sampled_from(common))
        else:
            args["scale"] = [draw(st.sampled_from(fit)) for fit in per_axis]
    else:
        args["size"] = _fmt(draw, [draw(st.integers(1, max(lim.size, n))) for n in sizes])
    mode = draw(st.sampled_from(("nearest", _LINEAR_MODES[len(sizes)])))
    if mode != "nearest":
        args["mode"] = mode
        if draw(st.booleans()):
            args["align_corners"] = draw(st.booleans())
    elif draw(st.booleans()):
        args["mode"] = mode
    if list(args) == ["scale"] and draw(st.booleans()):
        return {kind: args["scale"]}  # `upsample: 2`
    return {kind: args}


def _upsample_shape(args: dict[str, Any], shape: Shape) -> Shape | None:
    sizes = shape[1:]
    mode = args.get("mode", "nearest")
    if mode != "nearest" and mode != _LINEAR_MODES[len(sizes)]:
        return None
    if "size" in args:
        out = _axes(args["size"], len(sizes), 0)
    else:
        scale = args["scale"]
        scales = scale if isinstance(scale, list) else [scale] * len(sizes)
        out = tuple(int(n * float(v)) for n, v in zip(sizes, scales, strict=True))  # ⌊n·s⌋
    return None if len(out) != len(sizes) or min(out) < 1 else (shape[0], *out)


def _shuffle(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    c, sizes = shape[0], shape[1:]
    if kind == "pixel_shuffle":
        fits = [r for r in (1, 2, 3) if c % (r * r) == 0 and max(sizes) * r <= max(lim.size, 1)]
    else:
        fits = [r for r in (1, 2, 3) if all(n % r == 0 for n in sizes)]
    r = draw(st.sampled_from(fits or [1]))
    return {kind: r}


def _pixel_shuffle_shape(args: dict[str, Any], shape: Shape) -> Shape | None:
    r = args["upscale_factor"]
    c, sizes = shape[0], shape[1:]
    return None if c % (r * r) else (c // (r * r), *(n * r for n in sizes))


def _pixel_unshuffle_shape(args: dict[str, Any], shape: Shape) -> Shape | None:
    r = args["downscale_factor"]
    c, sizes = shape[0], shape[1:]
    return None if any(n % r for n in sizes) else (c * r * r, *(n // r for n in sizes))


def _center_crop(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    size = _fmt(draw, [draw(st.integers(1, n)) for n in shape[1:]])
    return {kind: size} if draw(st.booleans()) else {kind: {"size": size}}


def _center_crop_shape(args: dict[str, Any], shape: Shape) -> Shape | None:
    size = _axes(args["size"], _rank(shape), 0)
    if len(size) != _rank(shape) or any(h > n for h, n in zip(size, shape[1:], strict=True)):
        return None
    return (shape[0], *size)


def _axes_or_pairs(padding: Any, rank: int) -> Any:
    """A window's padding as an int, or a list of ints and [before, after] pairs, per axis."""
    if padding is None:
        return 0
    if isinstance(padding, list) and any(isinstance(p, list) for p in padding):
        return padding
    return list(_axes(padding, rank, 0))


def _pad_pairs(padding: Any, rank: int) -> list[tuple[int, int]]:
    if isinstance(padding, int):
        return [(padding, padding)] * rank
    return [(p, p) if isinstance(p, int) else (p[0], p[1]) for p in padding]


def _pad(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    sizes = shape[1:]
    mode = draw(st.sampled_from(("constant", "reflect", "replicate", "circular")))
    # reflect pads less than the axis; circular at most the axis (torch's limits)
    most = [min(2, n - 1 if mode == "reflect" else n) for n in sizes]
    form = draw(st.sampled_from(("int", "axes", "pairs")))
    padding: Any
    if form == "int":
        padding = draw(st.integers(0, min(most)))
    else:
        pairs = [(draw(st.integers(0, m)), draw(st.integers(0, m))) for m in most]
        padding = [p[0] if form == "axes" else list(p) for p in pairs]
    args: dict[str, Any] = {"padding": padding}
    if mode != "constant" or draw(st.booleans()):
        args["mode"] = mode
    if mode == "constant" and draw(st.booleans()):
        args["value"] = draw(st.sampled_from((0.0, 1.0, -2.5)))
    return {kind: padding} if list(args) == ["padding"] and draw(st.booleans()) else {kind: args}


def _pad_shape(args: dict[str, Any], shape: Shape) -> Shape | None:
    sizes = shape[1:]
    pairs = _pad_pairs(args["padding"], len(sizes))
    mode = args.get("mode", "constant")
    out = []
    for n, (before, after) in zip(sizes, pairs, strict=True):
        side = max(before, after)
        if (mode == "reflect" and side >= n) or (mode == "circular" and side > n):
            return None
        out.append(n + before + after)
    return (shape[0], *out) if len(pairs) == len(sizes) else None


def _groupnorm(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    groups = draw(st.sampled_from(_divisors(shape[0])))
    if draw(st.booleans()):
        return {kind: groups}
    return {kind: {"groups": groups, "eps": 1e-3, "affine": draw(st.booleans())}}


def _groupnorm_shape(args: dict[str, Any], shape: Shape) -> Shape | None:
    return None if shape[0] % args["groups"] else shape


def _instancenorm(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    args: dict[str, Any] = {}
    if prod(shape[1:]) == 1 or draw(st.booleans()):  # one position: statistics must be tracked
        args["affine"] = draw(st.booleans())
        args["track_running_stats"] = prod(shape[1:]) == 1 or draw(st.booleans())
        args["momentum"] = draw(st.sampled_from((0.1, 0.5)))
    return {kind: args} if args else kind


def _instancenorm_shape(args: dict[str, Any], shape: Shape) -> Shape | None:
    # torch normalises by the sample's own statistics unless it tracks running ones,
    # and refuses one position to do it over, in eval mode too
    if prod(shape[1:]) == 1 and not args.get("track_running_stats", False):
        return None
    return shape


def _layernorm(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    if draw(st.booleans()):
        return kind
    affine = draw(st.booleans())
    args: dict[str, Any] = {
        "eps": draw(st.sampled_from((1e-5, 1e-6))),
        "elementwise_affine": affine,
    }
    if affine and draw(st.booleans()):
        args["bias"] = False
    return {kind: args}


def _scaled(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    """layer_scale's init or drop_path's p: the shorthand or the mapping."""
    v = draw(st.sampled_from((0.1, 0.0, 1e-6, 1.0) if kind == "layer_scale" else (0.1, 0.0, 0.5)))
    name = DRAWERS[kind].main
    if kind == "layer_scale" and draw(st.booleans()):
        return kind  # init defaults to 1e-6
    return {kind: v} if draw(st.booleans()) else {kind: {name: v}}


def _channel_shuffle(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    groups = draw(st.sampled_from(_divisors(shape[0])))
    return {kind: groups} if draw(st.booleans()) else {kind: {"groups": groups}}


def _pieces(c: int, chunks: int) -> list[int]:
    """torch.chunk's pieces: ⌈C/chunks⌉ channels each, the last what remains."""
    size = -(-c // chunks)
    return [min(size, c - i) for i in range(0, c, size)]


def _chunk(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    chunks = draw(st.integers(1, 4))
    index = draw(st.integers(0, len(_pieces(shape[0], chunks)) - 1))
    return {kind: {"chunks": chunks, "index": index}}


def _chunk_shape(args: dict[str, Any], shape: Shape) -> Shape | None:
    pieces = _pieces(shape[0], args["chunks"])
    index = args["index"]
    return (pieces[index], *shape[1:]) if index < len(pieces) else None


def _split_channels(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    c, sizes = shape[0], []
    while c:
        sizes.append(draw(st.integers(1, c)))
        c -= sizes[-1]
    return {kind: {"sizes": sizes, "index": draw(st.integers(0, len(sizes) - 1))}}


def _split_shape(args: dict[str, Any], shape: Shape) -> Shape | None:
    sizes = args["sizes"]
    return None if sum(sizes) != shape[0] else (sizes[args["index"]], *shape[1:])


def _bare(draw: st.DrawFn, kind: str, shape: Shape, lim: Limits) -> Entry:
    return kind


_MAIN = {"leaky_relu": "negative_slope", "elu": "alpha", "softplus": "beta", "dropout": "p"}
DRAWERS: dict[str, Drawer] = {
    **{k: Drawer(_elementwise, _same, ANY, "elementwise", _MAIN.get(k), True) for k in ELEMENTWISE},
    **{f"dropout{r}d": Drawer(_elementwise, _same, (r,), "elementwise", "p", True) for r in MAPS},
    **{f"conv{r}d": Drawer(_conv, _conv_shape, (r,), "conv") for r in MAPS},
    **{
        f"{w}pool{r}d": Drawer(_pool, _pool_shape, (r,), "pool", "kernel")
        for w in ("max", "avg")
        for r in MAPS
    },
    "avgpool3d": Drawer(_pool, _avgpool3d_shape, (3,), "pool", "kernel"),
    **{f"batchnorm{r}d": Drawer(_batchnorm, _same, (r,), "norm", None, True) for r in MAPS},
    "batchnorm1d": Drawer(_batchnorm, _same, (0, 1), "norm", None, True),  # features or C×L
    "local_response_norm": Drawer(_lrn, _same, MAPS, "norm", "size", True),
    **{
        f"adaptive_{w}_pool{r}d": Drawer(_adaptive, _adaptive_shape, (r,), "adaptive", "output")
        for w in ("avg", "max")
        for r in MAPS
    },
    **{f"global_{w}_pool": Drawer(_global, _global_shape, MAPS, "global") for w in ("avg", "max")},
    "flatten": Drawer(_bare, _flatten_shape, ANY, "flatten", flattens=True),
    "linear": Drawer(_linear, _linear_shape, FLAT, "linear", "out"),
    **{
        f"conv_transpose{r}d": Drawer(_conv_transpose, _conv_transpose_shape, (r,), "resample")
        for r in MAPS
    },
    "upsample": Drawer(_upsample, _upsample_shape, MAPS, "resample", "scale"),
    "pixel_shuffle": Drawer(_shuffle, _pixel_shuffle_shape, (2,), "resample", "upscale_factor"),
    "pixel_unshuffle": Drawer(
        _shuffle, _pixel_unshuffle_shape, (2,), "resample", "downscale_factor"
    ),
    "center_crop": Drawer(_center_crop, _center_crop_shape, MAPS, "crop", "size"),
    "pad": Drawer(_pad, _pad_shape, MAPS, "crop", "padding"),
    "groupnorm": Drawer(_groupnorm, _groupnorm_shape, ANY, "norm", "groups", True),
    **{
        f"instancenorm{r}d": Drawer(_instancenorm, _instancenorm_shape, (r,), "norm", None, True)
        for r in MAPS
    },
    "layernorm": Drawer(_layernorm, _same, ANY, "norm", None, True),
    "layer_scale": Drawer(_scaled, _same, ANY, "elementwise", "init", True),
    "drop_path": Drawer(_scaled, _same, ANY, "elementwise", "p", True),
    "channel_shuffle": Drawer(_channel_shuffle, _groupnorm_shape, MAPS, "channels", "groups", True),
    "chunk": Drawer(_chunk, _chunk_shape, ANY, "channels"),
    "split": Drawer(_split_channels, _split_shape, ANY, "channels"),
}

# Every layer kind these strategies draw: what tests/kinds/test_completeness.py
# holds against the registry.
DRAWN_KINDS = frozenset(DRAWERS)

_FAMILY_ORDER = (
    *_FAMILIES,
    *dict.fromkeys(d.family for d in DRAWERS.values() if d.family not in _FAMILIES),
)
_MENUS = {
    (rank, keep, same): _menu(rank, keep, same)
    for rank in ANY
    for keep in (False, True)
    for same in (False, True)
}


# ---------------------------------------------------------------- composites


def _repeat(
    draw: st.DrawFn, shape: Shape, remaining: int, depth: int, lim: Limits
) -> tuple[Entry, int]:
    inner = replace(lim, keep_rank=True)
    body, _, leaves = _sequence(draw, shape, min(2, remaining), depth + 1, inner)
    times = draw(st.integers(1, 3))
    # The same arguments must fit every copy's input: keep the copies that do.
    while times > 1 and (leaves * times > remaining or output_shape(body * times, shape) is None):
        times -= 1
    return {"repeat": {"times": times, "layers": body}}, leaves * times


def _residual(
    draw: st.DrawFn, shape: Shape, remaining: int, depth: int, lim: Limits
) -> tuple[Entry, int]:
    # A projection shortcut costs up to two leaves; without room for it the
    # main branch keeps the shape.
    room = remaining >= 3
    inner = replace(lim, keep_rank=True)
    main, out, leaves = _sequence(
        draw, shape, remaining - 2 if room else remaining, depth + 1, inner, same_shape=not room
    )
    args: dict[str, Any] = {"layers": main}
    if out != shape:
        shortcut: list[Entry] = [_bridge(draw, shape, out)]
        if len(out) > 1 and draw(st.booleans()):
            shortcut.append(f"batchnorm{_rank(out)}d")
        args["shortcut"] = shortcut
        leaves += len(shortcut)
    elif room and draw(st.booleans()):
        norm = "batchnorm1d" if len(shape) == 1 else f"batchnorm{_rank(shape)}d"
        args["shortcut"] = [_batchnorm(draw, norm, shape, lim)]
        leaves += 1
    return {"residual": args}, leaves


def _concat(
    draw: st.DrawFn, shape: Shape, remaining: int, depth: int, lim: Limits
) -> tuple[Entry, int]:
    n = draw(st.integers(2, 3)) if remaining >= 3 else 2
    each = remaining // n
    inner = replace(lim, keep_rank=True)
    first, target, leaves = _sequence(draw, shape, each, depth + 1, inner)
    maps = len(shape) > 1
    branches = [first]
    for _ in range(n - 1):
        if each >= 2 or not maps:
            body, out, used = _sequence(draw, shape, each - 1 if maps else each, depth + 1, inner)
        else:
            body, out, used = [], shape, 0
        if maps and out[1:] != target[1:]:
            body = [*body, _bridge(draw, out, (draw(st.integers(1, lim.channels)), *target[1:]))]
            used += 1
        elif not body:
            body, used = [_leaf(draw, shape, lim, same_shape=True)], 1
        branches.append(body)
        leaves += used
    return {"concat": branches}, leaves


def _bridge(draw: st.DrawFn, shape: Shape, target: Shape) -> Entry:
    """One layer that turns ``shape`` into ``target``: a conv of its rank, or a linear."""
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
        f"conv{_rank(shape)}d": {
            "out": target[0],
            "kernel": _fmt(draw, kernel),
            "stride": _fmt(draw, stride),
            "padding": _fmt(draw, pad),
            "bias": False,
        }
    }


# ---------------------------------------------------------------- invalid layers


def _invalid_layer(draw: st.DrawFn, how: str, shape: Shape, lim: Limits) -> Entry:
    c, sizes = shape[0], shape[1:]
    rank = len(sizes)
    conv = f"conv{rank}d"
    if how == "shuffle_channels" and rank != 2:
        how = "groups_in"  # pixel_shuffle takes C×H×W only
    if how == "groups_out" and not any(c % g == 0 for g in range(2, c + 1)):
        how = "groups_in"  # one channel: every groups ≥ 2 fails on the input instead
    # The axes a collapse happens on: one at least, maybe more.
    first = draw(st.integers(0, rank - 1))
    hit = [a == first or draw(st.booleans()) for a in range(rank)]
    if how == "conv_collapse":
        d = draw(st.integers(1, 2))
        p = draw(st.integers(0, 1))
        ks = [
            (n + 2 * p - 1) // d + 2 + draw(st.integers(0, 2))
            if hit[a]
            else draw(st.integers(1, max(1, (n + 2 * p - 1) // d + 1)))
            for a, n in enumerate(sizes)
        ]
        return {
            conv: {
                "out": draw(st.integers(1, lim.channels)),
                "kernel": _fmt(draw, ks),
                "padding": p,
                "dilation": d,
            }
        }
    if how == "avgpool3d_small" and rank == 3:
        # a window that padding would fit, on an input smaller than the kernel
        ks = [n + 1 if hit[a] else 1 for a, n in enumerate(sizes)]
        pads = [k // 2 for k in ks]
        return {"avgpool3d": {"kernel": _fmt(draw, ks), "stride": 1, "padding": _fmt(draw, pads)}}
    if how == "shuffle_channels" and rank == 2:
        r = draw(st.sampled_from([r for r in range(2, 7) if c % (r * r)]))
        return {"pixel_shuffle": r}
    if how == "output_padding":  # torch: output_padding < max(stride, dilation)
        s, d = draw(st.integers(1, 3)), draw(st.integers(1, 2))
        extra = [max(s, d) if hit[a] else 0 for a in range(rank)]
        args = {"out": 1, "kernel": 2, "stride": s, "dilation": d, "output_padding": extra}
        return {f"conv_transpose{rank}d": args}
    if how == "reflect_pad":  # torch: a reflection shorter than the axis
        padding = [n + draw(st.integers(0, 1)) if hit[a] else 0 for a, n in enumerate(sizes)]
        return {"pad": {"padding": padding, "mode": "reflect"}}
    if how == "interpolation_rank":
        mode = draw(st.sampled_from([m for r, m in _LINEAR_MODES.items() if r != rank]))
        return {"upsample": {"scale": 2, "mode": mode}}
    if how == "instancenorm_one":  # after a pool to one position: no statistics to take
        return {f"instancenorm{rank}d": {"affine": draw(st.booleans())}}
    if how in ("pool_collapse", "avgpool3d_small"):  # the latter at rank 1 or 2
        kind = draw(st.sampled_from((f"maxpool{rank}d", f"avgpool{rank}d")))
        ks = [n + 1 + draw(st.integers(0, 2)) if hit[a] else 1 for a, n in enumerate(sizes)]
        return {kind: {"kernel": _fmt(draw, ks), "stride": 1}}
    if how == "groups_in":
        g = draw(st.sampled_from([g for g in range(2, c + 3) if c % g]))
        return {conv: {"out": g * draw(st.integers(1, 2)), "kernel": 1, "groups": g}}
    if how == "groups_out":
        g = draw(st.sampled_from([g for g in range(2, c + 1) if c % g == 0]))
        out = draw(st.sampled_from([o for o in range(1, 2 * g + 1) if o % g]))
        return {conv: {"out": out, "kernel": 1, "groups": g}}
    if how == "pool_padding":
        k = draw(st.integers(1, 3))
        p = k // 2 + draw(st.integers(1, 2))
        kind = draw(st.sampled_from((f"maxpool{rank}d", f"avgpool{rank}d")))
        pads = [p if hit[a] else draw(st.integers(0, p)) for a in range(rank)]
        return {kind: {"kernel": k, "stride": 1, "padding": _fmt(draw, pads)}}
    assert how == "concat_mismatch"
    grow = [draw(st.integers(1, 2)) if hit[a] else draw(st.integers(0, 2)) for a in range(rank)]
    return {
        "concat": [
            [{conv: {"out": 2, "kernel": 1}}],
            [{conv: {"out": 3, "kernel": 1, "padding": _fmt(draw, grow)}}],
        ]
    }


# ---------------------------------------------------------------- shapes of drawn entries


def _split(entry: Entry) -> tuple[str, Any]:
    if isinstance(entry, str):
        return entry, {}
    ((kind, args),) = entry.items()
    return kind, args


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
    drawer = DRAWERS[kind]
    if _rank(shape) not in drawer.ranks:
        return None
    if not isinstance(args, dict):
        assert drawer.main is not None, entry
        args = {drawer.main: args}
    return drawer.rule(args, shape)
