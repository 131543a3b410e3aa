"""The report's data, written as JSON text directly, is exactly the dicts report_data encodes.

``data_json`` writes each layer's entry as one string (a third of the time at
the layer cap); ``script_json(report_data(...))`` is the definition it must
match byte for byte, on every example and on the fields' odd cases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archcalc import Analysis, analyze, from_dict, load
from archcalc.report.html import data_json, report_data, script_json
from tests.helpers import EXAMPLES


def _same(analysis: Analysis) -> None:
    assert data_json(analysis) == script_json(report_data(analysis))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example(path: Path) -> None:
    _same(analyze(load(path)))


@pytest.mark.parametrize(
    "spec",
    [
        # Names a script block must not end on, and text JSON escapes.
        {
            "name": '</script><!--"\\\u2028\u2029&é\x1b',
            "input": [1, 8, 8],
            "layers": [{"conv2d": {"name": "conv", "out": 4, "kernel": 3}}, "flatten", "relu"],
        },
        # Fields past the edge (negative starts, clipped), asymmetric, strided, dilated,
        # a window the size of the input, global pooling (the whole input) and a flat input.
        {
            "input": [3, 9, 7],
            "layers": [
                {"conv2d": {"out": 4, "kernel": [3, 5], "padding": [4, 0], "stride": [2, 1]}},
                {"conv2d": {"out": 4, "kernel": 3, "dilation": 3, "padding": 5}},
                {"maxpool2d": {"kernel": 2, "ceil_mode": True}},
                {"residual": {"layers": [{"conv2d": {"out": 4, "kernel": 1}}]}},
                {"adaptive_avg_pool2d": 1},
                "flatten",
                {"linear": 3},
            ],
        },
        {"input": [10], "layers": [{"linear": 4}, "relu", {"linear": 2}]},
        # Groups of every role in the tree: repeats of block calls, a concat, a residual.
        {
            "input": [2, 8, 8],
            "blocks": {"b": {"layers": [{"conv2d": {"out": 2, "kernel": 3, "padding": 1}}]}},
            "layers": [
                {"repeat": {"times": 3, "layers": ["b", "relu"]}},
                {"concat": [["b"], [{"residual": {"layers": ["b"]}}]]},
            ],
        },
        # A graph with a note (a merge of misaligned fields) and shared shapes.
        {
            "input": [2, 8, 8],
            "layers": [
                {"conv2d": {"name": "a", "out": 2, "kernel": 2, "stride": 2}},
                {"conv2d": {"name": "b", "from": "input", "out": 2, "kernel": 1, "stride": 2}},
                {"add": ["a", "b"]},
                "relu",
            ],
        },
    ],
    ids=["escapes", "fields", "flat", "groups", "graph"],
)
def test_odd_fields(spec: dict[str, Any]) -> None:
    analysis = analyze(from_dict(spec))
    _same(analysis)
    if any("add" in layer for layer in spec["layers"]):
        assert any(row.note for row in analysis.rows)  # the merge's note is in the data


def test_a_traced_module() -> None:
    torch = pytest.importorskip("torch")
    from archcalc import summarize

    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 2),
    )
    _same(summarize(net, (3, 8, 8)))
