"""``archcalc summary --module PKG.MOD:NAME`` end to end, as a user runs it."""

from __future__ import annotations

import json

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
