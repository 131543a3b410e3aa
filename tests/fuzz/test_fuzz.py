"""The promise for untrusted specs, fuzzed: a result or one located line, never a traceback.

Every spec-reading command (archcalc.testing.fuzzing.COMMANDS) runs on each
drawn text, in this process. The draws are derandomized, so CI sees the same
few hundred cases every run; ``python benchmarks/fuzz.py --minutes N`` searches
at random. Bounds are the promise's (1 s, 200 MiB) with the time widened to
5 s for a loaded CI machine.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from archcalc.testing.fuzzing import (
    STRATEGIES,
    CommandResult,
    MiB,
    classify,
    example_texts,
    hostile_specs,
    rss_supported,
    run_case,
)

MEMORY = "rss" if rss_supported() else "tracemalloc"
TIME_LIMIT = 5.0
# Cases per strategy: about 30 s in all on a laptop core.
EXAMPLES = {"mutated_examples": 80, "spec_structures": 15, "yaml_features": 45, "raw_bytes": 30}


def _assert_kept(text: str | bytes) -> None:
    outcome = run_case(
        text, time_limit=TIME_LIMIT, memory_limit=200 * MiB, memory=MEMORY, hard_limit=10
    )
    assert not outcome.escapes, f"spec {text[:300]!a}\n{outcome.describe()}"


def _fuzz(name: str) -> Any:
    @settings(
        max_examples=EXAMPLES[name],
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(STRATEGIES[name])
    def check(text: str | bytes) -> None:
        _assert_kept(text)

    return check


test_mutated_examples = _fuzz("mutated_examples")
test_spec_structures = _fuzz("spec_structures")
test_yaml_features = _fuzz("yaml_features")
test_raw_bytes = _fuzz("raw_bytes")


@pytest.mark.parametrize("name", list(hostile_specs()))
def test_hostile_spec_keeps_the_promise(name: str) -> None:
    _assert_kept(hostile_specs()[name])


@pytest.mark.parametrize("name", sorted(example_texts()))
def test_every_example_keeps_the_promise(name: str) -> None:
    outcome = run_case(example_texts()[name], time_limit=TIME_LIMIT, memory=MEMORY)
    assert not outcome.escapes, outcome.describe()
    assert {r.status for r in outcome.results} <= {0, 1}


# ---------------------------------------------------------------- the harness itself


def _result(status: int, stderr: str, stdout: str = "", seconds: float = 0.01) -> CommandResult:
    return CommandResult("check", ("check", "s.yaml"), status, stdout, stderr, seconds, 0)


@pytest.mark.parametrize(
    ("stderr", "problem"),
    [
        ("s.yaml:1:1: bad\n", None),
        ("s.yaml: bad\n", None),
        ("s.yaml:1:1: bad\nmore\n", "2 lines on stderr with exit 2"),
        ("", "0 lines on stderr with exit 2"),
        ("error: bad\n", "error line without the spec's path"),
        ("s.yaml:1:1: name \x1b[31mred\n", "raw ESC in the error line"),
        ("s.yaml:1:1: a\x00b\n", "raw NUL in the error line"),
        ("s.yaml:1:1: a\u202eb\n", "raw bidi control in the error line"),
        ("Traceback (most recent call last):\n", "traceback printed"),
    ],
)
def test_classify_error_lines(stderr: str, problem: str | None) -> None:
    assert classify(_result(2, stderr), ["s.yaml"], 1.0, 200 * MiB)[0] == problem


def test_classify_bounds_and_status() -> None:
    assert classify(_result(0, "", seconds=2.0), ["s.yaml"], 1.0, MiB)[0] == "time: over 1 s"
    assert classify(_result(3, ""), ["s.yaml"], 1.0, MiB)[0] == "exit status 3"
    assert classify(_result(0, "", stdout="\x1b]0;t\x07"), ["s.yaml"], 1.0, MiB)[0] == (
        "raw ESC on stdout"
    )


def test_run_case_reports_a_crash_as_an_escape(monkeypatch: pytest.MonkeyPatch) -> None:
    import archcalc.cli.check

    def boom(args: object) -> int:
        raise RecursionError("deep")

    monkeypatch.setattr(archcalc.cli.check, "run", boom)
    (result,) = run_case("input: [1, 8, 8]\nlayers: [relu]\n", commands=["check"]).results
    assert (result.problem or "").startswith("traceback: RecursionError")
    assert "RecursionError: deep" in result.detail
