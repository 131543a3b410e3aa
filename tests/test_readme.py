"""README's pasted outputs are what the commands print today."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import archcalc
from tests.helpers import ROOT, run_cli

README = (ROOT / "README.md").read_text()

COMMANDS = [
    "summary examples/mnist_cnn.yaml",
    "compare examples/lenet5.yaml examples/mnist_cnn.yaml examples/mnist_gap.yaml "
    "examples/vgg16.yaml",
    "scale examples/mnist_cnn.yaml --sizes 28,56,112,224",
    "scale examples/mnist_gap.yaml --sizes 28,56,112,224",
    "fit examples/resnet50.yaml --memory 24GiB --dtype bf16 --optimizer adamw",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_pasted_output_is_current(command: str) -> None:
    # README shows the output at its natural width, as piped with no $COLUMNS (or in a wide
    # terminal); pytest's own process has COLUMNS set, which would make the tables fit it.
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    result = subprocess.run(
        [sys.executable, "-m", "archcalc", *command.split()],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
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


DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_docs_explain_themselves_without_files_outside_the_repository(doc: Path) -> None:
    text = doc.read_text()
    assert "DESIGN.md" not in text
    assert "../shared" not in text


def test_the_zoo_table_has_the_analysis_numbers() -> None:
    rows = re.findall(
        r"^\| \[(\w+)\]\(examples/\1\.yaml\) \| ([\d,]+) \| ([\d,]+) \| (\d+) \|", README, re.M
    )
    assert len(rows) >= 9, rows
    for name, params, macs, layers in rows:
        a = archcalc.analyze(archcalc.load(ROOT / "examples" / f"{name}.yaml"))
        shown = (int(params.replace(",", "")), int(macs.replace(",", "")), int(layers))
        assert shown == (a.totals.params, a.totals.macs, len(a.rows)), name
