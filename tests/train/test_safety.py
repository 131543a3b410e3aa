"""What the trainer refuses before it harms anything: checkpoints, folders, batches, options."""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import archcalc
from archcalc import outfile
from archcalc.cli.main import main
from archcalc.errors import ArchcalcError
from archcalc.train import checkpoint, cli, data, loop
from archcalc.train.recipe import Recipe
from tests.train.conftest import SEED_SPEC
from tests.train.test_cli import RUN_FILES, assert_one_line, small_run

CPU = loop.Dist(device=torch.device("cpu"))


def train(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``archcalc train ARGS`` in this process; argparse's refusals exit, so catch that too."""
    try:
        status = main(["train", *args])
    except SystemExit as stop:
        status = int(stop.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def small_net(norm: bool = True) -> nn.Module:
    """784 → 16 (→ BatchNorm1d) → 10: trains in milliseconds."""
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Flatten(), nn.Linear(784, 16)]
    if norm:
        layers.append(nn.BatchNorm1d(16))
    return nn.Sequential(*layers, nn.ReLU(), nn.Linear(16, 10))


@pytest.fixture(scope="module")
def tiny(synthetic_dir: Path) -> data.ImageData:
    return data.load(data.find_files(synthetic_dir), limit_train=64, limit_test=32)


def fit(
    images: data.ImageData,
    *,
    out: Path | None = None,
    batch: int = 32,
    model: nn.Module | None = None,
    **kwargs: Any,
) -> loop.Trainer:
    t = loop.Trainer(
        model=model if model is not None else small_net(),
        data=images,
        dist=CPU,
        recipe=Recipe(epochs=2, batch_size=batch),
        out=out,
        meta={"spec": "tiny"},
        **kwargs,
    )
    return t


# ---------------------------------------------------------------- checkpoints


@pytest.fixture(scope="module")
def saved_run(tiny: data.ImageData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of 2 epochs (4 batches each) stopped after epoch 1 and batch 2 of epoch 2."""
    out = tmp_path_factory.mktemp("run")
    trainer = fit(tiny, out=out, batch=16)

    def stop(epoch: int, step: int) -> None:
        if (epoch, step) == (2, 1):
            trainer.request_stop()  # seen at the end of the next batch

    trainer.on_step = stop
    with pytest.raises(loop.Interrupted):
        trainer.fit()
    return out


@pytest.fixture
def run_copy(saved_run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(saved_run, out)
    return out


def resume(images: data.ImageData, out: Path) -> loop.Trainer:
    trainer = fit(images, out=out, batch=16)
    trainer.fit(resume=True)
    return trainer


def test_a_saved_checkpoint_resumes(tiny: data.ImageData, run_copy: Path) -> None:
    state = loop.load_checkpoint(run_copy / loop.CHECKPOINT)
    assert (state["format"], state["epoch"], state["step"]) == (checkpoint.FORMAT, 1, 2)
    assert state[checkpoint.CHECKSUM] == checkpoint.digest(state)
    assert [m.epoch for m in resume(tiny, run_copy).history] == [1, 2]


def test_a_flipped_byte_in_a_weight_is_corrupt(tiny: data.ImageData, run_copy: Path) -> None:
    path = run_copy / loop.CHECKPOINT
    weight = loop.load_checkpoint(path)["model"]["1.weight"]
    raw = bytearray(path.read_bytes())
    at = raw.find(weight.numpy().tobytes())
    assert at > 0, "the weight's bytes are stored as they are"
    raw[at + 100] ^= 0x01  # one bit of one float
    path.write_bytes(bytes(raw))
    with pytest.raises(ArchcalcError, match=r"checkpoint\.pt: checkpoint is corrupt: its contents"):
        resume(tiny, run_copy)


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda s: s.pop(key)


def _set(*keys: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(state: dict[str, Any]) -> None:
        inner = state
        for key in keys[:-1]:
            inner = inner[key]
        inner[keys[-1]] = value

    return change


def _reshape_weight(state: dict[str, Any]) -> None:
    state["model"]["1.weight"] = torch.zeros(8, 784)


def _rename_weight(state: dict[str, Any]) -> None:
    state["model"]["fc9.weight"] = state["model"].pop("1.weight")


def _moment_shape(state: dict[str, Any]) -> None:
    state["optimizer"]["state"][0]["exp_avg"] = torch.zeros(3)


TAMPERED: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("no-epoch", _drop("epoch"), r"epoch is missing"),
    ("negative-epoch", _set("epoch", value=-5), r"epoch is -5, expected 0 to 2"),
    ("epoch-past-the-end", _set("epoch", value=3), r"epoch is 3, expected 0 to 2"),
    ("text-epoch", _set("epoch", value="1"), r"epoch expects an integer"),
    ("bool-step", _set("step", value=True), r"step expects an integer"),
    ("step-past-the-epoch", _set("step", value=4), r"step is 4, but an epoch has 4 batches"),
    ("no-model", _drop("model"), r"model is missing"),
    ("model-a-list", _set("model", value=[1, 2]), r"model is not a mapping"),
    ("renamed-weight", _rename_weight, r"holds a different network: its weights lack 1\.weight"),
    ("reshaped-weight", _reshape_weight, r"1\.weight is 8×784 float32, this network's is 16×784"),
    ("text-lr", _set("recipe", "lr", value="fast"), r"recipe\.lr expects a finite number"),
    ("nan-partial", _set("partial", "seen", value=float("nan")), r"partial\.seen expects a finite"),
    ("short-history", _set("history", value=[]), r"history expects one entry per finished epoch"),
    ("accuracy-above-1", _set("history", 0, "test_acc", value=7.0), r"history\[0\]\.test_acc"),
    ("rng-size", _set("rng", 0, "cpu", value=torch.zeros(3, dtype=torch.uint8)), r"rng\[0\]\.cpu"),
    ("adam-step", _set("optimizer", "state", 0, "step", value=torch.tensor(9.0)), r"expects 6,"),
    ("moment-shape", _moment_shape, r"optimizer\.state\[0\]\.exp_avg expects a tensor of 16×784"),
    ("adam-eps", _set("optimizer", "param_groups", 0, "eps", value="x"), r"\.eps is 'x', expected"),
    ("schedule-position", _set("scheduler", "last_epoch", value=-1), r"scheduler\.last_epoch"),
    ("schedule-length", _set("scheduler", "total_steps", value=1), r"scheduler\.total_steps is 1"),
    ("no-meta-spec", _set("meta", value={}), r"meta\.spec is not a spec name"),
]


@pytest.mark.parametrize(("case", "tamper", "message"), TAMPERED, ids=[c[0] for c in TAMPERED])
def test_a_checkpoint_with_wrong_keys_is_one_line(
    tiny: data.ImageData,
    run_copy: Path,
    case: str,
    tamper: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    # Re-sealed, so the checksum holds: the schema check alone has to catch it.
    path = run_copy / loop.CHECKPOINT
    state = torch.load(path, weights_only=True)
    tamper(state)
    torch.save(checkpoint.seal(state), path)
    with pytest.raises(ArchcalcError, match=message) as info:
        resume(tiny, run_copy)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_an_old_or_foreign_checkpoint_says_so(tiny: data.ImageData, run_copy: Path) -> None:
    path = run_copy / loop.CHECKPOINT
    state = torch.load(path, weights_only=True)
    torch.save({**state, "format": 1}, path)
    with pytest.raises(ArchcalcError, match=r"checkpoint format 1 was written by an older"):
        resume(tiny, run_copy)
    torch.save([1, 2, 3], path)
    with pytest.raises(ArchcalcError, match=r"not an archcalc train checkpoint"):
        resume(tiny, run_copy)


def test_the_cli_reports_a_bad_checkpoint_in_one_line(
    capsys: pytest.CaptureFixture[str], synthetic_dir: Path, tmp_path: Path
) -> None:
    args = [*small_run(synthetic_dir, tmp_path / "run"), "--limit-train", "64", "--epochs", "2"]
    path = tmp_path / "run" / "checkpoint.pt"
    tmp_path.joinpath("run").mkdir()
    state = {"format": checkpoint.FORMAT, "epoch": -5}
    torch.save(checkpoint.seal(state), path)
    assert_one_line(
        *train(capsys, *args, "--resume"),
        r"^error: .*checkpoint\.pt: not a valid archcalc checkpoint: recipe is missing — pass "
        r"--force",
    )


# ---------------------------------------------------------------- the output folder


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("mnist-cnn", "mnist-cnn"),
        ("../../x", "_.._x"),
        ("/etc/cron.d/x", "_etc_cron.d_x"),
        ("..", "run"),
        (".hidden", "hidden"),
        ("", "run"),
        ("a\\b", "a_b"),
        ("résnet 18", "résnet_18"),
    ],
)
def test_a_spec_name_becomes_one_safe_folder_name(name: str, folder: str) -> None:
    assert cli.run_folder_name(name) == folder
    assert cli.default_out(name) == Path("runs") / folder


def test_a_hostile_spec_name_trains_inside_runs(
    capsys: pytest.CaptureFixture[str],
    synthetic_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    spec = work / "evil.yaml"
    spec.write_text(SEED_SPEC.read_text().replace("name: mnist-cnn", "name: ../../escaped"))
    args = [str(spec), "--data-dir", str(synthetic_dir), "--device", "cpu"]
    status, _, err = train(capsys, *args, "--limit-train", "64", "--epochs", "1")
    assert (status, err) == (0, "")
    assert sorted(p.name for p in (work / "runs" / "_.._escaped").iterdir()) == RUN_FILES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]  # nothing written above


def test_a_link_out_of_runs_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "runs" / "net").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ArchcalcError, match=r"runs/net leads out of runs/ \(through a link\)"):
        cli.default_out("net")


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    out = tmp_path / "old"
    out.mkdir()
    for name in RUN_FILES:
        (out / name).write_bytes(b"previous")
    return out


def test_force_never_removes_through_a_link(
    capsys: pytest.CaptureFixture[str], synthetic_dir: Path, old_run: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "precious.pt"
    victim.write_bytes(b"someone else's")
    (old_run / "checkpoint.pt").unlink()
    (old_run / "checkpoint.pt").symlink_to(victim)
    assert_one_line(
        *train(capsys, *small_run(synthetic_dir, old_run), "--force"),
        r"^error: cannot write '.*old/checkpoint\.pt': it is a symbolic link",
    )
    assert (old_run / "checkpoint.pt").is_symlink() and victim.read_bytes() == b"someone else's"
    assert (old_run / "metrics.json").read_bytes() == b"previous"  # nothing removed


def test_a_fifo_among_the_outputs_is_refused_before_training(
    capsys: pytest.CaptureFixture[str], synthetic_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    os.mkfifo(out / "curves.png")
    assert_one_line(
        *train(capsys, *small_run(synthetic_dir, out)),
        r"^error: cannot write '.*run/curves\.png': it is a FIFO",
    )
    assert stat.S_ISFIFO(os.lstat(out / "curves.png").st_mode)
    assert [p.name for p in out.iterdir()] == ["curves.png"]


def test_an_unwritable_folder_is_found_before_training(
    capsys: pytest.CaptureFixture[str],
    synthetic_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Root writes into a chmod-555 folder, so the refusal of the first write is simulated.
    def denied(fd: int, payload: bytes) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(outfile, "_write_all", denied)
    trained = []
    monkeypatch.setattr(loop.Trainer, "_run_epoch", lambda *a: trained.append(a))
    assert_one_line(
        *train(capsys, *small_run(synthetic_dir, tmp_path / "run")),
        r"^error: cannot write in the folder '.*run': Permission denied — choose a writable",
    )
    assert trained == [] and list((tmp_path / "run").iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_before_training(
    capsys: pytest.CaptureFixture[str], synthetic_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert_one_line(
            *train(capsys, *small_run(synthetic_dir, out)),
            r"^error: cannot write in the folder '.*ro': Permission denied",
        )
    finally:
        out.chmod(0o755)


# ---------------------------------------------------------------- batches of one


def test_a_last_batch_of_one_is_dropped(tiny: data.ImageData) -> None:
    # 64 images in batches of 21: three full batches and a last one of 1, which batch norm
    # cannot train on; it is dropped instead of crashing the epoch.
    trainer = fit(tiny, batch=21)
    assert trainer.steps_per_epoch == 3
    assert [m.epoch for m in trainer.fit()] == [1, 2]
    assert fit(tiny, batch=31).steps_per_epoch == 3  # a last batch of 2 is kept


def test_batch_size_1_with_batchnorm1d_is_refused_up_front(tiny: data.ImageData) -> None:
    with pytest.raises(
        ArchcalcError,
        match=r"^--batch-size 1 trains on one image at a time, but batch norm \(2\) needs more "
        r"than one value per channel to train — use --batch-size 2 or more$",
    ):
        fit(tiny, batch=1)


def test_batch_size_1_trains_where_batch_norm_allows_it(tiny: data.ImageData) -> None:
    # BatchNorm2d over a 28×28 map has 784 values per channel even for one image.
    torch.manual_seed(0)
    conv = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10)
    )
    few = data.ImageData(
        train=data.Split(tiny.train.images[:4], tiny.train.labels[:4]),
        test=tiny.test,
        mean=tiny.mean,
        std=tiny.std,
        num_classes=tiny.num_classes,
        source=tiny.source,
    )
    assert len(fit(few, batch=1, model=conv).fit()) == 2
    assert len(fit(few, batch=1, model=small_net(norm=False)).fit()) == 2


# ---------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--epochs", "9" * 400, r"expects an integer from 1 to 100,000, but gets '9999"),
        (
            "--epochs",
            "1" * 5000,
            r"expects an integer from 1 to 100,000, but gets '1111.*5,000 characters",
        ),
        ("--epochs", "0", r"expects an integer from 1 to 100,000"),
        (
            "--batch-size",
            "9" * 400,
            r"expects an integer from 1 to 2,147,483,647, but gets '99",
        ),
        ("--limit-train", "9" * 400, r"expects an integer from 1 to"),
        ("--limit-test", "-3", r"expects an integer from 1 to"),
        ("--seed", "9" * 400, r"expects a seed from 0 to 2\*\*64 - 1"),
        ("--seed", "-1", r"expects a seed from 0"),
        ("--seed", "x", r"expects an integer seed, but gets 'x'"),
        ("--lr", "9" * 400, r"expects a positive number, but gets '9999"),
        ("--lr", "nan", r"expects a positive number, but gets 'nan'"),
        ("--lr", "-0.1", r"expects a positive number"),
    ],
    ids=lambda v: v if len(v) < 30 else f"{v[:3]}…{len(v)}",
)
def test_out_of_range_options_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flag: str, value: str, message: str
) -> None:
    status, out, err = train(capsys, str(SEED_SPEC), "--out", str(tmp_path), flag, value)
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.search(rf"argument {flag}: {message}", err), err
    assert len(err) < 300
    assert list(tmp_path.iterdir()) == []


def test_a_nul_in_a_path_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert_one_line(
        *train(capsys, str(SEED_SPEC), "--out", f"{tmp_path}/a\0b"),
        r"^error: --out holds a NUL character",
    )


@pytest.mark.parametrize("value", ["0", "99999", "9" * 400])
def test_archcalc_threads_out_of_range(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ARCHCALC_THREADS", value)
    with pytest.raises(ArchcalcError, match=r"ARCHCALC_THREADS expects a positive integer up to"):
        loop.cpu_threads()


def test_a_network_too_big_to_allocate_is_one_line(
    capsys: pytest.CaptureFixture[str],
    synthetic_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What torch raises for `linear: {out: 100000000}` on a CPU, without allocating anything.
    def refused(spec: Any) -> nn.Module:
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: 313600000000 bytes")

    monkeypatch.setattr(archcalc, "build", refused)
    out = tmp_path / "run"
    assert_one_line(
        *train(capsys, *small_run(synthetic_dir, out)),
        r"^error: not enough memory to build the network \(206,922 parameters\): .* — make the "
        r"spec's largest layer smaller$",
    )
    assert not out.exists()


@pytest.mark.parametrize(("name", "value"), [("WORLD_SIZE", "two"), ("LOCAL_RANK", "-1")])
def test_a_wrong_torchrun_variable_is_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ArchcalcError, match=rf"^{name} expects an integer of \d or more"):
        loop.setup("cpu")
