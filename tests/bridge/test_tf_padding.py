"""TensorFlow's padding: per-side pads and `same` at any stride, exact in shapes,
parameters and receptive fields, and built with an explicit pad where torch's layer cannot.

MobileNet v1 as TensorFlow defines it (224 → 112, 56, 28, 14, 7) has an effective
stride of 32, an effective padding of 126 and a field of 315, and TF-slim's Inception v2
699, 32 and 318 (Araujo et al., Distill 2019, table of published fields); each field is
also measured by back-propagation through a positive linear copy of the built module.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import archcalc
from archcalc.bridge import modules
from archcalc.bridge.summarize import summarize
from archcalc.errors import ArchcalcError
from tests.helpers import EXAMPLES


def _positive_copy(model: nn.Module) -> nn.Module:
    """Equal positive weights, nothing non-linear: a pixel has a gradient exactly in the field.

    A max pool becomes an average over the same windows: a max passes its gradient to one
    pixel of each window, which would hide the rest of the field.
    """
    m = copy.deepcopy(model).eval()
    for name, mod in list(m.named_modules()):
        parent, _, child = name.rpartition(".")
        owner = m.get_submodule(parent) if parent else m
        if isinstance(mod, (nn.BatchNorm2d, nn.ReLU6, nn.ReLU, nn.Dropout)):
            setattr(owner, child, nn.Identity())
        elif isinstance(mod, modules.PaddedMaxPool2d):
            setattr(owner, child, modules.PaddedAvgPool2d(mod.kernel_size, mod.stride, mod.sides))
        elif isinstance(mod, nn.MaxPool2d):
            assert mod.dilation in (1, (1, 1)) and not mod.ceil_mode
            setattr(owner, child, nn.AvgPool2d(mod.kernel_size, mod.stride, mod.padding))
        elif isinstance(mod, (nn.Conv2d, nn.Linear)):
            with torch.no_grad():
                mod.weight.fill_(1.0 / mod.weight[0].numel())
                if mod.bias is not None:
                    mod.bias.zero_()
    return m


def _measured_span(model: nn.Module, upto: str, shape: tuple[int, ...], unit: int) -> list[int]:
    """Rows of the input with a gradient for unit (unit, unit) of ``upto``'s output."""
    out: dict[str, torch.Tensor] = {}
    model.get_submodule(upto).register_forward_hook(lambda m, i, o: out.__setitem__("y", o))
    x = torch.ones((1, *shape), requires_grad=True)
    model(x)
    out["y"][0, :, unit, unit].sum().backward()
    assert x.grad is not None
    rows = torch.nonzero(x.grad[0].abs().sum(dim=(0, 2)) > 0).flatten().tolist()
    cols = torch.nonzero(x.grad[0].abs().sum(dim=(0, 1)) > 0).flatten().tolist()
    assert rows == cols
    return [rows[0], rows[-1]]


def _measured_axis(
    model: nn.Module, upto: str, shape: tuple[int, ...], axis: int, units: list[int]
) -> list[list[int]]:
    """First and last pixel along ``axis`` (0: rows, 1: columns) with a gradient, for each
    unit at ``units[i]`` along that axis (0 along the other) of ``upto``'s output; one
    sample of the batch per unit, so one pass measures them all."""
    out: dict[str, torch.Tensor] = {}
    hook = model.get_submodule(upto).register_forward_hook(lambda m, i, o: out.__setitem__("y", o))
    x = torch.ones((len(units), *shape), requires_grad=True)
    model(x)
    hook.remove()
    y = out["y"]
    picked = [y[b, :, u, 0] if axis == 0 else y[b, :, 0, u] for b, u in enumerate(units)]
    torch.stack(picked).sum().backward()
    assert x.grad is not None
    spans = []
    for g in x.grad:
        pixels = torch.nonzero(g.abs().sum(dim=(0, 2 - axis)) > 0).flatten().tolist()
        assert pixels == list(range(pixels[0], pixels[-1] + 1))  # the field has no holes
        spans.append([pixels[0], pixels[-1]])
    return spans


def test_mobilenet_v1_tf_shapes_and_final_field() -> None:
    spec = archcalc.load(EXAMPLES / "mobilenet_v1_tf.yaml")
    a = archcalc.analyze(spec)
    sides = [r.output_shape[1] for r in a.rows if len(r.output_shape) == 3]
    assert sorted(set(sides), reverse=True) == [112, 56, 28, 14, 7]
    assert a.final is not None
    rf = a.final.field
    assert rf.size == (315, 315) and rf.jump == (32, 32)
    lo, _ = rf.bounds_x2()
    assert [-x // 2 for x in lo] == [126, 126]  # the effective padding
    # Keras' MobileNet: 4,231,976 trainable parameters (its BN statistics are buffers here).
    assert a.totals.params == 4_231_976
    model = archcalc.build(spec).eval()
    assert model(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)
    assert isinstance(model.get_submodule("conv1.conv"), modules.PaddedConv2d)
    assert isinstance(model.get_submodule("block1.dw"), nn.Conv2d)
    positive = _positive_copy(model)
    node = a.graph.nodes[a.final.node] if a.graph else None
    assert node is not None
    # The field's first and last reachable pixels, measured on two units of the last map.
    start, size, jump = rf.start[0], rf.size[0], rf.jump[0]
    for unit in (0, 6):
        centre = start + unit * jump
        expect = [max(0, int(centre - (size - 1) / 2)), min(223, int(centre + (size - 1) / 2))]
        assert _measured_span(positive, node.path, (3, 224, 224), unit) == expect


def test_padded_conv_keeps_its_keys_and_reads_back() -> None:
    spec = archcalc.loads(
        """
input: [3, 17, 17]
layers:
  - conv2d: {name: a, out: 4, kernel: 3, stride: 2, padding: same}
  - conv2d: {name: b, out: 4, kernel: [3, 2], padding: [[0, 1], [1, 0]]}
  - maxpool2d: {name: p, kernel: 3, stride: 2, padding: same}
  - avgpool2d: {name: q, kernel: 2, stride: 1, padding: [[0, 1], 0], count_include_pad: false}
  - conv2d: {name: c, out: 2, kernel: 3, padding: 1}
"""
    )
    a = archcalc.analyze(spec)
    assert [r.output_shape for r in a.rows] == [
        (4, 9, 9),
        (4, 8, 9),
        (4, 4, 5),
        (4, 4, 4),
        (2, 4, 4),
    ]
    model = archcalc.build(spec).eval()
    assert list(model.state_dict()) == [
        "a.weight",
        "a.bias",
        "b.weight",
        "b.bias",
        "c.weight",
        "c.bias",
    ]
    assert type(model.get_submodule("c")) is nn.Conv2d  # an ordinary conv stays torch's
    y = model(torch.randn(2, 3, 17, 17))
    assert tuple(y.shape[1:]) == a.output_shape
    back = summarize(model, (3, 17, 17))
    assert [(r.path, r.kind, r.output_shape, r.params) for r in back.rows] == [
        (r.path, r.kind, r.output_shape, r.params) for r in a.rows
    ]
    assert [r.receptive_field for r in back.rows] == [r.receptive_field for r in a.rows]
    assert back.totals.macs == a.totals.macs


def test_tf_average_pool_excludes_the_padding() -> None:
    pool = modules.PaddedAvgPool2d(3, 2, "same", count_include_pad=False)
    x = torch.ones(1, 1, 4, 4)
    assert torch.allclose(pool(x), torch.ones(1, 1, 2, 2))  # no zeros averaged in


def test_same_with_stride_one_is_torchs_same() -> None:
    spec = archcalc.loads("input: [1, 8, 8]\nlayers: [conv2d: {out: 1, kernel: 4, padding: same}]")
    (row,) = archcalc.analyze(spec).rows
    assert row.output_shape == (1, 8, 8)
    assert row.receptive_field is not None and row.receptive_field.start == (0.5, 0.5)
    assert type(archcalc.build(spec)[0]) is nn.Conv2d


def test_ceil_mode_with_per_side_padding_is_refused() -> None:
    with pytest.raises(ArchcalcError, match="ceil_mode"):
        archcalc.loads(
            "input: [1, 8, 8]\nlayers: [maxpool2d: {kernel: 3, stride: 2, "
            "padding: [[0, 1], [0, 1]], ceil_mode: true}]"
        )


def test_inception_v2_tf_shapes_and_final_field() -> None:
    spec = archcalc.load(EXAMPLES / "inception_v2_tf.yaml")
    a = archcalc.analyze(spec)
    sides = [r.output_shape[1] for r in a.rows if len(r.output_shape) == 3]
    assert sorted(set(sides), reverse=True) == [112, 56, 28, 14, 7]
    assert a.final is not None and a.final.path == "mixed5c.branches"
    assert a.final.output_shape == (1024, 7, 7)
    rf = a.final.field
    assert rf.size == (699, 699) and rf.jump == (32, 32)
    lo, _ = rf.bounds_x2()
    assert [-x // 2 for x in lo] == [318, 318]  # the effective padding
    final = a.to_dict()["final_receptive_field"]
    assert (final["size"], final["jump"], final["start"]) == ([699] * 2, [32] * 2, [31.0] * 2)
    model = archcalc.build(spec).eval()
    assert model(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)
    assert sum(p.numel() for p in model.parameters()) == a.totals.params
    assert isinstance(model.get_submodule("conv1a_depthwise"), modules.PaddedConv2d)
    assert isinstance(model.get_submodule("maxpool2a"), modules.PaddedMaxPool2d)
    positive = _positive_copy(model)
    # 699 pixels do not fit in 224, so each axis is measured on its own, 704 pixels long
    # and 1 wide (a field reaches along each axis independently): every stride-2 layer
    # still sees an even length (704 → 352 … 22), so TensorFlow's split, and with it the
    # field along that axis, is the one at 224.
    start, size, jump = rf.start[0], rf.size[0], rf.jump[0]
    units = [0, 10, 21]  # unit 10's field lies wholly inside (2 … 700); 0 and 21 are clipped
    expect = [
        [max(0, int(c - (size - 1) / 2)), min(703, int(c + (size - 1) / 2))]
        for c in (start + u * jump for u in units)
    ]
    assert expect[1] == [2, 700]
    for axis, shape in ((0, (3, 704, 1)), (1, (3, 1, 704))):
        at = archcalc.analyze(spec, input_shape=shape).final
        assert at is not None
        along = (at.field.size[axis], at.field.jump[axis], at.field.start[axis])
        assert along == (size, jump, start)
        assert _measured_axis(positive, a.final.path, shape, axis, units) == expect
