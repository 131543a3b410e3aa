"""The pytest plugin (entry point ``pytest11: archcalc``): the ``archcalc_check`` fixture.

pytest loads this module in every run of every project where archcalc is
installed, so it imports nothing but pytest until the fixture is used.

    def test_my_model(archcalc_check):
        archcalc_check.shapes("model.yaml", {"conv1": (16, 28, 28)})
        archcalc_check.params(my_module, {"fc1": 200832}, input_shape=(1, 28, 28))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from archcalc.testing.assertions import Checker


@pytest.fixture
def archcalc_check() -> Checker:
    """archcalc's assertions as methods: ``.shapes``, ``.params``, ``.receptive_field``."""
    from archcalc.testing.assertions import Checker

    return Checker()
