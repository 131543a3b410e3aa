"""``archcalc summary`` end to end, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from archcalc.cli.main import main
from tests.helpers import EXAMPLES, ROOT, run_cli


def test_seed_json_is_the_chapters_table() -> None:
    result = run_cli("summary", "examples/mnist_cnn.yaml", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    by = {layer["path"]: layer for layer in data["layers"]}
    assert [
        by[p]["output_shape"]
        for p in ("conv1", "pool1", "conv2", "pool2", "flatten_6", "fc1", "fc2")
    ] == [[16, 28, 28], [16, 14, 14], [32, 14, 14], [32, 7, 7], [1568], [128], [10]]
    assert [by[p]["params"] for p in ("conv1", "conv2", "fc1", "fc2")] == [160, 4640, 200832, 1290]
    assert data["totals"]["params"] == 206922
    assert [by[p]["receptive_field"]["size"] for p in ("conv1", "pool1", "conv2", "pool2")] == [
        [3, 3],
        [4, 4],
        [8, 8],
        [10, 10],
    ]
    assert data["totals"]["macs"] == 1218048
    assert data["totals"]["activation_bytes"] == 177192
    # docs/json.md's example row, verbatim
    assert {
        k: by["conv1"][k]
        for k in (
            "path",
            "kind",
            "output_shape",
            "params",
            "trainable_params",
            "macs",
            "activation_bytes",
            "receptive_field",
        )
    } == {
        "path": "conv1",
        "kind": "conv2d",
        "output_shape": [16, 28, 28],
        "params": 160,
        "trainable_params": 160,
        "macs": 112896,
        "activation_bytes": 50176,
        "receptive_field": {"size": [3, 3], "jump": [1, 1], "start": [0.0, 0.0]},
    }


def test_table_shows_the_dominant_layer() -> None:
    result = run_cli("summary", "examples/mnist_cnn.yaml")
    assert result.returncode == 0, result.stderr
    assert "fc1 ◀ largest" in result.stdout
    assert "97.1%" in result.stdout
    assert "Largest layer: fc1 holds 200,832 of 206,922 parameters (97.1%)" in result.stdout
    assert "206,922" in result.stdout and "1,218,048" in result.stdout
    assert "MiB" in result.stdout or "KiB" in result.stdout


def test_input_override_and_batch() -> None:
    result = run_cli(
        "summary", "examples/mnist_cnn.yaml", "--input", "1x224x224", "--json", "--batch", "32"
    )
    data = json.loads(result.stdout)
    fc1 = next(layer for layer in data["layers"] if layer["path"] == "fc1")
    assert fc1["params"] == 32 * 56 * 56 * 128 + 128
    assert data["input_shape"] == [1, 224, 224]
    assert data["memory"]["batch"] == 32
    assert data["memory"]["activations"] == 32 * data["totals"]["activation_bytes"]
    hw = run_cli("summary", "examples/mnist_cnn.yaml", "--input", "56x56", "--json")
    assert json.loads(hw.stdout)["input_shape"] == [1, 56, 56]


def test_bad_input_flag_is_a_usage_error() -> None:
    result = run_cli("summary", "examples/mnist_cnn.yaml", "--input", "3xbig")
    assert result.returncode == 2
    assert "expects sizes like 3x224x224, but gets '3xbig'" in result.stderr


def test_too_small_input_names_the_layer_that_collapses() -> None:
    result = run_cli("summary", "examples/mnist_cnn.yaml", "--input", "1x3x3")
    assert result.returncode == 2
    assert result.stderr.startswith(
        "examples/mnist_cnn.yaml:10:5: layers[5] (maxpool2d pool2): "
        "expects an input of at least 2×2 for a 2×2 window, but gets "
        "32×1×1"
    )


def test_depth_folds_blocks() -> None:
    result = run_cli("summary", "examples/resnet18.yaml", "--depth", "1", "--markdown")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("| layer")]
    assert [line.split("|")[1].strip() for line in lines] == [
        "layer1_0",
        "layer1_1",
        "layer2_0",
        "layer2_1",
        "layer3_0",
        "layer3_1",
        "layer4_0",
        "layer4_1",
    ]


def test_summary_never_imports_torch() -> None:
    code = (
        "import sys, io, contextlib\n"
        "from archcalc.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['summary', 'examples/vgg16.yaml']) == 0\n"
        "    assert main(['summary', 'examples/googlenet.yaml', '--json']) == 0\n"
        "    assert main(['check', 'examples/resnet18.yaml']) == 0\n"
        "heavy = ('torch', 'torchvision', 'numpy')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_example_summarises() -> None:
    for spec in sorted(EXAMPLES.glob("*.yaml")):
        result = run_cli("summary", str(spec.relative_to(ROOT)), "--json")
        assert result.returncode == 0, (spec, result.stderr)
        assert json.loads(result.stdout)["totals"]["params"] > 0


def test_kinds_lists_every_kind() -> None:
    result = run_cli("kinds")
    assert result.returncode == 0
    for kind in ("conv2d", "maxpool2d", "global_avg_pool", "local_response_norm", "residual"):
        assert kind in result.stdout


def test_docs_json_describes_every_field() -> None:
    """docs/json.md's table names every key the JSON holds, and no key it lacks."""
    import re

    doc = (ROOT / "docs" / "json.md").read_text()
    documented = {
        word for code in re.findall(r"`([^`]+)`", doc) for word in re.findall(r"\w+", code)
    }
    data = json.loads(run_cli("summary", "examples/mnist_cnn.yaml", "--json").stdout)
    keys = set(data) | set(data["layers"][0]) | set(data["totals"]) | set(data["memory"])
    keys |= set(data["layers"][0]["receptive_field"]) | set(data["lint"][0])
    assert keys - {"loc", "code", "severity", "message"} <= documented


HUGE = "9" * 400


@pytest.mark.parametrize(
    "args",
    [
        ["summary", "examples/mnist_cnn.yaml", "--batch", HUGE],
        ["summary", "examples/mnist_cnn.yaml", "--batch", "0"],
        ["summary", "examples/mnist_cnn.yaml", "--batch", "-3"],
        ["summary", "examples/mnist_cnn.yaml", "--batch", "9" * 5000],  # beyond int()'s digits
        ["summary", "examples/mnist_cnn.yaml", "--depth", HUGE],
        ["summary", "examples/mnist_cnn.yaml", "--depth", "0"],
        ["summary", "examples/mnist_cnn.yaml", "--input", f"1x{HUGE}x28"],
        ["summary", "examples/mnist_cnn.yaml", "--input", "1x-28x28"],
        ["compare", "examples/mnist_cnn.yaml", "--input", f"{HUGE}x28"],
        ["lint", "examples/mnist_cnn.yaml", "--input", "0x28x28"],
        ["scale", "examples/mnist_cnn.yaml", "--sizes", f"28,{HUGE}"],
        ["scale", "examples/mnist_cnn.yaml", "--sizes", "0,28"],
    ],
    ids=lambda args: " ".join(a if len(a) < 20 else f"<{len(a)} chars>" for a in args),
)
def test_every_integer_option_refuses_absurd_values_in_one_line(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert len(err) < 300  # the value is cut short, not echoed in full
    assert f"archcalc {args[0]}: error: argument --" in err
    assert "from 1 to 2,147,483,647" in err or "positive sizes" in err


def test_the_largest_batch_is_answered() -> None:
    result = run_cli("summary", "examples/mnist_cnn.yaml", "--batch", "2147483647", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["memory"]["batch"] == 2**31 - 1
