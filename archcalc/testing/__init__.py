"""archcalc for a user's own tests: shape, parameter and receptive-field assertions.

>>> from archcalc.testing import assert_params
>>> _ = assert_params("examples/mnist_cnn.yaml", {"conv1": 160, "fc1": 200832})

The assertions are plain Python; torch is imported only to summarise a torch
module, and the hypothesis strategies (``archcalc.testing.strategies``) load
only when first used, so importing this package stays cheap. With archcalc
installed, pytest also offers the ``archcalc_check`` fixture
(:mod:`archcalc.testing.plugin`).
"""

from __future__ import annotations

import importlib
from typing import Any

from archcalc.testing.assertions import (
    Checker,
    analysis_of,
    assert_params,
    assert_receptive_field,
    assert_shapes,
)

__all__ = [
    "Checker",
    "analysis_of",
    "assert_params",
    "assert_receptive_field",
    "assert_shapes",
    "strategies",
]


def __getattr__(name: str) -> Any:
    # `archcalc.testing.strategies` needs hypothesis: load it on first use only.
    if name == "strategies":
        return importlib.import_module("archcalc.testing.strategies")
    raise AttributeError(f"module 'archcalc.testing' has no attribute {name!r}")
