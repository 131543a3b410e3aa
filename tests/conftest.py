"""Hypothesis profiles for the whole suite.

- ``ci`` (the default): 100 examples per property, the same ones every run
  (derandomized, so CI never fails at random on code that did not change);
  no deadline, since a torch forward pass on a busy CI core varies in time.
- ``thorough``: 2,000 fresh random examples per property, for a search before a
  release or after touching a rule: ``pytest --hypothesis-profile=thorough``.
  A failure prints a blob to replay it with ``@reproduce_failure``.

Hypothesis's pytest plugin loads the profile named on the command line after
this file has registered it; ``HYPOTHESIS_PROFILE`` picks one too.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Drawing a shape-aware spec of up to a dozen layers is slower than drawing an
# int; that is the test's work, not a symptom.
_SLOW_DRAWS = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=_SLOW_DRAWS,
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SLOW_DRAWS,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
