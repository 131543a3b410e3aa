"""The CLI's JSON writer gives exactly ``json.dumps(indent=2)`` with number lists folded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archcalc import analyze, load
from archcalc.render.jsontext import dumps, dumps_reference
from tests.helpers import EXAMPLES

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.5, -0.0, 1e-7, 1e22, 3.0, 2**70]),
    st.text(max_size=8),
    st.sampled_from(["[ 1 ]", "[\n 2,\n 3\n ]", "é\u2028\x1b", '"[  4  ]"']),
)
_KEYS = st.one_of(st.text(max_size=6), st.integers(), st.none(), st.booleans(), st.just("[ 5 ]"))
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(_KEYS, inner, max_size=4),
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_JSON)
def test_any_json_value(value: Any) -> None:
    assert dumps(value) == dumps_reference(value)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_summary(path: Path) -> None:
    data = analyze(load(path)).to_dict()
    assert dumps(data) == dumps_reference(data)
    assert json.loads(dumps(data)) == json.loads(json.dumps(data))


class _Int(int):
    pass


@pytest.mark.parametrize(
    "value",
    [_Int(3), [_Int(3), 4], {"a": _Int(1)}, {(1, 2): 3}, {"x": {1, 2}}, [float("nan")]],
    ids=["int-subclass", "in-list", "in-dict", "tuple-key", "set", "nan"],
)
def test_what_json_treats_its_own_way(value: Any) -> None:
    try:
        expected = dumps_reference(value)
    except TypeError as err:
        with pytest.raises(TypeError, match=str(err)):
            dumps(value)
    else:
        assert dumps(value) == expected
