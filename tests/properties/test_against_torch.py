"""The analysers against torch, on hypothesis-drawn specs.

Specs are drawn at every rank (flat, C×L, C×H×W, C×D×H×W inputs), as lists,
composites and graphs of named tensors (``from:``, ``add`` skips, ``mul``
gates, ``cat``). The module ``archcalc.build`` makes is run node by node along
the spec's graph (``Analysis.graph``), and what torch does is compared with
what archcalc says it will do, node by node: output shapes, parameters and
buffers, MACs, and receptive fields (measured by back-propagation). Specs
torch rejects must be ArchcalcErrors, never a crash and never accepted.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from fractions import Fraction
from math import ceil, floor, prod
from typing import Any, NamedTuple

import pytest
import torch
from hypothesis import example, given, settings
from torch import nn

import archcalc
from archcalc.analysis import Analysis, ReceptiveField, Row
from archcalc.analysis.receptive import initial
from archcalc.bridge import modules
from archcalc.bridge.modules import (
    CenterCrop,
    Chunk,
    Concat,
    DropPath,
    GlobalAvgPool,
    GlobalMaxPool,
    GraphNet,
    LayerNormChannels,
    LayerScale,
    Residual,
    Split,
)
from archcalc.graph import Graph
from archcalc.kinds import REGISTRY
from archcalc.kinds.base import SpatialStep
from archcalc.testing.strategies import invalid_specs, specs

# These properties are what proves the analysers, so each runs three times the
# profile's examples (300 in CI); the profile is loaded before this module is.
_MORE = settings(max_examples=3 * settings().max_examples)
pytestmark = pytest.mark.filterwarnings(
    # torch's note that an even `same` kernel costs a padded copy: drawn on purpose
    "ignore:Using padding='same' with even kernel:UserWarning"
)


def _every_row(rows: tuple[Row, ...]) -> list[Row]:
    """Every row of the tree, composites (residual, concat, branch, repeat copy) included."""
    out: list[Row] = []
    for row in rows:
        out.append(row)
        out += _every_row(row.children)
    return out


def _graph(analysis: Analysis) -> Graph:
    assert analysis.graph is not None
    return analysis.graph


def _node_rows(analysis: Analysis) -> dict[int, Row]:
    """The row that shows each node's output: its own (a layer, a written merge), or
    for a merge a shorthand implies, the row of the scope it ends (residual, concat)."""
    graph = _graph(analysis)
    rows: dict[int, Row] = {}
    for row in _every_row(analysis.tree):
        if row.is_leaf:
            assert row.node is not None, row.path
            rows[row.node] = row  # its own row: a block's reads the block's input
        else:
            rows.setdefault(graph.scopes[row.path].output, row)
    return rows


def _run(model: nn.Module, graph: Graph, x: torch.Tensor) -> list[torch.Tensor]:
    """Every node's value: the built module's layers, run along the graph's edges."""
    values = [x]
    for node in graph.nodes[1:]:
        args = [values[i] for i in node.inputs]
        if node.op == "cat":
            y = torch.cat(args, dim=1)
        elif node.is_merge:
            y = args[0]
            for a in args[1:]:
                y = y + a if node.op == "add" else y * a
        else:
            y = model.get_submodule(node.path)(args[0])
        values.append(y)
    return values


_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def _macs(module: nn.Module, x: torch.Tensor, out: torch.Tensor) -> int:
    """MACs per sample, counted from the real tensors of the forward pass.

    A conv does in_channels/groups·(product of its kernel) multiply-adds per
    output element and a linear in·out per sample: the fvcore convention
    docs/spec.md uses; a transposed conv out_channels/groups·(its kernel) per
    input element, as torch.utils.flop_counter counts it. From the tensors
    rather than FlopCounterMode, because these read the real shapes directly
    and cost nothing per op over hundreds of examples; the zoo test in
    tests/bridge/test_equivalence.py measures with FlopCounterMode instead.
    """
    if isinstance(module, _CONVS):
        return out[0].numel() * (x.shape[1] // module.groups) * prod(module.kernel_size)
    if isinstance(module, _TRANSPOSED):
        per_input = module.out_channels // module.groups * prod(module.kernel_size)
        return x[0].numel() * per_input
    if isinstance(module, nn.Linear):
        return x.shape[1] * out.shape[1]
    return 0


@_MORE
@given(spec_dict=specs(several_outputs=True))
@example(
    spec_dict={  # torch pads an even `same` kernel unevenly: the odd pixel goes after
        "input": [2, 7, 6],
        "layers": [{"conv2d": {"out": 4, "kernel": [2, 4], "padding": "same", "dilation": [1, 3]}}],
    }
)
@example(
    spec_dict={  # ceil_mode keeps a half window, and drops one starting in the padding
        "input": [1, 5, 6],
        "layers": [{"maxpool2d": {"kernel": 2, "stride": 2, "padding": 1, "ceil_mode": True}}],
    }
)
@example(
    spec_dict={  # a C×L signal and a C×D×H×W volume, through their own kinds
        "input": [2, 9, 4, 5],
        "layers": [
            {"conv3d": {"out": 3, "kernel": [3, 1, 2], "stride": [2, 1, 1], "padding": [1, 0, 1]}},
            {"batchnorm3d": {}},
            {"adaptive_max_pool3d": [2, 3, 1]},
            {"global_avg_pool": {"flatten": False}},
        ],
    }
)
@example(
    spec_dict={  # a gate: x · sigmoid(conv(pool(x))), broadcast from C×1, then a skip
        "input": [3, 10],
        "layers": [
            {"conv1d": {"name": "x", "out": 4, "kernel": 3, "padding": 1}},
            {"global_avg_pool": {"flatten": False}},
            {"conv1d": {"out": 4, "kernel": 1}},
            {"sigmoid": {"name": "gate"}},
            {"mul": ["x", "gate"]},
            {"maxpool1d": {"from": "x", "kernel": 2}},
            {"cat": ["maxpool1d_5", "maxpool1d_5"]},
        ],
        "outputs": ["cat_6", "mul_4"],
    }
)
def test_shapes_parameters_buffers_and_macs_match_torch(spec_dict: dict[str, Any]) -> None:
    spec = archcalc.from_dict(spec_dict)
    analysis = archcalc.analyze(spec)
    graph = _graph(analysis)
    torch.manual_seed(0)
    model = archcalc.build(spec).eval()
    # Two samples: BatchNorm without running stats needs more than one value per channel.
    x = torch.randn(2, *analysis.input_shape)
    with torch.no_grad():
        y = model(x)
        values = _run(model, graph, x)

    # The module's own forward is the graph's (wiring), and returns every output.
    outs = y if isinstance(y, tuple) else (y,)
    assert len(outs) == len(graph.outputs)
    for out, node in zip(outs, graph.outputs, strict=True):
        # A pooling window of padding alone gives -inf, then NaN: the same on both sides.
        torch.testing.assert_close(out, values[node], equal_nan=True)
    assert tuple(outs[0].shape[1:]) == analysis.output_shape
    for n, row in _node_rows(analysis).items():
        assert tuple(values[n].shape[1:]) == row.output_shape, row.path
    layers = [r for r in analysis.rows if not graph.nodes[r.node or 0].is_merge]
    leaf_modules = {
        name
        for name, m in model.named_modules()
        if not list(m.children()) and type(m) is not nn.Module
    }
    assert leaf_modules == {r.path for r in layers}
    for row in layers:
        assert row.node is not None
        layer = graph.nodes[row.node]
        module = model.get_submodule(row.path)
        params = list(module.parameters())
        assert sum(p.numel() for p in params) == row.params, row.path
        assert sum(p.numel() for p in params if p.requires_grad) == row.trainable_params, row.path
        assert sum(b.numel() for b in module.buffers()) == row.buffers, row.path
        assert row.macs == _macs(module, values[layer.inputs[0]], values[layer.id]), row.path
    for row in analysis.rows:  # a written merge: no weights, no MACs
        if graph.nodes[row.node or 0].is_merge:
            assert (row.params, row.buffers, row.macs) == (0, 0, 0), row.path
    assert sum(p.numel() for p in model.parameters()) == analysis.totals.params
    assert sum(b.numel() for b in model.buffers()) == analysis.totals.buffers
    assert sum(r.macs or 0 for r in analysis.rows) == analysis.totals.macs


# ---------------------------------------------------------------- receptive fields


def _axes(v: Any, rank: int) -> tuple[int, ...]:
    return (v,) * rank if isinstance(v, int) else tuple(v) * (rank if len(v) == 1 else 1)


_CONV_FN = {1: nn.functional.conv1d, 2: nn.functional.conv2d, 3: nn.functional.conv3d}


class _WindowMean(nn.Module):
    """A pooling layer's windows averaged: positive and linear, the same windows.

    Max pooling back-propagates to one pixel per window, so the field is
    measured through this instead (a conv of the input's rank with averaging
    weights). The output size is the real layer's (ceil_mode included); extra
    zeros after the input let the last, partial window exist.
    """

    def __init__(self, pool: Any) -> None:
        super().__init__()
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p: Any = self.pool
        rank = x.dim() - 2
        k, s = _axes(p.kernel_size, rank), _axes(p.stride or p.kernel_size, rank)
        pad, d = _axes(p.padding, rank), _axes(getattr(p, "dilation", 1), rank)
        out, sizes = p(x).shape[2:], x.shape[2:]
        pads: list[int] = []
        for a in reversed(range(rank)):  # F.pad lists the last axis first
            extra = max(0, (out[a] - 1) * s[a] + d[a] * (k[a] - 1) + 1 - (sizes[a] + 2 * pad[a]))
            pads += [pad[a], pad[a] + extra]
        ones = torch.full((x.shape[1], 1, *k), 1.0 / prod(k))
        y = _CONV_FN[rank](
            nn.functional.pad(x, pads), ones, stride=s, dilation=d, groups=x.shape[1]
        )
        keep: Any = (..., *(slice(0, o) for o in out))
        return y[keep]


class _PaddedWindowMean(nn.Module):
    """archcalc's padded pooling (per side, or TensorFlow's same) with its windows averaged."""

    def __init__(self, pool: Any) -> None:
        super().__init__()
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p: Any = self.pool
        rank = x.dim() - 2
        pads = modules._sides(p.sides, tuple(x.shape[2:]), p.kernel_size, p.stride, p.dilation)
        ones = torch.full((x.shape[1], 1, *p.kernel_size), 1.0 / prod(p.kernel_size))
        return _CONV_FN[rank](
            nn.functional.pad(x, pads),
            ones,
            stride=p.stride,
            dilation=p.dilation,
            groups=x.shape[1],
        )


def _keep(m: Any) -> nn.Module:
    return m


def _drop(m: Any) -> nn.Module:
    return nn.Identity()


def _mean_weights(m: Any) -> nn.Module:
    # 1/fan-in rather than 1, so that float32 neither overflows nor underflows over
    # a dozen layers (float64 convolutions on CPU are many times slower).
    with torch.no_grad():
        m.weight.fill_(1.0 / m.weight[0].numel())
        if m.bias is not None:
            m.bias.zero_()
    return m


def _zero_pad(m: Any) -> nn.Module:
    # Reflected, replicated or wrapped padding copies real pixels into the border, which
    # would join a unit to pixels far from its window; the field is the windows' geometry,
    # as for every zero-padded conv, so measure through zeros.
    rank = int(type(m).__name__[-2])
    return getattr(nn, f"ConstantPad{rank}d")(m.padding, 0.0)


def _adaptive_mean(m: Any) -> nn.Module:
    # Adaptive max pooling back-propagates to one pixel: average its windows instead.
    rank = int(type(m).__name__[-2])
    return getattr(nn, f"AdaptiveAvgPool{rank}d")(m.output_size)


# How each module class becomes part of the positive linear copy: kept as it is
# (positive and linear already), dropped (elementwise, or acting across
# channels only), given equal positive weights, or swapped for its windows'
# mean. tests/kinds/test_completeness.py requires each kind's torch class here.
_ACTIVATIONS = (
    nn.ReLU,
    nn.LeakyReLU,
    nn.Tanh,
    nn.Sigmoid,
    nn.GELU,
    nn.Softmax,
    nn.Identity,
    nn.ReLU6,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.Hardsigmoid,
    nn.SiLU,
    nn.Hardswish,
    nn.Mish,
    nn.Softplus,
)
_POSITIVE: dict[type[nn.Module], Callable[[Any], nn.Module]] = {
    **dict.fromkeys(_ACTIVATIONS, _drop),
    **dict.fromkeys((nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LocalResponseNorm), _drop),
    **dict.fromkeys((nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d), _drop),
    **dict.fromkeys((*_CONVS, nn.Linear), _mean_weights),
    **dict.fromkeys(
        (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d),
        _WindowMean,
    ),
    **dict.fromkeys(
        (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d), _adaptive_mean
    ),
    GlobalMaxPool: lambda m: GlobalAvgPool(flatten=m.flatten),
    **dict.fromkeys(
        (
            nn.AdaptiveAvgPool1d,
            nn.AdaptiveAvgPool2d,
            nn.AdaptiveAvgPool3d,
            GlobalAvgPool,
            nn.Flatten,
        ),
        _keep,
    ),
    # resampling: transposed convs get equal weights; interpolation weights are positive
    # already, shuffles and crops move pixels, constant padding adds no path
    **dict.fromkeys(_TRANSPOSED, _mean_weights),
    **dict.fromkeys((nn.Upsample, nn.PixelShuffle, nn.PixelUnshuffle, CenterCrop), _keep),
    **{
        getattr(nn, f"{cls}{rank}d"): how
        for cls, how in (
            ("ConstantPad", _keep),
            ("ZeroPad", _keep),
            ("ReflectionPad", _zero_pad),
            ("ReplicationPad", _zero_pad),
            ("CircularPad", _zero_pad),
        )
        for rank in (1, 2, 3)
    },
    # normalisations and scales act per position or per channel: elementwise for the field
    **dict.fromkeys(
        (
            nn.GroupNorm,
            nn.InstanceNorm1d,
            nn.InstanceNorm2d,
            nn.InstanceNorm3d,
            nn.LayerNorm,
            LayerNormChannels,
            LayerScale,
            DropPath,
        ),
        _drop,
    ),
    # channel moves: every unit keeps its position
    **dict.fromkeys((nn.ChannelShuffle, Chunk, Split), _keep),
    # archcalc's pad-first convolutions and pooling (per-side, TensorFlow's same)
    **{getattr(modules, f"PaddedConv{rank}d"): _mean_weights for rank in (1, 2, 3)},
    **{
        getattr(modules, f"Padded{word}Pool{rank}d"): _PaddedWindowMean
        for word in ("Max", "Avg")
        for rank in (1, 2, 3)
    },
    # containers: the graph is run node by node, so only their leaves matter
    **dict.fromkeys((nn.Module, nn.Sequential, Residual, Concat, GraphNet), _keep),
}
RF_PROBED: frozenset[type[nn.Module]] = frozenset(_POSITIVE)


def _positive_linear_copy(model: nn.Module) -> nn.Module:
    """The same network with equal positive weights, no bias, nothing non-linear or cancelling.

    Then an input pixel has a non-zero gradient for an output unit exactly when
    some path of windows joins them: the unit's receptive field. (A ``mul``
    gate stays a product of positive values: still a non-zero gradient exactly
    along the paths.)
    """
    positive = copy.deepcopy(model)
    for name, module in list(positive.named_modules()):
        how = _POSITIVE.get(type(module))
        if how is None:  # a new kind must say how its field is measured
            raise AssertionError(f"no positive copy for {type(module).__name__} at {name}")
        new = how(module)
        if new is not module:
            parent, _, child = name.rpartition(".")
            setattr(positive.get_submodule(parent), child, new)
    return positive


def _regular_windows(n: int, out: int) -> bool:
    """Whether torch's adaptive windows from n to out all have one size and one whole stride.

    Torch's window for output i spans [⌊i·n/o⌋, ⌈(i+1)·n/o⌉); otherwise
    windows differ in size, or (out > n) overlap by a fraction of a pixel per
    unit, and archcalc's field is the nearest regular one
    (archcalc/kinds/adaptive_pool.py), which cannot be checked unit by unit.
    """
    starts = [i * n // out for i in range(out)]
    ends = [-(-(i + 1) * n // out) for i in range(out)]
    steps = {b - a for a, b in itertools.pairwise(starts)}
    same_size = len({e - s for s, e in zip(starts, ends, strict=True)}) == 1
    return same_size and len(steps) <= 1 and 0 not in steps


_ADAPTIVE = (
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
    nn.AdaptiveMaxPool3d,
)
EVERY, FIRST, NONE = 2, 1, 0  # which units of a node's field the measurement can check


Interval = tuple[int, int]


class _Check(NamedTuple):
    """How a node's field can be checked: ``how`` (EVERY, FIRST or NONE), and per axis the
    input pixels every map on the way to it covers (where a unit's field is exact)."""

    how: int
    valid: tuple[Interval, ...]


def _field_checks(analysis: Analysis, model: nn.Module, rows: dict[int, Row]) -> dict[int, _Check]:
    """For each node: EVERY unit's field is checked, only the FIRST unit's, or NONE.

    Read from the graph, node by node, never from row kinds. A node is at most
    as checkable as its inputs, and:
    - a unit's field is exact where it lies inside the region every map on its
      way covers (``valid``): there every path of windows exists. Elsewhere a
      path crosses padding, which holds no pixel, so the measured field lies
      within the analysed one. Usually the region is the input; after a crop
      (negative padding) it is the crop's, and a later window's padding may lie
      inside the input;
    - a merge of fields with different jumps grows with the unit index at
      several rates, archcalc's one field at the fastest: unit 0 is bounded;
    - a fractional step (upsampling, pixel_shuffle, a strided transposed
      conv), and a fractional field after it (ReceptiveField.exact False, or
      ends between pixels), is an average over windows that are not all alike,
      or a bound, even where its numbers come out whole: only unit 0's
      measured field is checked, and it must lie within the analysed bounds of
      unit 0, fractional ends rounded outwards (floor, ceil), here and after;
    - such a bound on unit 0 says nothing of later units, so a step whose
      unit 0 reads a later unit (negative pad_before: a crop) checks nothing
      after it; nor does adaptive pooling whose windows differ (torch's
      rounding), whose field is the nearest regular one;
    - nor do linear interpolation (upsample's linear modes) and strided
      transposed convs, whose fields archcalc/kinds/upsample.py and
      conv_transpose.py state as the average unit's, not a bound. Even unit 0
      falls outside it once the jump before is above 1: [1, 12] → maxpool1d 3
      → upsample {scale: 0.75, mode: linear} analyses unit 0 as [−1, 4], torch
      reads 0…5; [1, 7] → conv1d {kernel 1, stride 3} → conv_transpose1d
      {kernel 2, stride 3, dilation 2} analyses unit 0 as [−1, −1], torch
      reads 0. Nearest upsampling and pixel_shuffle keep unit 0 bounded.
    """
    graph = _graph(analysis)
    in_sizes = analysis.input_shape[1:]
    fields: dict[int, ReceptiveField | None] = {0: initial(len(in_sizes)) if in_sizes else None}
    fields |= {n: r.receptive_field for n, r in rows.items()}
    checks = {0: _Check(EVERY, tuple((0, n - 1) for n in in_sizes))}
    for node in graph.nodes[1:]:
        inputs = [checks[i] for i in node.inputs]
        how = min(c.how for c in inputs)
        if node.is_merge:
            jumps = {f.jump for i in node.inputs if (f := fields[i]) is not None and not f.whole}
            if len(jumps) > 1:
                how = min(how, FIRST)
        else:
            row = rows[node.id]
            step = REGISTRY[node.op].rf_step
            assert step is not None and node.layer is not None
            moves = step(node.layer.args, row.input_shape)
            if isinstance(moves, SpatialStep):
                if how == FIRST and min(moves.pad_before) < 0:
                    how = NONE
                if not all(isinstance(x, int) for x in (*moves.kernel, *moves.stride)):
                    how = min(how, FIRST)  # a fractional step: its field is a bound
            module = model.get_submodule(node.path)
            if (isinstance(module, nn.Upsample) and module.mode != "nearest") or (
                isinstance(module, _TRANSPOSED) and max(module.stride) > 1
            ):
                how = NONE  # an average field, not a bound (see the docstring)
            if isinstance(module, _ADAPTIVE):
                sizes = zip(row.input_shape[1:], row.output_shape[1:], strict=True)
                if not all(_regular_windows(n, o) for n, o in sizes):
                    how = NONE
        rf, row = fields[node.id], rows[node.id]
        valid: tuple[Interval, ...] = ()
        if rf is not None and not rf.whole:
            if not rf.exact or any(x % 2 for x in rf.bounds_x2()[0]):
                how = min(how, FIRST)  # fractional, or (linear upsampling by 1) between pixels
            elif how == EVERY:
                # the input pixels this node's own units cover, within every earlier map's
                covered = [
                    (lo, hi + (m - 1) * int(j))
                    for (lo, hi), m, j in zip(
                        _half_bounds(rf, True), row.output_shape[1:], rf.jump, strict=True
                    )
                ]
                for c in inputs:
                    if c.valid:
                        covered = [
                            (max(a, b), min(x, y))
                            for (a, x), (b, y) in zip(covered, c.valid, strict=True)
                        ]
                valid = tuple(covered)
        checks[node.id] = _Check(how, valid)
    return checks


def _half_bounds(rf: ReceptiveField, exact: bool) -> list[Interval]:
    """Unit 0's first and last input pixel per axis; fractional ends rounded outwards."""
    lo_x2, hi_x2 = rf.bounds_x2()
    if exact:
        assert all(x % 2 == 0 for x in lo_x2), lo_x2  # an exact field's ends are whole pixels
        return [(int(lo) // 2, int(hi) // 2) for lo, hi in zip(lo_x2, hi_x2, strict=True)]
    return [
        (floor(Fraction(lo) / 2), ceil(Fraction(hi) / 2))
        for lo, hi in zip(lo_x2, hi_x2, strict=True)
    ]


def _inside(field: list[Interval], valid: tuple[Interval, ...]) -> bool:
    return all(a <= lo and hi <= b for (lo, hi), (a, b) in zip(field, valid, strict=True))


def _units(
    rf: ReceptiveField, out_sizes: tuple[int, ...], valid: tuple[Interval, ...]
) -> list[tuple[int, ...]]:
    """Units to measure: the first and last, and the first and last whose field lies inside.

    A unit's field is a box, so one unit checks every axis; a unit whose field
    lies inside the valid region on every axis is the one that can be checked exactly.
    """
    inside = []
    for axis, (lo, hi) in enumerate(_half_bounds(rf, True)):
        j = int(rf.jump[axis])
        a, b = valid[axis]
        units = [i for i in range(out_sizes[axis]) if a <= lo + i * j and hi + i * j <= b]
        inside.append(sorted({units[0], units[-1]}) if units else [])
    picks = {tuple(0 for _ in out_sizes), tuple(o - 1 for o in out_sizes)}
    if all(inside):
        longest = max(len(ins) for ins in inside)
        picks |= {
            tuple(ins[m] if m < len(ins) else ins[0] for ins in inside) for m in range(longest)
        }
    return sorted(picks)


def _extent(mask: torch.Tensor) -> tuple[int, int] | None:
    hits = torch.nonzero(mask).flatten().tolist()
    return (hits[0], hits[-1]) if hits else None


@_MORE
@given(spec_dict=specs(flat_inputs=False, several_outputs=True))
@example(
    spec_dict={  # `same` with an even kernel: torch's extra pixel is after, not before
        "input": [1, 6, 7],
        "layers": [{"conv2d": {"out": 1, "kernel": [2, 4], "padding": "same"}}],
    }
)
@example(
    spec_dict={  # dilation, stride and padding compound through two layers
        "input": [2, 17, 13],
        "layers": [
            {"conv2d": {"out": 2, "kernel": 3, "stride": [2, 1], "padding": [1, 0], "dilation": 2}},
            {"maxpool2d": {"kernel": [3, 2], "stride": 2, "padding": 1, "ceil_mode": True}},
            {"conv2d": {"out": 1, "kernel": 2, "padding": "same", "groups": 1}},
        ],
    }
)
@example(
    spec_dict={  # a misaligned residual: the field is the union of both paths
        "input": [1, 12, 9],
        "layers": [
            {"residual": {"layers": [{"conv2d": {"out": 1, "kernel": 4, "padding": "same"}}]}}
        ],
    }
)
@example(
    spec_dict={  # 1-D and 3-D windows, max pooling (dilated) and adaptive max pooling
        "input": [1, 5, 9, 7],
        "layers": [
            {"conv3d": {"out": 2, "kernel": [1, 3, 2], "stride": [1, 2, 1], "padding": [0, 1, 1]}},
            {"maxpool3d": {"kernel": 2, "stride": 1, "dilation": [1, 2, 1], "ceil_mode": True}},
            {"adaptive_max_pool3d": [2, 1, 3]},
        ],
    }
)
@example(
    spec_dict={  # a skip across scales: paths of jumps 1 and 2 meet (unit 0 only)
        "input": [1, 16],
        "layers": [
            {"conv1d": {"name": "a", "out": 1, "kernel": 3, "padding": 1}},
            {"conv1d": {"out": 1, "kernel": 2, "stride": 2}},
            {
                "conv1d": {
                    "name": "b",
                    "from": "a",
                    "out": 1,
                    "kernel": 3,
                    "stride": 2,
                    "padding": 1,
                }
            },
            {"cat": ["conv1d_1", "b"]},
            {"conv1d": {"out": 1, "kernel": 3}},
        ],
    }
)
@example(
    spec_dict={  # after a crop, padding lies inside the input: the field only bounds
        "input": [1, 1, 3],
        "layers": [{"center_crop": [1, 2]}, {"avgpool2d": {"kernel": [1, 2], "padding": [0, 1]}}],
    }
)
@example(
    spec_dict={  # U-Net's skip: up-convolution, a crop of the encoder's map, cat, conv
        "input": [2, 12],
        "layers": [
            {"conv1d": {"name": "enc", "out": 2, "kernel": 3}},
            {"maxpool1d": 2},
            {"conv1d": {"out": 4, "kernel": 3}},
            {"conv_transpose1d": {"name": "up", "out": 2, "kernel": 2, "stride": 2}},
            {"center_crop": {"name": "skip", "from": "enc", "size": 6}},
            {"cat": ["skip", "up"]},
            {"conv1d": {"out": 1, "kernel": 3}},
            {"upsample": {"scale": 2, "mode": "linear"}},
        ],
    }
)
@example(
    spec_dict={  # a block ending in adaptive pooling: the pool's own input decides its windows
        "input": [1, 2, 1],
        "layers": [
            {
                "repeat": {
                    "times": 1,
                    "layers": [
                        {"conv2d": {"out": 1, "kernel": [2, 1], "padding": [0, 1]}},
                        {"adaptive_avg_pool2d": {"output": [2, 1]}},
                    ],
                }
            }
        ],
    }
)
def test_receptive_field_matches_the_measured_one(spec_dict: dict[str, Any]) -> None:
    """Each node's analysed field against the gradient support of its units.

    A unit whose analysed field lies inside the input (inside every map on its
    way, after a crop) has exactly that support on every axis: every path of
    windows exists. One reaching into padding has a support within it. Where
    only unit 0 is checkable (_field_checks), its support lies within unit 0's
    analysed bounds, fractional ends rounded outwards (floor, ceil): an exact
    per-unit check is impossible in general once fields are fractional
    (upsampling, pixel_shuffle, strided transposed convs) or paths meet with
    different jumps.
    """
    spec = archcalc.from_dict(spec_dict)
    analysis = archcalc.analyze(spec)
    graph = _graph(analysis)
    in_sizes = analysis.input_shape[1:]
    model = archcalc.build(spec)
    rows = _node_rows(analysis)
    checks = _field_checks(analysis, model, rows)
    # Each (node, unit) to measure gets its own sample of the batch: the copy is
    # positive and batch-independent, so one backward pass measures them all.
    probes: list[tuple[int, tuple[int, ...]]] = []
    for node, row in sorted(rows.items()):
        rf = row.receptive_field
        if rf is None or rf.whole or len(row.output_shape) < 2 or checks[node].how == NONE:
            continue  # a flat or globally pooled unit sees everything by definition
        if checks[node].how == FIRST:
            probes.append((node, tuple(0 for _ in in_sizes)))
        else:
            probes += [(node, u) for u in _units(rf, row.output_shape[1:], checks[node].valid)]
    if not probes:
        return
    positive = _positive_linear_copy(model).eval()
    x = torch.ones(len(probes), *analysis.input_shape, requires_grad=True)
    values = _run(positive, graph, x)
    nodes = sorted({n for n, _ in probes})
    grads = {n: torch.zeros_like(values[n]) for n in nodes}
    for k, (n, unit) in enumerate(probes):
        at: Any = (k, slice(None), *unit)
        grads[n][at] = 1.0
    (dx,) = torch.autograd.grad([values[n] for n in nodes], x, [grads[n] for n in nodes])
    support = dx.sum(dim=1) > 0  # (probe, *spatial); every term is positive

    for k, (n, unit) in enumerate(probes):
        rf = rows[n].receptive_field
        assert rf is not None
        every = checks[n].how == EVERY
        field = [
            (lo + u * int(j), hi + u * int(j)) if every else (lo, hi)
            for (lo, hi), u, j in zip(_half_bounds(rf, every), unit, rf.jump, strict=True)
        ]
        inside = every and _inside(field, checks[n].valid)
        for axis, (lo, hi) in enumerate(field):
            others = tuple(a for a in range(len(in_sizes)) if a != axis)
            measured = _extent(support[k].any(dim=others) if others else support[k])
            where = f"{rows[n].path} unit {unit} axis {axis}: analysed [{lo}, {hi}]"
            if inside:
                # Inside the valid region every path of windows exists: the extremes are reached.
                assert measured == (lo, hi), f"{where}, measured {measured}"
            elif measured is not None:
                # Padding pixels do not exist in the input: only containment is certain.
                assert lo <= measured[0] and measured[1] <= hi, f"{where}, measured {measured}"


# ---------------------------------------------------------------- specs torch rejects


def _torch_layer(entry: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
    """Run the offending layer as torch itself would, written out without archcalc's rules."""
    ((kind, args),) = entry.items()
    rank = x.dim() - 2

    def axes(v: Any, default: int | None) -> Any:
        return default if v is None else tuple(v) if isinstance(v, list) else v

    if kind == "concat":
        outs = []
        for branch in args:
            part = archcalc.from_dict({"input": list(x.shape[1:]), "layers": branch})
            outs.append(archcalc.build(part).eval()(x))
        return torch.cat(outs, dim=1)
    if kind == "pixel_shuffle":
        return nn.PixelShuffle(args)(x)
    if kind.startswith("conv_transpose"):
        return getattr(nn, f"ConvTranspose{rank}d")(
            x.shape[1],
            args["out"],
            args["kernel"],
            stride=args["stride"],
            dilation=args["dilation"],
            output_padding=tuple(args["output_padding"]),
        )(x)
    if kind == "pad":  # F.pad lists the last axis first
        pads = [p for p in reversed(args["padding"]) for _ in (0, 1)]
        return nn.functional.pad(x, pads, mode=args["mode"])
    if kind == "upsample":
        return nn.Upsample(scale_factor=args["scale"], mode=args["mode"])(x)
    if kind.startswith("instancenorm"):
        return getattr(nn, f"InstanceNorm{rank}d")(x.shape[1], affine=args["affine"]).eval()(x)
    if kind.startswith("conv"):
        return getattr(nn, f"Conv{rank}d")(
            x.shape[1],
            args["out"],
            axes(args["kernel"], 1),
            stride=axes(args.get("stride"), 1),
            padding=axes(args.get("padding"), 0),
            dilation=axes(args.get("dilation"), 1),
            groups=args.get("groups", 1),
        )(x)
    pool = getattr(nn, f"{'Max' if kind.startswith('max') else 'Avg'}Pool{rank}d")
    return pool(
        axes(args["kernel"], 1),
        stride=axes(args.get("stride"), None),
        padding=axes(args.get("padding"), 0),
    )(x)


@given(spec_dict=invalid_specs())
def test_specs_torch_rejects_are_archcalc_errors(spec_dict: dict[str, Any]) -> None:
    *prefix, bad = spec_dict["layers"]
    with pytest.raises(archcalc.ArchcalcError, match=rf"layers\[{len(prefix)}\]"):
        archcalc.analyze(archcalc.from_dict(spec_dict))

    x = torch.zeros(2, *spec_dict["input"])
    with torch.no_grad():
        if prefix:
            x = archcalc.build(archcalc.from_dict({**spec_dict, "layers": prefix})).eval()(x)
        with pytest.raises((RuntimeError, ValueError)):
            _torch_layer(bad, x)
