"""`pip install archcalc` has no torch: every command that needs it says so in one line.

Each test runs ``python -m archcalc`` with a fake ``torch`` (and ``torchvision``,
``matplotlib``) first on ``PYTHONPATH`` whose import fails as a missing package's
does, so the real ones installed for the suite stay out of reach.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

HIDDEN = ("torch", "torchvision", "matplotlib")
INSTALL = "pip install 'archcalc[torch]'"


@pytest.fixture(scope="module")
def no_torch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("no_torch")
    for name in HIDDEN:
        (root / name).mkdir()
        (root / name / "__init__.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{name}'\", name={name!r})\n"
        )
    return root


def run_without(no_torch: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(no_torch), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "archcalc", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )


def test_the_fake_really_hides_torch(no_torch: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(no_torch)}
    code = "import torch"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env)
    assert result.returncode == 1 and b"ModuleNotFoundError" in result.stderr


def test_analysis_commands_work_without_torch(no_torch: Path) -> None:
    result = run_without(no_torch, "summary", "examples/mnist_cnn.yaml", "--json")
    assert result.returncode == 0, result.stderr
    assert '"params": 206922' in result.stdout


def test_train_help_works_without_torch(no_torch: Path) -> None:
    result = run_without(no_torch, "train", "--help")
    assert result.returncode == 0, result.stderr
    assert "--data-dir" in result.stdout and result.stderr == ""


def test_train_help_without_torch_is_one_line_at_worst(no_torch: Path) -> None:
    result = run_without(no_torch, "train", "--help")
    assert result.returncode in (0, 2)
    assert "Traceback" not in result.stderr and result.stderr.count("\n") <= 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["train", "examples/mnist_cnn.yaml", "--epochs", "1"],
            f"error: archcalc train needs torch, which is not installed — {INSTALL}\n",
        ),
        (
            ["summary", "--module", "torchvision.models:resnet18", "--input", "3x32x32"],
            f"error: --module needs torch, which is not installed — {INSTALL}\n",
        ),
        (
            ["summary", "--module", "torchvision.models:resnet18", "--input", "3x32x32", "--json"],
            f"error: --module needs torch, which is not installed — {INSTALL}\n",
        ),
        (
            ["scale", "examples/mnist_gap.yaml", "--sizes", "28,56", "--plot", "never.png"],
            "error: --plot needs matplotlib, which is not installed — "
            "pip install 'archcalc[plot]'\n",
        ),
    ],
)
def test_torch_commands_say_so_in_one_line(
    no_torch: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    args = [str(ROOT / a) if a.endswith(".yaml") else a for a in args]
    result = run_without(no_torch, *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == message
    assert "Traceback" not in result.stdout
    assert not (tmp_path / "never.png").exists()
