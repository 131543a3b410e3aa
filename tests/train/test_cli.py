"""``archcalc train`` as a user runs it: what it writes, what it says, and what it refuses."""

from __future__ import annotations

import gzip
import json
import os
import re
import shlex
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from archcalc.cli.main import main
from archcalc.train import cli, loop
from tests.train.conftest import SEED_SPEC, write_idx

RUN_FILES = ["checkpoint.pt", "curves.png", "feature_maps.png", "filters.png", "metrics.json"]


def train(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``archcalc train ARGS`` in this process; (exit status, stdout, stderr)."""
    status = main(["train", *args])
    out, err = capsys.readouterr()
    return status, out, err


def small_run(data: Path, out: Path) -> list[str]:
    """The seed spec on 256 synthetic images, on the CPU, into ``out``."""
    return [
        str(SEED_SPEC),
        "--data-dir",
        str(data),
        "--device",
        "cpu",
        "--limit-train",
        "256",
        "--out",
        str(out),
    ]


def numbers(metrics_path: Path) -> list[tuple[float, float, float]]:
    epochs = json.loads(metrics_path.read_text())["epochs"]
    return [(e["train_loss"], e["train_acc"], e["test_acc"]) for e in epochs]


def test_a_run_writes_metrics_checkpoint_and_pictures(
    capsys: pytest.CaptureFixture[str], synthetic_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    status, stdout, stderr = train(
        capsys,
        str(SEED_SPEC),
        "--data-dir",
        str(synthetic_dir),
        "--epochs",
        "2",
        "--device",
        "cpu",
        "--out",
        str(out),
    )
    assert (status, stderr) == (0, "")
    assert sorted(p.name for p in out.iterdir()) == RUN_FILES
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert set(metrics["epochs"][0]) >= {"epoch", "train_loss", "train_acc", "test_acc", "seconds"}
    assert all(
        0.0 <= e["test_acc"] <= 1.0 and 0.0 <= e["train_acc"] <= 1.0 for e in metrics["epochs"]
    )
    assert metrics["epochs"][-1]["test_acc"] >= 0.95  # accuracies are fractions, not percent
    assert (metrics["device"], metrics["seed"], metrics["spec"]) == ("cpu", 0, "mnist-cnn")
    assert metrics["params"] == 206_922
    for name in ("curves.png", "filters.png", "feature_maps.png"):
        with Image.open(out / name) as im:
            assert im.format == "PNG"
    # The seed chapter's table, then what was written.
    for header in ("epoch", "training loss", "train accuracy", "test accuracy"):
        assert header in stdout
    last = metrics["epochs"][-1]
    assert f"{100 * last['test_acc']:.2f}%" in stdout
    assert "wrote" in stdout and "checkpoint.pt" in stdout


def test_same_seed_same_metrics(
    capsys: pytest.CaptureFixture[str], synthetic_dir: Path, tmp_path: Path
) -> None:
    runs = {}
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        status, _, _ = train(
            capsys,
            str(SEED_SPEC),
            "--data-dir",
            str(synthetic_dir),
            "--epochs",
            "2",
            "--limit-train",
            "512",
            "--seed",
            seed,
            "--device",
            "cpu",
            "--out",
            str(tmp_path / name),
        )
        assert status == 0
        runs[name] = numbers(tmp_path / name / "metrics.json")
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"]


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes_the_run(
    capsys: pytest.CaptureFixture[str],
    synthetic_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    common = [str(SEED_SPEC), "--data-dir", str(synthetic_dir), "--epochs", "2", "--device", "cpu"]
    assert train(capsys, *common, "--out", str(tmp_path / "whole"))[0] == 0

    real_step = cli._RichReporter.step

    def ctrl_c_at_batch_2(self: Any, done: int, loss: float, images_per_s: float) -> None:
        real_step(self, done, loss, images_per_s)
        if done == 2 and not getattr(self, "pressed", False):
            self.pressed = True
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(cli._RichReporter, "step", ctrl_c_at_batch_2)
    monkeypatch.setenv("COLUMNS", "1000")  # keep the suggested command on one line
    cut = tmp_path / "cut"
    status, stdout, _ = train(capsys, *common, "--out", str(cut))
    assert status == 130
    said = re.search(
        r"interrupted at epoch 1, batch 3; saved .*checkpoint.pt — continue with: "
        r"(archcalc train .*--resume)$",
        stdout,
        re.MULTILINE,
    )
    assert said, stdout
    assert loop.load_checkpoint(cut / "checkpoint.pt")["step"] == 3
    monkeypatch.undo()

    # The command it suggests, as given (without --epochs: the checkpoint holds the recipe).
    suggested = shlex.split(said.group(1))
    assert suggested[:2] == ["archcalc", "train"] and "--epochs" not in suggested
    assert train(capsys, *suggested[2:])[0] == 0
    assert numbers(cut / "metrics.json") == numbers(tmp_path / "whole" / "metrics.json")


def test_resume_refuses_a_run_of_another_spec(
    capsys: pytest.CaptureFixture[str], synthetic_dir: Path, tmp_path: Path
) -> None:
    common = [
        "--data-dir",
        str(synthetic_dir),
        "--device",
        "cpu",
        "--limit-train",
        "256",
        "--epochs",
        "2",
        "--out",
        str(tmp_path / "run"),
    ]
    assert train(capsys, str(SEED_SPEC), *common)[0] == 0
    other = tmp_path / "other.yaml"
    other.write_text(SEED_SPEC.read_text().replace("name: mnist-cnn", "name: other-cnn"))
    assert_one_line(
        *train(capsys, str(other), *common, "--resume"),
        r"^error: --resume: .*run holds a run of spec 'mnist-cnn', not 'other-cnn'",
    )


def test_force_replaces_a_run(
    capsys: pytest.CaptureFixture[str], synthetic_dir: Path, tmp_path: Path
) -> None:
    common = small_run(synthetic_dir, tmp_path)
    assert train(capsys, *common, "--epochs", "2")[0] == 0
    assert train(capsys, *common, "--epochs", "1", "--force")[0] == 0
    assert len(numbers(tmp_path / "metrics.json")) == 1


# ---------------------------------------------------------------- refusals

RGB_SPEC = """\
name: rgb
input: [3, 224, 224]
layers:
  - conv2d: {out: 8, kernel: 7, stride: 4}
  - global_avg_pool
  - linear: 10
"""

TWO_OUTPUTS_SPEC = """\
name: two
input: [1, 28, 28]
layers:
  - conv2d: {name: features, out: 8, kernel: 3}
  - global_avg_pool
  - linear: {name: logits, out: 10}
outputs: [logits, features]
"""

NO_HEAD_SPEC = """\
name: headless
input: [1, 28, 28]
layers:
  - conv2d: {out: 8, kernel: 3}
  - relu
  - maxpool2d: 2
"""


def _no_folder(folder: Path) -> None:
    """Nothing to break: the test points --data-dir at a folder that does not exist."""


def _truncate(folder: Path) -> None:
    path = folder / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(raw[:-100])  # plain, not gzipped: detected by content, not by name


def _html_instead(folder: Path) -> None:
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"<html>Not Found</html>")


def _one_label_short(folder: Path) -> None:
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", torch.zeros(255, dtype=torch.uint8), gz=True)


BAD_DATA: list[tuple[str, Callable[[Path], None], str]] = [
    (
        "missing-folder",
        _no_folder,
        r"^error: data folder .*nowhere does not exist — .*train-images-idx3-ubyte, "
        r"train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte",
    ),
    (
        "truncated-idx",
        _truncate,
        r"^error: .*t10k-images-idx3-ubyte.gz: truncated IDX file: the header says 256×28×28 = "
        r"200704 bytes of data, but the file holds 200604$",
    ),
    (
        "wrong-magic",
        _html_instead,
        r"^error: .*train-labels-idx1-ubyte.gz: not an IDX file: magic bytes 3c 68 74 6d",
    ),
    (
        "count-mismatch",
        _one_label_short,
        r"^error: t10k-images-idx3-ubyte.gz holds 256 images but t10k-labels-idx1-ubyte.gz holds "
        r"255 labels",
    ),
]


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    """An output folder holding a previous run, which no refused command may touch."""
    out = tmp_path / "old"
    out.mkdir()
    for name in RUN_FILES:
        (out / name).write_bytes(f"previous {name}".encode())
    return out


def assert_untouched(out: Path) -> None:
    assert sorted(p.name for p in out.iterdir()) == RUN_FILES
    for name in RUN_FILES:
        assert (out / name).read_bytes() == f"previous {name}".encode()


def assert_one_line(status: int, stdout: str, stderr: str, pattern: str) -> None:
    assert status == 2
    assert stdout == ""
    assert stderr.count("\n") == 1, stderr
    assert re.search(pattern, stderr.strip()), stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(("case", "breaks", "pattern"), BAD_DATA, ids=[c[0] for c in BAD_DATA])
def test_bad_data_is_one_line_and_overwrites_nothing(
    capsys: pytest.CaptureFixture[str],
    make_dataset: Callable[..., Path],
    old_run: Path,
    case: str,
    breaks: Callable[[Path], None],
    pattern: str,
) -> None:
    folder = make_dataset(n_train=256, n_test=256)
    breaks(folder)
    data_dir = folder / "nowhere" if case == "missing-folder" else folder
    result = train(
        capsys,
        str(SEED_SPEC),
        "--data-dir",
        str(data_dir),
        "--device",
        "cpu",
        "--out",
        str(old_run),
        "--force",
    )
    assert_one_line(*result, pattern)
    assert_untouched(old_run)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        pytest.param(
            RGB_SPEC,
            r"^spec.yaml:2:8: the spec's input is 3×224×224, but the images in "
            r".* are 1×28×28 — write `input: \[1, 28, 28\]`$",
            id="input-shape",
        ),
        pytest.param(
            NO_HEAD_SPEC,
            r"^spec.yaml:6:5: layers\[2\] \(maxpool2d maxpool2d_2\): the "
            r"network's output is 8×13×13 per image, but training needs one score per "
            r"class: 10 — end with `linear: 10`$",
            id="output-not-per-class",
        ),
        pytest.param(
            TWO_OUTPUTS_SPEC,
            r"^spec.yaml:7:10: outputs: the network returns 2 tensors \(`outputs`\), but "
            r"training needs one score per class — list only the logits in `outputs`, or drop it$",
            id="two-outputs",
        ),
    ],
)
def test_a_spec_that_does_not_fit_the_data_is_refused(
    capsys: pytest.CaptureFixture[str],
    synthetic_dir: Path,
    old_run: Path,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    pattern: str,
) -> None:
    monkeypatch.chdir(old_run.parent)
    Path("spec.yaml").write_text(text)
    result = train(
        capsys,
        "spec.yaml",
        "--data-dir",
        str(synthetic_dir),
        "--device",
        "cpu",
        "--out",
        str(old_run),
        "--force",
    )
    assert_one_line(*result, pattern)
    assert_untouched(old_run)


def test_an_out_folder_holding_a_run_is_refused(
    capsys: pytest.CaptureFixture[str], synthetic_dir: Path, old_run: Path
) -> None:
    result = train(
        capsys,
        str(SEED_SPEC),
        "--data-dir",
        str(synthetic_dir),
        "--device",
        "cpu",
        "--out",
        str(old_run),
    )
    assert_one_line(
        *result,
        r"^error: --out .*old already holds a run \(metrics.json, "
        r"checkpoint.pt\) — pass --resume to continue it, --force to replace it",
    )
    assert_untouched(old_run)


def test_resume_needs_a_checkpoint_and_the_same_settings(
    capsys: pytest.CaptureFixture[str], synthetic_dir: Path, tmp_path: Path
) -> None:
    common = small_run(synthetic_dir, tmp_path / "run")
    assert_one_line(
        *train(capsys, *common, "--resume"),
        r"^error: --resume: .*run holds no checkpoint.pt to continue from$",
    )
    assert train(capsys, *common, "--epochs", "2")[0] == 0
    before = (tmp_path / "run" / "metrics.json").read_bytes()
    assert_one_line(
        *train(capsys, *common, "--resume", "--lr", "0.01"),
        r"^error: --resume: .*run was trained with --lr 0.003, not 0.01 — drop --lr",
    )
    assert_one_line(
        *train(capsys, *common, "--resume"), r"is a finished run of 2 epochs; nothing to resume"
    )
    assert (tmp_path / "run" / "metrics.json").read_bytes() == before


def test_a_nan_loss_stops_with_a_message(
    capsys: pytest.CaptureFixture[str], synthetic_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    status, _, stderr = train(
        capsys,
        str(SEED_SPEC),
        "--data-dir",
        str(synthetic_dir),
        "--device",
        "cpu",
        "--lr",
        "1e30",
        "--out",
        str(out),
    )
    assert status == 2
    assert re.search(
        r"^error: the training loss became nan at epoch 1, batch \d+; training "
        r"stopped and no epoch had finished, so there is no checkpoint — try a lower "
        r"--lr$",
        stderr.strip(),
    )
    assert not (out / "checkpoint.pt").exists()


def test_cuda_without_a_gpu_is_a_user_error(
    capsys: pytest.CaptureFixture[str],
    synthetic_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    result = train(
        capsys,
        str(SEED_SPEC),
        "--data-dir",
        str(synthetic_dir),
        "--device",
        "cuda",
        "--out",
        str(tmp_path),
    )
    assert_one_line(
        *result,
        r"^error: --device cuda: no CUDA device is available .* — use "
        r"--device cpu$",
    )
