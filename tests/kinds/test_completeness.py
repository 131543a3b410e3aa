"""Every registered layer kind is complete: one unit that knows everything about itself.

A kind declares its torch class, how to read that class back (``from_torch``),
its traits, its window, its receptive-field step and what autograd saves for its
backward (``saves``, measured against torch by tests/kinds/test_saved.py); it has a hypothesis
drawer in archcalc/testing/strategies.py (so the property suite proves its
shapes, parameters and MACs against torch) and an RF probe in
tests/properties/test_against_torch.py. Each failure names what a kind still
lacks.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archcalc.bridge.summarize.torch_kinds import known_kind, torch_class
from archcalc.kinds import REGISTRY
from archcalc.kinds.base import GLOBAL, ArgReader, LayerKind, Shape
from archcalc.spec.tree import from_python
from archcalc.testing import strategies
from tests.properties.test_against_torch import RF_PROBED

KINDS = sorted(REGISTRY)


def _lacks(kind: LayerKind[Any]) -> list[str]:
    lacks = kind.missing()
    if kind.torch_type and torch_class(kind) is None:
        lacks.append(f"a torch class: torch_type {kind.torch_type!r} names none")
    cls = torch_class(kind)
    if cls is not None and cls not in RF_PROBED:
        lacks.append(
            f"an RF probe: add {cls.__name__} to tests/properties/test_against_torch.py's "
            "_positive_linear_copy tables"
        )
    if kind.name not in strategies.DRAWN_KINDS:
        lacks.append("a hypothesis drawer in archcalc/testing/strategies.py (DRAWERS)")
    t = kind.traits
    if t is not None:
        if t.family == "activations" and t.activation is None and not t.pass_through:
            lacks.append("an activation family in its traits (relu, saturating, smooth, softmax)")
        if t.activation == "saturating" and t.max_derivative is None:
            lacks.append("a max_derivative in its traits (lint AC105 bounds the gradient by it)")
        if t.max_derivative is not None and not (
            t.max_derivative > 0 and math.isfinite(t.max_derivative)
        ):
            lacks.append(f"a finite positive max_derivative, not {t.max_derivative}")
    return lacks


@pytest.mark.parametrize("name", KINDS)
def test_every_kind_declares_everything(name: str) -> None:
    lacks = _lacks(REGISTRY[name])
    assert not lacks, f"layer kind {name!r} still lacks: " + "; ".join(lacks)


def test_a_kind_that_lacks_something_is_named_with_what_it_lacks() -> None:
    bare = LayerKind(
        name="bare",
        parse=lambda r: None,
        apply=REGISTRY["relu"].apply,
        operation=REGISTRY["relu"].operation,
        to_torch=REGISTRY["relu"].to_torch,
    )
    lacks = _lacks(bare)
    for field in ("torch_type", "from_torch", "traits", "window", "rf_step", "summary", "saves"):
        assert field in lacks
    assert any("hypothesis drawer" in item for item in lacks)


def test_traits_fill_the_tables_lint_and_anatomy_read() -> None:
    from archcalc.design.anatomy import WEIGHT_KINDS
    from archcalc.design.lint import MAX_DERIVATIVE, NORMALISERS, PASS_THROUGH

    assert {"conv2d", "linear"} <= WEIGHT_KINDS
    assert {"conv1d", "conv3d"} <= WEIGHT_KINDS
    assert "relu" not in WEIGHT_KINDS and "maxpool2d" not in WEIGHT_KINDS
    assert MAX_DERIVATIVE == {"sigmoid": 0.25, "tanh": 1.0, "hardsigmoid": 1 / 6}
    assert {"batchnorm1d", "batchnorm2d", "batchnorm3d"} <= NORMALISERS
    assert {"dropout", "dropout1d", "dropout2d", "dropout3d", "identity"} <= PASS_THROUGH
    assert "relu" not in NORMALISERS | PASS_THROUGH
    assert REGISTRY["conv2d"].traits and REGISTRY["conv2d"].traits.family == "conv"
    assert REGISTRY["silu"].traits and REGISTRY["silu"].traits.family == "activations"


@st.composite
def _drawn(draw: st.DrawFn, name: str) -> tuple[Any, Shape]:
    """A layer of kind ``name`` and an input of one of its ranks: F, C×L, C×H×W or C×D×H×W."""
    rank = draw(st.sampled_from(strategies.kind_ranks(name)))
    shape = draw(strategies.shapes(rank, max_channels=4, max_size=16))
    entry = draw(strategies.layer(name, shape))
    assert strategies.output_shape([entry], shape) is not None, (entry, shape)
    return entry, shape


@pytest.mark.parametrize("name", KINDS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_each_kind_round_trips_through_torch_and_its_window_is_its_step(
    name: str, data: st.DataObject
) -> None:
    kind = REGISTRY[name]
    entry, shape = data.draw(_drawn(name))
    key, raw = (entry, None) if isinstance(entry, str) else next(iter(entry.items()))
    assert key == name, f"strategies.layer({name!r}) drew {entry!r}"
    args = kind.parse(ArgReader(name, from_python(raw), kind.main_arg))
    effect = kind.apply(args, shape)

    # to_torch builds exactly torch_type (or, as pad by mode and rank, one of its aliases),
    # and from_torch reads the same arguments back.
    module = kind.to_torch(args, shape)
    assert type(module).__name__ in (kind.torch_type, *kind.torch_aliases)
    known = known_kind(module, shape)
    assert known is not None, f"{name}: from_torch refused the module to_torch built"
    assert known.kind == name
    assert known.operation() == kind.operation(args, shape)
    # The same arguments, or (prelu per channel on one channel: torch's PReLU(1)) the same layer.
    assert known.args == args or known.effect(shape) == effect, (known.args, args)

    # The receptive-field step is the one apply reports, and the window's when it has one.
    assert kind.rf_step is not None and kind.window is not None
    step = kind.rf_step(args, shape)
    assert step == effect.rf
    window = kind.window(args, shape)
    if window is None or step is GLOBAL:
        return
    assert step == window.step()
    # The full window (pads after included) accounts for every output size on every
    # spatial axis, except adaptive pooling to a size that does not divide the input
    # (torch's windows then differ in size; the window is the nearest regular one).
    for axis in range(len(shape) - 1):
        n, out = shape[1 + axis], effect.output_shape[1 + axis]
        if name.startswith("adaptive_") and n % out:
            continue
        before, after = window.pads[axis]
        k = window.effective_kernel[axis]
        assert (n + before + after - k) // window.stride[axis] + 1 == out, (name, axis, window)


def test_docs_kinds_table_names_every_kind() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "spec.md").read_text(encoding="utf-8")
    table = doc[doc.index("## Kinds") : doc.index("## Layers and arguments")]
    undocumented = [
        name
        for name, kind in sorted(REGISTRY.items())
        if f"`{name}`" not in table or f"`{kind.torch_type}" not in table
    ]
    assert not undocumented, (
        f"docs/spec.md's kinds table lacks (kind or torch module): {undocumented}"
    )
