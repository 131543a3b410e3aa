"""README's pasted outputs are what the commands print today."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import ROOT, run_cli

README = (ROOT / "README.md").read_text()

COMMANDS = [
    "summary examples/mnist_cnn.yaml",
    "compare examples/lenet5.yaml examples/mnist_cnn.yaml examples/mnist_gap.yaml "
    "examples/vgg16.yaml",
    "scale examples/mnist_cnn.yaml --sizes 28,56,112,224",
    "scale examples/mnist_gap.yaml --sizes 28,56,112,224",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_pasted_output_is_current(command: str) -> None:
    result = run_cli(*command.split())
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip() in README, f"README's output of `archcalc {command}` is stale"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "bad.yaml",
            "input: [1, 28, 28]\nlayers:\n  - conv2d: {out: 4, kernel: 3}\n"
            "  - linear: {name: fc1, out: 10}\n",
        ),
        ("typo.yaml", "input: [1, 28, 28]\nlayers:\n  - conv2: {out: 16, kernel: 3}\n"),
    ],
)
def test_error_examples_are_current(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    result = run_cli("summary", name, cwd=tmp_path)
    assert result.returncode == 2
    assert f"$ archcalc summary {name}\n{result.stderr}" in README
