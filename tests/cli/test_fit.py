"""``archcalc fit``: the largest batch within a budget, its breakdown, its mistakes as one line."""

from __future__ import annotations

import json
import re

import pytest

import archcalc
from archcalc.analysis.footprint import footprint, inference_peak, training_peak
from tests.helpers import EXAMPLES, ROOT, run_cli


def _fit(*args: str) -> tuple[int, dict[str, object]]:
    result = run_cli("fit", *args, "--json")
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize(
    ("dtype", "optimizer"), [("float32", "adam"), ("bf16", "adamw"), ("float16", "sgd")]
)
def test_the_batch_found_is_the_largest_within_the_budget(dtype: str, optimizer: str) -> None:
    status, data = _fit(
        "examples/mnist_cnn.yaml", "--memory", "64MiB", "--dtype", dtype, "--optimizer", optimizer
    )
    assert status == 0
    budget = 64 * 2**20
    assert data["budget_bytes"] == budget
    a = archcalc.analyze(EXAMPLES / "mnist_cnn.yaml")
    canonical = {"bf16": "bfloat16"}.get(dtype, dtype)
    train, infer = data["train_batch"], data["infer_batch"]
    assert isinstance(train, int) and isinstance(infer, int) and 0 < train < infer
    assert training_peak(a, train, canonical, optimizer) <= budget
    assert training_peak(a, train + 1, canonical, optimizer) > budget
    assert inference_peak(a, infer, canonical) <= budget
    assert inference_peak(a, infer + 1, canonical) > budget
    parts = data["train"]["training_peak_parts"]  # type: ignore[index]
    assert sum(parts.values()) == data["train"]["training_peak_bytes"]  # type: ignore[index]


def test_the_text_names_the_batches_and_the_parts() -> None:
    result = run_cli("fit", "examples/resnet18.yaml", "--memory", "2GiB")
    assert result.returncode == 0
    _, data = _fit("examples/resnet18.yaml", "--memory", "2GiB")
    assert f"trains at batch {data['train_batch']:,}" in result.stdout
    assert f"infers at batch {data['infer_batch']:,}" in result.stdout
    for part in ("parameters", "optimizer state", "saved for backward"):
        assert part in result.stdout


def test_a_budget_too_small_for_one_sample_exits_1() -> None:
    result = run_cli("fit", "examples/vgg16.yaml", "--memory", "100MB")
    assert result.returncode == 1
    assert "does not train within 95.37 MiB: batch 1 needs" in result.stdout
    status, data = _fit("examples/vgg16.yaml", "--memory", "100MB")
    assert status == 1 and data["train_batch"] == 0


def test_sizes_read_binary_and_decimal_units() -> None:
    for text, expected in (("1GiB", 2**30), ("1 GB", 10**9), ("2g", 2 * 2**30), ("512MiB", 2**29)):
        _, data = _fit("examples/mnist_cnn.yaml", "--memory", text)
        assert data["budget_bytes"] == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--memory", "lots"], "expects a size like 24GiB"),
        (["--memory", "24PB"], "expects a size like 24GiB"),
        (["--memory", "0"], "expects a size from 1 B"),
        (["--memory", "1GiB", "--dtype", "int8"], "expects one of float32, bfloat16, float16"),
        (["--memory", "1GiB", "--optimizer", "lion"], "expects one of sgd, sgd-momentum"),
    ],
)
def test_mistakes_are_one_line(args: list[str], message: str) -> None:
    result = run_cli("fit", "examples/mnist_cnn.yaml", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_memory_is_required() -> None:
    result = run_cli("fit", "examples/mnist_cnn.yaml")
    assert result.returncode == 2
    assert "--memory" in result.stderr


def test_fit_at_another_input_size() -> None:
    _, small = _fit("examples/mnist_gap.yaml", "--memory", "64MiB")
    _, large = _fit("examples/mnist_gap.yaml", "--memory", "64MiB", "--input", "56x56")
    assert large["input_shape"] == [1, 56, 56]
    assert 0 < large["train_batch"] < small["train_batch"]  # type: ignore[operator]


def test_fit_a_torch_module() -> None:
    pytest.importorskip("torchvision")
    status, data = _fit(
        "--module", "torchvision.models:resnet18", "--input", "3x64x64", "--memory", "1GiB"
    )
    assert status == 0
    spec = archcalc.analyze(EXAMPLES / "resnet18.yaml", (3, 64, 64))
    # the traced module and the spec are the same network: the same answer
    assert data["train_batch"] == footprint_batch(spec, 2**30)


def footprint_batch(analysis: archcalc.Analysis, budget: int) -> int:
    from archcalc.analysis.footprint import fit

    return fit(analysis, budget).train_batch


def test_summary_memory_block_follows_dtype_and_optimizer() -> None:
    result = run_cli(
        "summary",
        "examples/mnist_cnn.yaml",
        "--json",
        "--dtype",
        "bf16",
        "--optimizer",
        "sgd",
        "--batch",
        "4",
    )
    memory = json.loads(result.stdout)["memory"]
    a = archcalc.analyze(EXAMPLES / "mnist_cnn.yaml")
    f = footprint(a, 4, "bfloat16", "sgd")
    assert memory["dtype"] == "bfloat16" and memory["optimizer"] == "sgd"
    assert memory["optimizer_state"] == 0
    assert (memory["saved"], memory["training"], memory["inference_peak"]) == (
        f.saved,
        f.training_peak,
        f.inference_peak,
    )
    text = run_cli("summary", "examples/mnist_cnn.yaml", "--dtype", "bf16").stdout
    assert "Memory (bfloat16 autocast, binary units):" in text


def test_docs_json_describes_the_fit_fields() -> None:
    doc = (ROOT / "docs" / "json.md").read_text()
    section = doc[doc.index("## `archcalc fit") :]
    documented = {w for code in re.findall(r"`([^`]+)`", section) for w in re.findall(r"\w+", code)}
    _, data = _fit("examples/mnist_cnn.yaml", "--memory", "64MiB")
    keys = set(data) | set(data["train"])  # type: ignore[arg-type]
    assert keys <= documented, keys - documented
