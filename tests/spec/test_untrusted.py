"""Whatever a spec holds, loading and analysing it ends in a Spec or an ArchcalcError.

Hypothesis writes arbitrary structures of the spec's vocabulary: right and
wrong kinds, arguments, types and nesting. Nothing may escape as another
exception.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archcalc
from archcalc.errors import ArchcalcError
from archcalc.kinds import REGISTRY

WORDS = [
    *REGISTRY,
    "repeat",
    "residual",
    "concat",
    "blk",
    "conv",
    "name",
    "out",
    "kernel",
    "stride",
    "padding",
    "dilation",
    "groups",
    "bias",
    "times",
    "layers",
    "shortcut",
    "branches",
    "p",
    "output",
    "flatten",
    "ceil_mode",
    "same",
    "$c",
    "c",
    "size",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 40),
    st.floats(allow_nan=True),
    st.sampled_from(WORDS),
    st.text(max_size=4),
)
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(WORDS), inner, max_size=3),
    ),
    max_leaves=25,
)
layer = st.one_of(
    st.sampled_from(WORDS),
    st.builds(lambda k, v: {k: v}, st.sampled_from(WORDS), values),
)
specs = st.fixed_dictionaries(
    {
        "input": st.one_of(values, st.lists(st.integers(-1, 12), min_size=1, max_size=4)),
        "layers": st.lists(layer, max_size=6),
    },
    optional={
        "blocks": st.dictionaries(
            st.just("blk"),
            st.fixed_dictionaries(
                {"params": st.just(["c"]), "layers": st.lists(layer, max_size=3)}
            ),
        ),
        "name": scalars,
    },
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_any_spec_is_accepted_or_refused_cleanly(data: dict[str, Any]) -> None:
    try:
        spec = archcalc.from_dict(data)
        analysis = archcalc.analyze(spec)
    except ArchcalcError as err:
        assert str(err)  # one readable line
        assert "\n" not in str(err)
        return
    assert sum(r.params for r in analysis.rows) == analysis.totals.params


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_any_text_is_accepted_or_refused_cleanly(text: str) -> None:
    try:
        archcalc.analyze(archcalc.loads(text, filename="fuzz.yaml"))
    except ArchcalcError as err:
        assert str(err).startswith("fuzz.yaml")
