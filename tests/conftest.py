"""Hypothesis profiles for the whole suite.

- ``ci`` (the default): 100 examples per property, the same ones every run
  (derandomized, so CI never fails at random on code that did not change);
  no deadline, since a torch forward pass on a busy CI core varies in time.
- ``thorough``: 2,000 fresh random examples per property, for a search before a
  release or after touching a rule: ``pytest --hypothesis-profile=thorough``.
  A failure prints a blob to replay it with ``@reproduce_failure``. Each
  property reports its progress every 10 s (see the end of this file), since
  one property runs for minutes.

Hypothesis's pytest plugin loads the profile named on the command line after
this file has registered it; ``HYPOTHESIS_PROFILE`` picks one too.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
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


# -- progress for long property runs ------------------------------------------
# Under `thorough` one property runs for minutes with pytest showing nothing.
# Each hypothesis test then reports how far it got, every PROGRESS_EVERY_S
# seconds, on the terminal past pytest's capture (like a progress bar would).

PROGRESS_EVERY_S = 10.0


def _progress_wanted() -> bool:
    return settings().max_examples > settings.get_profile("ci").max_examples


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    handle = getattr(getattr(item, "obj", None), "hypothesis", None)
    if handle is None or not _progress_wanted():
        yield
        return
    original = handle.inner_test
    capture = item.config.pluginmanager.getplugin("capturemanager")
    terminal = item.config.pluginmanager.getplugin("terminalreporter")
    start = last = time.perf_counter()
    count = 0

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal count, last
        count += 1
        now = time.perf_counter()
        if now - last >= PROGRESS_EVERY_S and terminal is not None:
            last = now
            with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
                terminal.ensure_newline()
                terminal.write_line(
                    f"  {item.nodeid}: {count:,} examples in {now - start:.0f} s "
                    f"(of up to {settings().max_examples:,})"
                )
        return original(*args, **kwargs)

    # Hypothesis reads `inner_test` when the test runs, so it may be swapped (documented).
    handle.inner_test = counted
    try:
        yield
    finally:
        handle.inner_test = original
