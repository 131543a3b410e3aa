"""The analysers against torch, on hypothesis-drawn specs.

For every drawn spec, the module ``archcalc.build`` makes is run, and what
torch does is compared with what archcalc says it will do, row by row:
output shapes, parameters and buffers, MACs, and receptive fields (measured
by back-propagation). Specs torch rejects must be ArchcalcErrors, never a
crash and never accepted.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from itertools import zip_longest
from typing import Any

import pytest
import torch
from hypothesis import example, given, settings
from torch import nn

import archcalc
from archcalc.analysis import Analysis, ReceptiveField, Row
from archcalc.analysis.receptive import initial
from archcalc.bridge.modules import Concat, GlobalAvgPool, Residual
from archcalc.testing.strategies import invalid_specs, specs

# These properties are what proves the analysers, so each runs three times the
# profile's examples (300 in CI); the profile is loaded before this module is.
_MORE = settings(max_examples=3 * settings().max_examples)
pytestmark = pytest.mark.filterwarnings(
    # torch's note that an even `same` kernel costs a padded copy: drawn on purpose
    "ignore:Using padding='same' with even kernel:UserWarning"
)


def _every_row(rows: tuple[Row, ...]) -> Iterator[Row]:
    """Every row of the tree, composites (residual, concat, branch, repeat copy) included."""
    for row in rows:
        yield row
        yield from _every_row(row.children)


def _hook_outputs(model: nn.Module, paths: list[str], seen: dict[str, Any]) -> list[Any]:
    def record(path: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            seen[path] = (inputs[0], out)

        return hook

    return [model.get_submodule(p).register_forward_hook(record(p)) for p in paths]


def _macs(module: nn.Module, x: torch.Tensor, out: torch.Tensor) -> int:
    """MACs per sample, counted from the real tensors of the forward pass.

    A conv does in_channels/groups·kh·kw multiply-adds per output element and a
    linear in·out per sample: the fvcore convention docs/spec.md uses. Hooks
    rather than FlopCounterMode, because these read the real shapes directly and
    cost nothing per op over hundreds of examples; the zoo test in
    tests/bridge/test_equivalence.py measures with FlopCounterMode instead.
    """
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return out[0].numel() * (x.shape[1] // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return x.shape[1] * out.shape[1]
    return 0


@_MORE
@given(spec_dict=specs())
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
def test_shapes_parameters_buffers_and_macs_match_torch(spec_dict: dict[str, Any]) -> None:
    spec = archcalc.from_dict(spec_dict)
    analysis = archcalc.analyze(spec)
    torch.manual_seed(0)
    model = archcalc.build(spec).eval()
    rows = list(_every_row(analysis.tree))
    seen: dict[str, Any] = {}
    _hook_outputs(model, [r.path for r in rows], seen)
    # Two samples: BatchNorm without running stats needs more than one value per channel.
    with torch.no_grad():
        y = model(torch.randn(2, *analysis.input_shape))

    assert tuple(y.shape[1:]) == analysis.output_shape
    for row in rows:
        assert tuple(seen[row.path][1].shape[1:]) == row.output_shape, row.path
    leaf_modules = {name for name, m in model.named_modules() if not list(m.children())}
    assert leaf_modules == {r.path for r in analysis.rows}
    for row in analysis.rows:
        module = model.get_submodule(row.path)
        params = [p for p in module.parameters()]
        assert sum(p.numel() for p in params) == row.params, row.path
        assert sum(p.numel() for p in params if p.requires_grad) == row.trainable_params, row.path
        assert sum(b.numel() for b in module.buffers()) == row.buffers, row.path
        assert row.macs == _macs(module, *seen[row.path]), row.path
    assert sum(p.numel() for p in model.parameters()) == analysis.totals.params
    assert sum(b.numel() for b in model.buffers()) == analysis.totals.buffers
    assert sum(r.macs or 0 for r in analysis.rows) == analysis.totals.macs


# ---------------------------------------------------------------- receptive fields


class _WindowMean(nn.Module):
    """A pooling layer's windows averaged: positive and linear, the same windows.

    Max pooling back-propagates to one pixel per window, so the field is
    measured through this instead. The output size is the real layer's (ceil_mode
    included); extra zeros on the right let the last, partial window exist.
    """

    def __init__(self, pool: nn.MaxPool2d | nn.AvgPool2d) -> None:
        super().__init__()
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def pair(v: Any) -> tuple[int, int]:
            return (v, v) if isinstance(v, int) else (v[0], v[1])

        p = self.pool
        (kh, kw), (sh, sw), (ph, pw) = pair(p.kernel_size), pair(p.stride), pair(p.padding)
        dh, dw = pair(getattr(p, "dilation", 1))
        oh, ow = p(x).shape[-2:]
        h, w = x.shape[-2:]
        extra_h = max(0, (oh - 1) * sh + dh * (kh - 1) + 1 - (h + 2 * ph))
        extra_w = max(0, (ow - 1) * sw + dw * (kw - 1) + 1 - (w + 2 * pw))
        padded = nn.functional.pad(x, (pw, pw + extra_w, ph, ph + extra_h))
        ones = torch.full((x.shape[1], 1, kh, kw), 1.0 / (kh * kw))
        y = nn.functional.conv2d(
            padded, ones, stride=(sh, sw), dilation=(dh, dw), groups=x.shape[1]
        )
        return y[..., :oh, :ow]


_DROPPED = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.LocalResponseNorm,
    nn.Dropout,
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
    nn.Dropout2d,
)
_KEPT = (nn.AdaptiveAvgPool2d, GlobalAvgPool, nn.Flatten, nn.Sequential, Residual, Concat)
_WEIGHTED = (nn.Conv2d, nn.Linear)
_POOLS = (nn.MaxPool2d, nn.AvgPool2d)
# Every module class whose receptive field the copy below knows how to measure:
# tests/kinds/test_completeness.py requires each kind's torch class to be here.
RF_PROBED: frozenset[type[nn.Module]] = frozenset((*_DROPPED, *_KEPT, *_WEIGHTED, *_POOLS))


def _positive_linear_copy(model: nn.Module) -> nn.Module:
    """The same network with equal positive weights, no bias, nothing non-linear or cancelling.

    Then an input pixel has a non-zero gradient for an output unit exactly when
    some path of windows joins them: the unit's receptive field. Activations,
    normalisation and dropout become the identity (they are elementwise, or,
    LRN, act across channels only); max pooling becomes a window mean. Weights
    are 1/fan-in rather than 1 so that float32 neither overflows nor underflows
    over a dozen layers (float64 convolutions on CPU are many times slower).
    """
    positive = copy.deepcopy(model)
    for name, module in list(positive.named_modules()):
        if isinstance(module, _WEIGHTED):
            with torch.no_grad():
                module.weight.fill_(1.0 / module.weight[0].numel())
                if module.bias is not None:
                    module.bias.zero_()
            continue
        if isinstance(module, _POOLS):
            new: nn.Module = _WindowMean(module)
        elif isinstance(module, _DROPPED):
            new = nn.Identity()
        elif isinstance(module, _KEPT) or module is positive:
            continue
        else:  # a new kind must say how its field is measured
            raise AssertionError(f"no positive copy for {type(module).__name__} at {name}")
        parent, _, child = name.rpartition(".")
        setattr(positive.get_submodule(parent), child, new)
    return positive


def _exact_field_rows(analysis: Analysis) -> set[str]:
    """Paths of the rows whose analysed field is exact for every unit, not only the first.

    Two things make archcalc's field an approximation (documented in
    archcalc/kinds/adaptive_pool.py and analysis/receptive.py::merge), after
    which a field cannot be checked unit by unit:
    - adaptive_avg_pool2d to a size that does not divide the input: torch's
      windows then differ in size, and archcalc uses the nearest regular one;
    - paths that meet with different jumps: the union of the paths' fields
      grows with the unit index at two rates, archcalc's one field at one.
    """
    exact: set[str] = set()

    def jump(rf: ReceptiveField | None) -> tuple[int, int] | None:
        return None if rf is None or rf.whole else rf.jump

    def walk(rows: tuple[Row, ...], rf: ReceptiveField | None, ok: bool) -> bool:
        for row in rows:
            if row.is_leaf:
                if row.kind == "adaptive_avg_pool2d":
                    (_, h, w), (_, oh, ow) = row.input_shape, row.output_shape
                    ok = ok and h % oh == 0 and w % ow == 0
            elif row.kind in ("residual", "concat"):
                paths = [c for c in row.children if c.kind in ("shortcut", "branch")]
                main = tuple(c for c in row.children if c.kind not in ("shortcut", "branch"))
                ends, oks = [], []
                if main or row.kind == "residual":  # a residual's main path, or its identity
                    oks.append(walk(main, rf, ok))
                    ends.append(main[-1].receptive_field if main else rf)
                for path in paths:
                    oks.append(walk((path,), rf, ok))
                    ends.append(path.receptive_field)
                if row.kind == "residual" and not any(c.kind == "shortcut" for c in paths):
                    ends.append(rf)  # the identity shortcut
                jumps = {jump(e) for e in ends} - {None}
                ok = all(oks) and len(jumps) <= 1
            else:
                ok = walk(row.children, rf, ok)
            if ok:
                exact.add(row.path)
            rf = row.receptive_field
        return ok

    walk(analysis.tree, initial(), True)
    return exact


def _extent(mask: torch.Tensor) -> tuple[int, int] | None:
    hits = torch.nonzero(mask).flatten().tolist()
    return (hits[0], hits[-1]) if hits else None


def _units(
    rf: ReceptiveField, out_hw: tuple[int, int], in_hw: tuple[int, int]
) -> list[tuple[int, int]]:
    """Units to measure: the first and last, and the first and last whose field lies inside.

    A unit's field is a rectangle, so one unit checks both axes; a unit whose
    field lies inside the input on both axes is the one that can be checked exactly.
    """
    (lo_x2, hi_x2) = rf.bounds_x2()
    assert lo_x2[0] % 2 == 0 and lo_x2[1] % 2 == 0  # a field's ends are whole pixels
    inside = []
    for axis in (0, 1):
        lo, hi, jump = lo_x2[axis] // 2, hi_x2[axis] // 2, rf.jump[axis]
        units = [
            i for i in range(out_hw[axis]) if lo + i * jump >= 0 and hi + i * jump < in_hw[axis]
        ]
        inside.append(sorted({units[0], units[-1]}) if units else [])
    picks = {(0, 0), (out_hw[0] - 1, out_hw[1] - 1)}
    if inside[0] and inside[1]:
        picks |= {
            (inside[0][0] if i is None else i, inside[1][0] if j is None else j)
            for i, j in zip_longest(*inside)
        }
    return sorted(picks)


@_MORE
@given(spec_dict=specs(flat_inputs=False))
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
def test_receptive_field_matches_the_measured_one(spec_dict: dict[str, Any]) -> None:
    spec = archcalc.from_dict(spec_dict)
    analysis = archcalc.analyze(spec)
    in_hw = (analysis.input_shape[1], analysis.input_shape[2])
    exact = _exact_field_rows(analysis)
    # Each (row, unit) to measure gets its own sample of the batch: the copy is
    # linear and batch-independent, so one backward pass measures them all.
    probes: list[tuple[Row, int, int]] = []
    for row in _every_row(analysis.tree):
        rf = row.receptive_field
        if rf is None or rf.whole or len(row.output_shape) != 3 or row.path not in exact:
            continue  # a flat or globally pooled unit sees everything by definition
        out_hw = (row.output_shape[1], row.output_shape[2])
        probes += [(row, i, j) for i, j in _units(rf, out_hw, in_hw)]
    if not probes:
        return
    positive = _positive_linear_copy(archcalc.build(spec)).eval()
    seen: dict[str, Any] = {}
    paths = sorted({row.path for row, _, _ in probes})
    _hook_outputs(positive, paths, seen)
    x = torch.ones(len(probes), *analysis.input_shape, requires_grad=True)
    positive(x)
    grads = {p: torch.zeros_like(seen[p][1]) for p in paths}
    for k, (row, i, j) in enumerate(probes):
        grads[row.path][k, :, i, j] = 1.0
    (dx,) = torch.autograd.grad([seen[p][1] for p in paths], x, [grads[p] for p in paths])
    support = dx.sum(dim=1) > 0  # (probe, H, W); every term is positive

    for k, (row, i, j) in enumerate(probes):
        rf = row.receptive_field
        assert rf is not None
        (lo_x2, hi_x2) = rf.bounds_x2()
        field = [
            (lo_x2[a] // 2 + unit * rf.jump[a], hi_x2[a] // 2 + unit * rf.jump[a])
            for a, unit in ((0, i), (1, j))
        ]
        inside = all(lo >= 0 and hi < n for (lo, hi), n in zip(field, in_hw, strict=True))
        for axis, mask in ((0, support[k].any(dim=1)), (1, support[k].any(dim=0))):
            lo, hi = field[axis]
            measured = _extent(mask)
            where = f"{row.path} unit {(i, j)} axis {'HW'[axis]}: analysed [{lo}, {hi}]"
            if inside:
                # Inside the input every path of windows exists, so the extremes are reached.
                assert measured == (lo, hi), f"{where}, measured {measured}"
            elif measured is not None:
                # Padding pixels do not exist in the input: only containment is certain.
                assert lo <= measured[0] and measured[1] <= hi, f"{where}, measured {measured}"


# ---------------------------------------------------------------- specs torch rejects


def _torch_layer(entry: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
    """Run the offending layer as torch itself would, written out without archcalc's rules."""
    ((kind, args),) = entry.items()

    def pair(v: Any, default: int | None) -> Any:
        return default if v is None else tuple(v) if isinstance(v, list) else v

    if kind == "concat":
        outs = []
        for branch in args:
            part = archcalc.from_dict({"input": list(x.shape[1:]), "layers": branch})
            outs.append(archcalc.build(part).eval()(x))
        return torch.cat(outs, dim=1)
    if kind == "conv2d":
        return nn.Conv2d(
            x.shape[1],
            args["out"],
            pair(args["kernel"], 1),
            stride=pair(args.get("stride"), 1),
            padding=pair(args.get("padding"), 0),
            dilation=pair(args.get("dilation"), 1),
            groups=args.get("groups", 1),
        )(x)
    pool = nn.MaxPool2d if kind == "maxpool2d" else nn.AvgPool2d
    return pool(
        pair(args["kernel"], 1),
        stride=pair(args.get("stride"), None),
        padding=pair(args.get("padding"), 0),
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
