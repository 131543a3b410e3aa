"""``torchrun --nproc_per_node 2 -m archcalc train``: DistributedDataParallel on two CPU processes.

Two processes share each global batch, so they must follow the same optimisation
path as one process (up to float summation order). The network here has no
dropout, whose random streams differ per process by design.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from archcalc.cli.main import main
from archcalc.train import loop
from tests.train.conftest import ROOT

SPEC = """\
name: mnist-cnn-no-dropout
input: [1, 28, 28]
layers:
  - conv2d: {name: conv1, out: 16, kernel: 3, padding: 1}
  - relu
  - maxpool2d: {name: pool1, kernel: 2}
  - conv2d: {name: conv2, out: 32, kernel: 3, padding: 1}
  - relu
  - maxpool2d: {name: pool2, kernel: 2}
  - flatten
  - linear: {name: fc1, out: 128}
  - relu
  - linear: {name: fc2, out: 10}
"""


def test_two_cpu_processes_train_like_one(
    synthetic_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    # 1,001 images in batches of 128: the last batch (105) splits 53/52 between the processes,
    # which the loss scaling must weigh per sample, not per process.
    args = [
        "train",
        str(spec),
        "--data-dir",
        str(synthetic_dir),
        "--epochs",
        "2",
        "--device",
        "cpu",
        "--limit-train",
        "1001",
    ]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "archcalc",
            *args,
            "--out",
            str(tmp_path / "ddp"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Only rank 0 prints: one header, one table.
    assert proc.stdout.count("parameters on cpu × 2 processes") == 1, proc.stdout
    assert proc.stdout.count("test accuracy") == 1, proc.stdout

    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    capsys.readouterr()
    ddp = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())
    assert (ddp["world_size"], one["world_size"]) == (2, 1)
    for a, b in zip(ddp["epochs"], one["epochs"], strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["train_acc"] == pytest.approx(b["train_acc"], abs=2 / 1001)
        assert a["test_acc"] == pytest.approx(b["test_acc"], abs=2 / 256)
    assert ddp["epochs"][-1]["test_acc"] >= 0.95

    # The same weights, and rank 0 alone wrote: no stray temporary files.
    w_ddp = loop.load_checkpoint(tmp_path / "ddp" / "checkpoint.pt")["model"]
    w_one = loop.load_checkpoint(tmp_path / "one" / "checkpoint.pt")["model"]
    for name, w in w_ddp.items():
        assert (w - w_one[name]).abs().max() <= 1e-4 * (w_one[name].abs().max() + 1e-3), name
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == [
        "checkpoint.pt",
        "curves.png",
        "feature_maps.png",
        "filters.png",
        "metrics.json",
    ]
