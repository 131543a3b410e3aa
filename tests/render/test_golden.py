"""Rendered output compared with reviewed golden files (as torchinfo's tests do).

Regenerate after an intended change with ``ARCHCALC_UPDATE_GOLDEN=1 pytest tests/render``
and review the diff.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from rich.console import Console

import archcalc
from archcalc.analysis import estimate
from archcalc.render.markdown import summary as markdown_summary
from archcalc.render.table import print_summary
from tests.helpers import EXAMPLES

GOLDEN = Path(__file__).parent / "golden"
CASES = [("mnist_cnn", None), ("resnet18", 1), ("googlenet", 2), ("lenet5", None)]


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("ARCHCALC_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; run with ARCHCALC_UPDATE_GOLDEN=1"
    assert text == path.read_text()


@pytest.mark.parametrize(("spec", "depth"), CASES, ids=[c[0] for c in CASES])
def test_rich_table(spec: str, depth: int | None) -> None:
    analysis = archcalc.analyze(archcalc.load(EXAMPLES / f"{spec}.yaml"))
    out = io.StringIO()
    print_summary(analysis, estimate(analysis, 64), depth, Console(file=out, color_system=None))
    _check(f"{spec}-depth{depth}.txt", out.getvalue())


@pytest.mark.parametrize(("spec", "depth"), CASES, ids=[c[0] for c in CASES])
def test_markdown(spec: str, depth: int | None) -> None:
    analysis = archcalc.analyze(archcalc.load(EXAMPLES / f"{spec}.yaml"))
    _check(f"{spec}-depth{depth}.md", markdown_summary(analysis, depth, estimate(analysis, 64)))
