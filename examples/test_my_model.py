"""A user's own test file: archcalc's assertions on a spec and on a torch module.

Run it with ``pytest examples/test_my_model.py``. The functions come from
``archcalc.testing``; the ``archcalc_check`` fixture is the same thing, offered
by the pytest plugin archcalc installs. Every check is ``(target, expected)``,
with ``input_shape=`` by keyword where the target is a torch module or another
size than the spec's own is wanted. A failing check prints a table of
every layer asked about, expected against actual.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archcalc.testing import assert_params, assert_receptive_field, assert_shapes

SPEC = Path(__file__).with_name("mnist_cnn.yaml")


def test_spec_shapes() -> None:
    assert_shapes(
        SPEC,
        {
            "conv1": (16, 28, 28),
            "pool1": (16, 14, 14),
            "pool2": (32, 7, 7),
            "fc1": 128,
            "fc2": (10,),
        },
    )


def test_spec_params() -> None:
    assert_params(SPEC, {"conv1": 160, "conv2": 4640, "fc1": 200832, "fc2": 1290})
    assert_params(SPEC, 206922)


def test_spec_receptive_fields() -> None:
    assert_receptive_field(
        SPEC, {"conv1": 3, "pool1": 4, "conv2": 8, "pool2": (10, 10), "fc1": "all"}
    )


def test_spec_at_another_input_size(archcalc_check: Any) -> None:
    archcalc_check.shapes(SPEC, {"pool2": (32, 14, 14)}, input_shape=(1, 56, 56))
    archcalc_check.params(SPEC, {"fc1": 32 * 14 * 14 * 128 + 128}, input_shape=(1, 56, 56))


def small_cnn() -> Any:
    torch = pytest.importorskip("torch")
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )


def test_module_with_the_fixture(archcalc_check: Any) -> None:
    model = small_cnn()
    archcalc_check.shapes(
        model,
        {"0": (8, 28, 28), "2": (8, 14, 14), "3": (16, 12, 12), "7": (10,)},
        input_shape=(1, 28, 28),
    )
    archcalc_check.params(model, {"0": 80, "3": 1168, "7": 170}, input_shape=(1, 28, 28))
    archcalc_check.params(model, 80 + 1168 + 170, input_shape=(1, 28, 28))
    archcalc_check.receptive_field(
        model, {"2": 4, "3": (8, 8), "7": "all"}, input_shape=(1, 28, 28)
    )


def test_module_with_the_functions() -> None:
    model = small_cnn()
    assert_params(model, {"3": 8 * 16 * 9 + 16}, input_shape=(1, 28, 28))
    analysis = assert_shapes(model, {"3": (16, 14, 14)}, input_shape=(1, 32, 32))
    assert analysis.totals.macs == 8 * 32 * 32 * 9 + 16 * 14 * 14 * 8 * 9 + 16 * 10
