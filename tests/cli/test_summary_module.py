"""``archcalc summary --module PKG.MOD:NAME`` end to end, as a user runs it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.helpers import run_cli

pytest.importorskip("torchvision")


def test_torchvision_resnet18_has_the_specs_totals() -> None:
    module = run_cli(
        "summary",
        "--module",
        "torchvision.models:resnet18",
        "--input",
        "3x224x224",
        "--json",
        timeout=180,
    )
    assert module.returncode == 0, module.stderr
    spec = run_cli("summary", "examples/resnet18.yaml", "--json")
    assert spec.returncode == 0, spec.stderr
    mine, theirs = json.loads(module.stdout), json.loads(spec.stdout)
    for key in ("params", "trainable_params", "buffers", "macs"):
        assert mine["totals"][key] == theirs["totals"][key], key
    assert mine["totals"]["params"] == 11689512
    assert mine["name"] == "torchvision.models:resnet18"
    assert mine["input_shape"] == [3, 224, 224] and mine["output_shape"] == [1000]
    assert [layer["path"] for layer in mine["layers"][:4]] == ["conv1", "bn1", "relu", "maxpool"]
    assert mine["layers"][0]["operation"] == "Conv2d(3, 64, 7, stride=2, pad=3, bias=False)"
    assert "uncounted" not in mine["totals"]


def test_table_with_keyword_arguments_and_depth() -> None:
    result = run_cli(
        "summary",
        "--module",
        "torchvision.models:resnet18(num_classes=10)",
        "--input",
        "3x32x32",
        "--depth",
        "1",
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    layer4 = next(line for line in lines if line.startswith("│ layer4 "))
    assert "Sequential" in layer4 and "8,393,728" in layer4 and "512×1×1" in layer4
    assert not any(line.startswith("│ layer4.0") for line in lines)  # folded at depth 1
    assert any(line.startswith("│ fc ") and "Linear(512, 10)" in line for line in lines)
    assert "11,181,642" in result.stdout  # resnet18's 11,689,512 with a 10-way head


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--module", "nosuchmod:x", "--input", "3x32x32"],
            "error: cannot import `nosuchmod`: ModuleNotFoundError: No module named 'nosuchmod'",
        ),
        (["--module", "torchvision.models:resnet18"], "error: --module needs --input CxHxW"),
        (
            [
                "examples/resnet18.yaml",
                "--module",
                "torchvision.models:resnet18",
                "--input",
                "3x32x32",
            ],
            "error: give a SPEC or --module, not both",
        ),
        (
            ["--module", "torchvision.models:resnet18", "--input", "1x32x32"],
            "error: forward on an input of 1×32×32 fails in conv1 (Conv2d): RuntimeError:",
        ),
    ],
)
def test_mistakes_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = run_cli("summary", *args, timeout=180)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1


USER_MODULE = """
import sys
import torch

print("hello from the user's module")  # must not reach --json's stdout


def good():
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten())


def exits():
    sys.exit(3)


def raises():
    raise ValueError("no weights here")


def not_a_module():
    return 42


NOT_CALLABLE = 7
"""


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    (tmp_path / "usermod.py").write_text(USER_MODULE)
    (tmp_path / "exits_on_import.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / "broken_import.py").write_text("import no_such_dependency_xyz\n")
    return tmp_path


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "exits_on_import:f",
            "error: importing `exits_on_import` fails: it calls sys.exit(3) — the error is in "
            "`exits_on_import` or what it imports",
        ),
        (
            "broken_import:f",
            "error: importing `broken_import` fails: ModuleNotFoundError: No module named "
            "'no_such_dependency_xyz' — the error is in `broken_import`",
        ),
        ("usermod:exits", "error: calling `usermod:exits` fails: it calls sys.exit(3)"),
        ("usermod:raises", "error: calling `usermod:raises` fails: ValueError: no weights here"),
        (
            "usermod:not_a_module",
            "error: `usermod:not_a_module` expects to give an nn.Module, but gives int",
        ),
        (
            "usermod:NOT_CALLABLE",
            "error: `usermod:NOT_CALLABLE` expects an nn.Module, a class or a factory, "
            "but gets int",
        ),
    ],
)
def test_a_failing_user_module_is_one_line_naming_it(
    user_dir: Path, target: str, message: str
) -> None:
    result = run_cli("summary", "--module", target, "--input", "1x8x8", "--json", cwd=user_dir)
    assert result.returncode == 2
    assert result.stdout == ""  # the module's print went to stderr, never into the JSON
    last = result.stderr.splitlines()[-1]
    assert last.startswith(message), result.stderr
    assert "Traceback" not in result.stderr


def test_a_user_module_that_prints_keeps_json_clean(user_dir: Path) -> None:
    result = run_cli(
        "summary", "--module", "usermod:good", "--input", "1x8x8", "--json", cwd=user_dir
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["params"] == 20
    assert "hello from the user's module" in result.stderr


def test_module_progress_shows_on_a_terminal_only(
    user_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from archcalc.cli.main import main

    monkeypatch.chdir(user_dir)
    args = ["summary", "--module", "usermod:good", "--input", "1x8x8", "--json"]
    assert main(args) == 0
    quiet = capsys.readouterr()
    assert "importing torch" not in quiet.err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(args) == 0
    shown = capsys.readouterr()
    assert shown.err.splitlines()[:2] == ["importing torch…", "tracing usermod:good at 1×8×8…"]
    assert json.loads(shown.out)["totals"]["params"] == 20  # stdout holds the JSON alone


OUTPUTS_MODULE = '''
import torch
from torch import nn


class Odd(nn.Module):
    """Two outputs, and an op without a cost rule in its own code."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)

    def forward(self, x):
        f = self.conv(x)
        return torch.fft.rfft2(f).abs(), f.mean((2, 3))


def make():
    return Odd()
'''


def test_several_outputs_and_the_uncounted_list_are_each_printed_once(tmp_path: Path) -> None:
    (tmp_path / "oddmod.py").write_text(OUTPUTS_MODULE)
    text = run_cli("summary", "--module", "oddmod:make", "--input", "1x8x8", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    uncounted = [line for line in text.stdout.splitlines() if "Odd (own operations)" in line]
    assert len(uncounted) == 2, text.stdout  # its row, and one line listing it
    assert "the forward gives 2 tensors: [0] 4×8×5, [1] 4" in text.stdout
    js = run_cli("summary", "--module", "oddmod:make", "--input", "1x8x8", "--json", cwd=tmp_path)
    assert js.returncode == 0, js.stderr
    data = json.loads(js.stdout)
    assert data["outputs"] == [{"name": "[0]", "shape": [4, 8, 5]}, {"name": "[1]", "shape": [4]}]
    assert data["output_shape"] == [4, 8, 5]
    assert data["totals"]["uncounted"] == ["Odd (own operations)"]
