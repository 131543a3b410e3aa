"""Specs inside every parse limit that used to blow up at analysis time, end to end.

Strided layers repeated thousands of times, concats doubling the channels,
absurd scalar arguments: each is one located line on stderr and exit 2 from
every command that analyses, never a traceback, never a hang (the timeout).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers import run_cli

LOCATED = re.compile(r"^\S+\.yaml:\d+:\d+: [^:]+: .+ — .+$")

SPECS = {
    "strided": (
        "input: [1, 1, 1]\nlayers:\n"
        "  - repeat: {times: 1000, layers: [{maxpool2d: {kernel: 1, stride: 2}}]}\n",
        r"maxpool2d repeat_0\.53\.maxpool2d_0\): the receptive field's effective stride on H",
    ),
    "ceil_mode": (
        "input: [1, 8, 8]\nlayers:\n  - repeat: {times: 1000, layers: "
        "[{maxpool2d: {kernel: 2, stride: 2, ceil_mode: true}}]}\n",
        r"effective stride on H .* past archcalc's limit of 2\^53",
    ),
    "concat": (
        "input: [1, 1, 1]\nlayers:\n  - repeat: {times: 1000, layers: "
        "[{concat: [[identity], [identity]]}]}\n",
        r"more than a torch tensor can count \(2\^63 − 1\)",
    ),
    "leaky_relu": (
        "input: [4]\nlayers:\n  - leaky_relu: 1.0e+300\n",
        r"`negative_slope` expects a finite number",
    ),
    "lrn": (
        "input: [3, 8, 8]\nlayers:\n  - local_response_norm: 2147483647\n",
        r"`size` expects at most 1024, but gets 2147483647",
    ),
}


def _one_located_line(stderr: str, message: str) -> None:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert LOCATED.match(lines[0]), lines[0]
    assert re.search(message, lines[0]), lines[0]


@pytest.fixture
def spec_file(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, str]:
    text, message = SPECS[request.param]
    path = tmp_path / f"{request.param}.yaml"
    path.write_text(text)
    return path, message


@pytest.mark.parametrize("spec_file", list(SPECS), indirect=True)
def test_check_refuses_in_one_located_line(spec_file: tuple[Path, str]) -> None:
    path, message = spec_file
    result = run_cli("check", str(path))
    assert result.returncode == 2
    _one_located_line(result.stderr, message)


@pytest.mark.parametrize(
    "command",
    [["summary"], ["summary", "--depth", "1"], ["summary", "--json"], ["lint"], ["compare"]],
)
@pytest.mark.parametrize("spec_file", ["strided", "concat"], indirect=True)
def test_every_analysing_command_refuses_alike(
    spec_file: tuple[Path, str], command: list[str]
) -> None:
    path, message = spec_file
    result = run_cli(*command, str(path))
    assert result.returncode == 2
    _one_located_line(result.stderr, message)
    if command[0] != "compare":  # compare keeps the table, the design's error in its column
        assert result.stdout == ""


@pytest.mark.parametrize("spec_file", ["strided"], indirect=True)
def test_report_refuses_and_writes_nothing(spec_file: tuple[Path, str], tmp_path: Path) -> None:
    path, message = spec_file
    out = tmp_path / "r.html"
    result = run_cli("report", str(path), "-o", str(out))
    assert result.returncode == 2
    _one_located_line(result.stderr, message)
    assert not out.exists()


@pytest.mark.parametrize("spec_file", ["strided"], indirect=True)
def test_scale_shows_the_refusal_in_each_column(spec_file: tuple[Path, str]) -> None:
    path, _ = spec_file
    result = run_cli("scale", str(path), "--sizes", "1,2", "--json")
    assert result.returncode == 0, result.stderr
    (series,) = json.loads(result.stdout)["specs"]
    failures = [p["failure"] for p in series["points"]]
    assert [f["kind"] for f in failures] == ["n/a", "n/a"]
    assert all("past archcalc's limit of 2^53" in f["reason"] for f in failures)
    assert "Traceback" not in result.stderr


def test_an_input_beyond_torch_s_element_count_is_located(tmp_path: Path) -> None:
    path = tmp_path / "wide.yaml"
    path.write_text("input: [2147483647, 2147483647, 2147483647]\nlayers: [relu]\n")
    result = run_cli("summary", str(path))
    assert result.returncode == 2
    _one_located_line(result.stderr, r"wide\.yaml:1:8: input: 2147483647×2147483647×2147483647")
