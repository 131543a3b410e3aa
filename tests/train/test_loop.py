"""The training loop: reproducibility, interrupt and resume, atomic checkpoints, NaN, checks."""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import archcalc
from archcalc import outfile
from archcalc.errors import ArchcalcError
from archcalc.train import data, loop
from archcalc.train.recipe import Recipe
from tests.train.conftest import SEED_SPEC

CPU = loop.Dist(device=torch.device("cpu"))
STEPS = 8  # 1,024 synthetic training images in batches of 128


@pytest.fixture(scope="module")
def images(synthetic_dir: Path) -> data.ImageData:
    return data.load(data.find_files(synthetic_dir))


def seed_model(seed: int = 0) -> nn.Module:
    loop.seed_everything(seed)
    return archcalc.build(archcalc.load(SEED_SPEC))


def trainer(
    images: data.ImageData,
    *,
    out: Path | None = None,
    seed: int = 0,
    model: nn.Module | None = None,
    epochs: int = 2,
    **kwargs: Any,
) -> loop.Trainer:
    return loop.Trainer(
        model=model or seed_model(seed),
        data=images,
        dist=CPU,
        recipe=Recipe(epochs=epochs),
        seed=seed,
        out=out,
        meta={"spec": "mnist-cnn"},
        **kwargs,
    )


def numbers(history: list[loop.EpochMetrics]) -> list[tuple[float, float, float]]:
    """What must repeat exactly (the timings never do)."""
    return [(m.train_loss, m.train_acc, m.test_acc) for m in history]


def test_learns_the_synthetic_digits(images: data.ImageData) -> None:
    history = trainer(images).fit()
    assert [m.epoch for m in history] == [1, 2]
    assert history[-1].test_acc >= 0.95  # chance is 0.10
    assert history[-1].train_loss < history[0].train_loss


def test_same_seed_same_numbers_other_seed_other_numbers(images: data.ImageData) -> None:
    first = numbers(trainer(images, seed=3).fit())
    again = numbers(trainer(images, seed=3).fit())
    other = numbers(trainer(images, seed=4).fit())
    assert first == again
    assert first != other


@pytest.mark.parametrize("stop_after", [3, STEPS], ids=["mid-epoch", "epoch-end"])
def test_ctrl_c_saves_and_resume_matches_an_uninterrupted_run(
    images: data.ImageData, tmp_path: Path, stop_after: int
) -> None:
    whole = trainer(images, out=tmp_path / "whole")
    expected = numbers(whole.fit())

    def ctrl_c(epoch: int, step: int) -> None:
        if (epoch, step) == (1, stop_after):
            os.kill(os.getpid(), signal.SIGINT)  # the real signal, through the real handler

    out = tmp_path / "cut"
    # Whatever handler the process had (SIG_IGN in a job a shell started in the background)
    # is put back once the run stops.
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(loop.Interrupted) as info:
        trainer(images, out=out, on_step=ctrl_c).fit()
    assert signal.getsignal(signal.SIGINT) is before
    saved = loop.load_checkpoint(out / loop.CHECKPOINT)
    if stop_after < STEPS:  # stops at the next batch boundary, inside epoch 1
        assert (saved["epoch"], saved["step"]) == (0, stop_after + 1)
        assert (info.value.epoch, info.value.step) == (1, stop_after + 1)
    else:  # the flag comes after the last batch: the epoch finishes and is saved
        assert (saved["epoch"], saved["step"]) == (1, 0)
        assert (info.value.epoch, info.value.step) == (2, 0)

    resumed = trainer(images, out=out, seed=0, model=seed_model(99))  # other init: overwritten
    assert numbers(resumed.fit(resume=True)) == expected
    for mine, theirs in zip(
        resumed.module.state_dict().values(), whole.module.state_dict().values(), strict=True
    ):
        assert torch.equal(mine, theirs)


def test_resume_refuses_other_settings_and_finished_runs(
    images: data.ImageData, tmp_path: Path
) -> None:
    trainer(images, out=tmp_path, epochs=1).fit()
    with pytest.raises(ArchcalcError, match=r"was trained with seed 0, this run has 1"):
        trainer(images, out=tmp_path, epochs=1, seed=1).fit(resume=True)
    with pytest.raises(ArchcalcError, match=r"is a finished run of 1 epochs; nothing to resume"):
        trainer(images, out=tmp_path, epochs=1).fit(resume=True)


def test_a_full_disk_while_saving_is_one_line_and_keeps_the_previous_checkpoint(
    images: data.ImageData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = outfile._write_all
    writes = 0

    def full_at_the_fourth_write(fd: int, payload: bytes) -> None:
        nonlocal writes
        writes += 1
        # 1: the folder probe, 2 and 3: epoch 1's checkpoint and metrics; 4: epoch 2's checkpoint.
        if writes == 4:
            real_write(fd, payload[:10])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(fd, payload)

    monkeypatch.setattr(outfile, "_write_all", full_at_the_fourth_write)
    with pytest.raises(
        ArchcalcError,
        match=r"^cannot write '.*checkpoint\.pt': No space left on device; training stopped and "
        r"the last good checkpoint \(after epoch 1\) is kept in .*checkpoint\.pt",
    ):
        trainer(images, out=tmp_path).fit()
    monkeypatch.undo()
    assert loop.load_checkpoint(tmp_path / loop.CHECKPOINT)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "metrics.json"]


class TurnsNaN(nn.Module):
    """The seed network, whose scores become NaN from its ``after``-th training batch on."""

    def __init__(self, inner: nn.Module, after: int) -> None:
        super().__init__()
        self.inner, self.after, self.calls = inner, after, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.inner(x)
        if self.training:
            self.calls += 1
            if self.calls >= self.after:
                return out * float("nan")
        return out


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(
    images: data.ImageData, tmp_path: Path
) -> None:
    t = trainer(images, out=tmp_path, model=TurnsNaN(seed_model(), after=STEPS + 3))
    with pytest.raises(
        ArchcalcError,
        match=(
            r"the training loss became nan at epoch 2, batch 3; training stopped and the last good "
            r"checkpoint \(after epoch 1\) is kept in .*checkpoint.pt — try a lower --lr"
        ),
    ):
        t.fit()
    saved = loop.load_checkpoint(tmp_path / loop.CHECKPOINT)
    assert saved["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in saved["model"].values())


def test_label_smoothing_is_torchs(images: data.ImageData) -> None:
    g = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(64, 10, generator=g), torch.randint(0, 10, (64,), generator=g)
    smoothed, plain = loop.smoothed_losses(logits, labels, 0.1)
    torch.testing.assert_close(
        smoothed, F.cross_entropy(logits, labels, label_smoothing=0.1, reduction="none")
    )
    torch.testing.assert_close(plain, F.cross_entropy(logits, labels, reduction="none"))


def test_the_model_must_fit_the_images_and_the_classes(images: data.ImageData) -> None:
    rgb = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(10))
    with pytest.raises(ArchcalcError, match=r"cannot take the data's 1×28×28 images: "):
        loop.check_model(rgb, images.image_shape, images.num_classes)
    five = nn.Sequential(nn.Flatten(), nn.Linear(784, 5))
    with pytest.raises(ArchcalcError, match=r"gives 5 per image, but the data has 10 classes"):
        loop.check_model(five, images.image_shape, images.num_classes)
    loop.check_model(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), (1, 28, 28), 10)


def test_derived_seeds_differ_per_stream_and_epoch() -> None:
    seeds = {loop.derived_seed(s, e, k) for s in range(5) for e in range(5) for k in range(5)}
    assert len(seeds) == 125
    assert all(0 <= s < 2**63 for s in seeds)


def test_threads_follow_archcalc_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHCALC_THREADS", "3")
    assert loop.cpu_threads(2) == 3
    monkeypatch.setenv("ARCHCALC_THREADS", "zero")
    with pytest.raises(ArchcalcError, match="ARCHCALC_THREADS expects a positive integer"):
        loop.cpu_threads()
    monkeypatch.delenv("ARCHCALC_THREADS")
    assert loop.cpu_threads(1) >= loop.cpu_threads(2) >= 1
