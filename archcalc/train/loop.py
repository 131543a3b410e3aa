"""Training, evaluation, checkpoints, resuming and DistributedDataParallel.

The loop takes any ``nn.Module`` and MNIST-format tensors; the CLI builds the
module from a spec. Batches come from indexing the decoded image tensor with a
seeded permutation, so there is no DataLoader, no per-sample work and no
worker processes. The same seed on the same device gives the same numbers,
and an interrupted run resumes to the same numbers as one never interrupted:
the permutation and dropout streams are derived from (seed, epoch, rank), and
a mid-epoch checkpoint carries the random state it stopped at.

Under ``torchrun`` each process takes an interleaved share of every batch, so
the global batch, the schedule and the recipe stay those of one process.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import torch
import torch.distributed as tdist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from archcalc import outfile
from archcalc.errors import ArchcalcError
from archcalc.train import checkpoint
from archcalc.train.data import ImageData
from archcalc.train.recipe import DEFAULT, Recipe

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.json"
MAX_THREADS = 4096  # ARCHCALC_THREADS above this is a typo, not a machine


# ---------------------------------------------------------------- processes and devices


@dataclass(frozen=True)
class Dist:
    """This process's place in a (possibly one-process) run."""

    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Only the main process prints and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(choice: str, local_rank: int = 0) -> torch.device:
    """``auto`` is CUDA when there is one, else the CPU; ``cuda`` without one is a user error."""
    if choice not in ("auto", "cpu", "cuda"):
        raise ArchcalcError(f"--device expects auto, cpu or cuda, but gets {choice!r}")
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ArchcalcError(
            "--device cuda: no CUDA device is available to torch "
            f"{torch.__version__} (CUDA build: {torch.version.cuda or 'none'})",
            hint="use --device cpu",
        )
    return torch.device("cuda", local_rank % torch.cuda.device_count())


def setup(device_choice: str) -> Dist:
    """Join the process group when started by torchrun (gloo on CPU, nccl on CUDA)."""
    world_size = _env_int("WORLD_SIZE", 1, low=1)
    local_rank = _env_int("LOCAL_RANK", 0, low=0)
    device = pick_device(device_choice, local_rank)
    if device.type == "cuda":
        # Same seed, same numbers: no autotuned (run-dependent) convolution algorithms.
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    if world_size > 1:
        if not tdist.is_initialized():
            if device.type == "cuda":
                torch.cuda.set_device(device)
            tdist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        dist = Dist(
            device=device,
            rank=tdist.get_rank(),
            world_size=tdist.get_world_size(),
            local_rank=local_rank,
            local_world_size=_env_int("LOCAL_WORLD_SIZE", world_size, low=1),
        )
    else:
        dist = Dist(device=device)
    _configure_threads(dist)
    return dist


def _env_int(name: str, default: int, *, low: int) -> int:
    """An integer that torchrun sets in the environment; a wrong one is a user error."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= 1 << 20:
        raise ArchcalcError(f"{name} expects an integer of {low} or more, but gets {text[:40]!r}")
    return value


def describe(dist: Dist) -> dict[str, Any]:
    """What identifies "the same device" for reproducibility, for metrics.json."""
    version = str(torch.__version__)  # a str subclass, which weights-only loading refuses
    if dist.device.type == "cuda":
        return {"device_name": torch.cuda.get_device_name(dist.device), "torch": version}
    return {"threads": torch.get_num_threads(), "torch": version}


def barrier(dist: Dist) -> None:
    """Wait for every process (a no-op for one process)."""
    if dist.distributed and tdist.is_initialized():
        tdist.barrier()


def teardown(dist: Dist) -> None:
    """Leave the process group (a no-op for one process)."""
    if dist.distributed and tdist.is_initialized():
        tdist.destroy_process_group()


def _configure_threads(dist: Dist) -> None:
    if dist.device.type != "cpu":
        return
    # Processes on one machine share its cores: oversubscribing them (torch's default is
    # every core per process) makes DDP on CPU slower than one process.
    # The count is part of "the same device": results are bitwise reproducible only at one
    # thread count. ARCHCALC_THREADS overrides it (1 is faster on a machine busy with other work).
    torch.set_num_threads(cpu_threads(dist.local_world_size))


def cpu_threads(local_processes: int = 1) -> int:
    """Threads per process: $ARCHCALC_THREADS, else this process's cores shared by local ones."""
    env = os.environ.get("ARCHCALC_THREADS", "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            value = 0
        if not 1 <= value <= MAX_THREADS:
            raise ArchcalcError(
                f"ARCHCALC_THREADS expects a positive integer up to {MAX_THREADS}, "
                f"but gets {env[:40]!r}"
            )
        return value
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, local_processes))


def seed_everything(seed: int) -> None:
    """Seed torch's generators, so that building a model initialises it the same way each time."""
    torch.manual_seed(seed)  # also seeds every CUDA device


def derived_seed(seed: int, epoch: int, stream: int) -> int:
    """A seed for one stream (0: the batch order, 1 + rank: dropout) of one epoch."""
    # Large odd multipliers keep (seed, epoch, stream) triples from colliding.
    mixed = seed * 0x9E3779B97F4A7C15 + epoch * 0xBF58476D1CE4E5B9 + stream * 0x94D049BB133111EB
    return mixed % 2**63


# ---------------------------------------------------------------- results and reporting


@dataclass(frozen=True)
class EpochMetrics:
    """One epoch's numbers; accuracies are fractions, the loss is plain cross-entropy."""

    epoch: int
    train_loss: float
    train_acc: float  # over the epoch's batches, as trained (dropout on)
    test_acc: float
    seconds: float  # training plus evaluation
    images_per_s: float  # training images per second, all processes together

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Reporter(Protocol):
    """What the loop tells the user; the CLI shows it with rich."""

    def epoch_start(self, epoch: int, epochs: int, steps: int, done: int) -> None: ...

    def step(self, done: int, loss: float, images_per_s: float) -> None: ...

    def epoch_end(self, metrics: EpochMetrics) -> None: ...


class SilentReporter:
    """Reports nothing (other ranks, tests, benchmarks)."""

    def epoch_start(self, epoch: int, epochs: int, steps: int, done: int) -> None:
        """Nothing."""

    def step(self, done: int, loss: float, images_per_s: float) -> None:
        """Nothing."""

    def epoch_end(self, metrics: EpochMetrics) -> None:
        """Nothing."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or ``request_stop``) stopped training after saving a checkpoint."""

    def __init__(self, checkpoint: Path | None, epoch: int, step: int) -> None:
        super().__init__(f"interrupted at epoch {epoch}, batch {step}")
        self.checkpoint = checkpoint
        self.epoch = epoch
        self.step = step


# ---------------------------------------------------------------- files


def write_json(path: Path, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON (see :mod:`archcalc.outfile`)."""
    outfile.write_text(path, json.dumps(obj, indent=2) + "\n")


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by this trainer, verifying its checksum and plain entries.

    Tensors and plain values only (``weights_only=True``): no pickled code runs.
    The network-dependent parts are checked by ``checkpoint.check_against`` on resume.
    """
    if not path.is_file():
        raise ArchcalcError(f"no checkpoint to resume from: {path} does not exist")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # any unreadable file is the same problem to the user
        reason = " ".join(str(err).split())[:200]
        raise ArchcalcError(f"{path}: not a readable archcalc checkpoint ({reason})") from None
    return checkpoint.check_file(state, path)


# ---------------------------------------------------------------- the trainer


def check_model(model: nn.Module, image_shape: tuple[int, ...], num_classes: int) -> None:
    """Run two blank images through ``model``: it must accept them and give one score per class."""
    was_training = model.training
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(2, *image_shape, device=device))
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ArchcalcError(
            f"the network cannot take the data's {_dims(image_shape)} images: {first}"
        ) from None
    finally:
        model.train(was_training)
    if tuple(out.shape[1:]) != (num_classes,):
        raise ArchcalcError(
            f"the network gives {_dims(tuple(out.shape[1:]))} per image, but the data has "
            f"{num_classes} classes: expects one score per class ({num_classes})"
        )


def smoothed_losses(
    logits: torch.Tensor, labels: torch.Tensor, smoothing: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample label-smoothed cross-entropy (what is optimised) and plain cross-entropy.

    Equal to ``F.cross_entropy(..., label_smoothing=smoothing, reduction="none")``, written
    out so that the plain loss reported to the user comes from the same log-probabilities.
    """
    logp = logits.float().log_softmax(1)
    nll = -logp.gather(1, labels[:, None]).squeeze(1)
    if not smoothing:
        return nll, nll
    return (1 - smoothing) * nll - smoothing * logp.mean(1), nll


@dataclass
class _Partial:
    """Sums over the batches of the epoch in progress."""

    loss_sum: float = 0.0
    correct: float = 0.0
    seen: float = 0.0
    seconds: float = 0.0


@dataclass
class Trainer:
    """Trains ``model`` on ``data`` with ``recipe``; writes into ``out`` (main process only).

    ``out`` None writes nothing (benchmarks). ``meta`` is merged into metrics.json.
    ``on_step(epoch, batch)`` runs after every batch (tests use it to stop mid-epoch).
    """

    model: nn.Module
    data: ImageData
    dist: Dist
    recipe: Recipe = DEFAULT
    seed: int = 0
    out: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    reporter: Reporter = field(default_factory=SilentReporter)
    on_step: Callable[[int, int], None] | None = None
    history: list[EpochMetrics] = field(default_factory=list, init=False)
    # Where the last checkpoint written (or resumed from) stands, for error messages.
    _saved_at: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.recipe.batch_size < self.dist.world_size:
            raise ArchcalcError(
                f"--batch-size {self.recipe.batch_size} is smaller than the "
                f"{self.dist.world_size} processes that share each batch"
            )
        device = self.dist.device
        self._cuda = device.type == "cuda"
        check_model(self.model, self.data.image_shape, self.data.num_classes)
        # channels_last lets oneDNN (CPU) and cuDNN (bf16) pick their fast convolution kernels.
        self._fmt = torch.channels_last if len(self.data.image_shape) == 3 else None
        self.module = self.model.to(device)
        if self._fmt is not None:
            self.module = self.module.to(memory_format=self._fmt)
        self.net: nn.Module = self.module
        if self.dist.distributed:
            self.net = DistributedDataParallel(
                self.module, device_ids=[device.index] if self._cuda else None
            )
        self._train_x = self._to_device(self.data.train.images)
        self._train_y = self.data.train.labels.to(device)
        # Each process scores an interleaved share of the test set; counts are summed.
        share = slice(self.dist.rank, None, self.dist.world_size)
        self._test_x = self._to_device(self.data.test.images[share])
        self._test_y = self.data.test.labels[share].to(device)
        n, b, w = len(self.data.train), self.recipe.batch_size, self.dist.world_size
        # A last, incomplete batch is kept only if every process gets two images of it:
        # DDP needs a sample on every process, and batch norm cannot train on one image
        # (one value per channel), which used to crash the run at the end of an epoch.
        self.steps_per_epoch = n // b + (1 if n % b >= 2 * w else 0)
        if self.steps_per_epoch == 0:
            raise ArchcalcError(
                f"{n} training images are too few for one batch: each of the {w} process(es) "
                "needs at least 2"
            )
        if b // w < 2:
            self._check_single_image_batches(b // w)
        self.optimizer = self.recipe.optimizer(self.module.parameters())
        self.scheduler = self.recipe.scheduler(self.optimizer, self.steps_per_epoch)
        self._stop = False

    def _check_single_image_batches(self, share: int) -> None:
        """Refuse up front a batch of one image per process that the network cannot train on.

        Batch norm needs more than one value per channel in training mode: a
        BatchNorm1d after a linear layer fails on one image, a BatchNorm2d on a
        larger map does not. One training-mode pass on a copy (its own random
        stream, so this run's numbers do not change) tells which.
        """
        norms = [
            name
            for name, m in self.module.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)
        ]
        if not norms:
            return
        probe = copy.deepcopy(self.module).train()
        cuda = [self.dist.device.index or 0] if self._cuda else []
        try:
            with torch.random.fork_rng(devices=cuda), self._autocast():
                probe(self._train_x[:share])
        except (ValueError, RuntimeError):
            b, w = self.recipe.batch_size, self.dist.world_size
            each = "" if w == 1 else f" shared by {w} processes"
            raise ArchcalcError(
                f"--batch-size {b}{each} trains on one image at a time, but batch norm "
                f"({norms[0]}) needs more than one value per channel to train",
                hint=f"use --batch-size {2 * w} or more",
            ) from None

    # -------------------------------------------------------------- public

    @property
    def checkpoint_path(self) -> Path | None:
        return self.out / CHECKPOINT if self.out is not None else None

    def request_stop(self) -> None:
        """Stop after the current batch, saving a checkpoint (what Ctrl-C does)."""
        self._stop = True

    def fit(self, *, resume: bool = False) -> list[EpochMetrics]:
        """Train to ``recipe.epochs``; returns every epoch's metrics (resumed ones included).

        Raises Interrupted after saving a checkpoint when stopped, and ArchcalcError
        (keeping the last good checkpoint) when the loss stops being finite.
        """
        start_epoch, start_step, partial = 0, 0, _Partial()
        if self.out is not None and self.dist.is_main:
            # Before any training: a read-only or missing folder is found now, not an epoch later.
            outfile.probe_folder(self.out)
        if resume:
            start_epoch, start_step, partial = self._restore()
        with self._sigint_stops():
            for epoch in range(start_epoch, self.recipe.epochs):
                self._run_epoch(epoch, start_step, partial)
                start_step, partial = 0, _Partial()
        return list(self.history)

    @torch.inference_mode()
    def evaluate(self) -> float:
        """Test accuracy (a fraction) over every process's share of the test set."""
        self.module.eval()
        correct = torch.zeros((), dtype=torch.float64, device=self.dist.device)
        step = self.recipe.eval_batch_size
        for i in range(0, self._test_x.shape[0], step):
            with self._autocast():
                out = self.module(self._test_x[i : i + step])
            correct += (out.argmax(1) == self._test_y[i : i + step]).sum()
        if self.dist.distributed:
            tdist.all_reduce(correct)
        return float(correct) / len(self.data.test)

    # -------------------------------------------------------------- one epoch

    def _run_epoch(self, epoch: int, start_step: int, partial: _Partial) -> None:
        d, b = self.dist, self.recipe.batch_size
        shuffle = torch.Generator().manual_seed(derived_seed(self.seed, epoch, 0))
        order = torch.randperm(len(self.data.train), generator=shuffle).to(d.device)
        if start_step == 0:
            # Dropout's stream restarts per epoch, so a run resumed at an epoch boundary
            # continues exactly as the uninterrupted one would.
            torch.manual_seed(derived_seed(self.seed, epoch, 1 + d.rank))
        self.reporter.epoch_start(epoch + 1, self.recipe.epochs, self.steps_per_epoch, start_step)
        self.net.train()
        sums = _Partial(**asdict(partial))
        started = time.perf_counter() - partial.seconds
        for step in range(start_step, self.steps_per_epoch):
            batch = order[step * b : (step + 1) * b]
            local = batch[d.rank :: d.world_size]
            stats = self._train_step(local, len(batch))
            if d.distributed:
                # One small all-reduce gives every process the same totals, NaN verdict and
                # stop request, so they all stop at the same batch.
                extra = [float(local.shape[0]), float(self._stop)]
                stats = torch.cat([stats, stats.new_tensor(extra)])
                tdist.all_reduce(stats)
                loss_sum, correct, seen, stop = stats.tolist()
            else:
                loss_sum, correct = stats.tolist()
                seen, stop = float(local.shape[0]), float(self._stop)
            if not math.isfinite(loss_sum):
                self._nan_stop(epoch + 1, step + 1, loss_sum)
            sums.loss_sum += loss_sum
            sums.correct += correct
            sums.seen += seen
            sums.seconds = time.perf_counter() - started
            self.reporter.step(step + 1, sums.loss_sum / sums.seen, sums.seen / sums.seconds)
            if self.on_step is not None:
                self.on_step(epoch + 1, step + 1)
            if stop > 0 and step + 1 < self.steps_per_epoch:
                self._save(epoch, step + 1, sums)
                raise Interrupted(self.checkpoint_path, epoch + 1, step + 1)
        train_seconds = sums.seconds
        test_acc = self.evaluate()
        metrics = EpochMetrics(
            epoch=epoch + 1,
            train_loss=sums.loss_sum / sums.seen,
            train_acc=sums.correct / sums.seen,
            test_acc=test_acc,
            seconds=time.perf_counter() - started,
            images_per_s=sums.seen / train_seconds if train_seconds > 0 else 0.0,
        )
        self.history.append(metrics)
        self._save(epoch + 1, 0, None)
        self.reporter.epoch_end(metrics)
        if self._agreed_stop() and epoch + 1 < self.recipe.epochs:
            raise Interrupted(self.checkpoint_path, epoch + 2, 0)

    def _train_step(self, local: torch.Tensor, global_n: int) -> torch.Tensor:
        """One optimiser step on this process's share; returns its [summed loss, correct count]."""
        x = self._train_x[local]
        y = self._train_y[local]
        with self._autocast():
            out = self.net(x)
        per_sample, nll = smoothed_losses(out, y, self.recipe.label_smoothing)
        # Scaled so that DDP's gradient average is the mean over the *global* batch, even
        # when processes hold shares that differ by one sample.
        loss = per_sample.sum() * (self.dist.world_size / global_n)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        # float64: summed over an epoch, float32 counts and sums would round.
        return torch.stack(
            [nll.detach().sum().double(), (out.detach().argmax(1) == y).sum().double()]
        )

    def _agreed_stop(self) -> bool:
        if not self.dist.distributed:
            return self._stop
        flag = torch.tensor([float(self._stop)], device=self.dist.device)
        tdist.all_reduce(flag)
        return bool(flag.item() > 0)

    def _nan_stop(self, epoch: int, step: int, value: float) -> None:
        path = self.checkpoint_path
        if self.history and path is not None:
            last = self.history[-1].epoch
            kept = f"the last good checkpoint (after epoch {last}) is kept in {path}"
        else:
            kept = "no epoch had finished, so there is no checkpoint"
        raise ArchcalcError(
            f"the training loss became {value} at epoch {epoch}, batch {step}; training stopped "
            f"and {kept}",
            hint="try a lower --lr",
        )

    # -------------------------------------------------------------- checkpoints

    def _save(self, epoch: int, step: int, partial: _Partial | None) -> None:
        """Checkpoint after ``epoch`` whole epochs and ``step`` batches of the next."""
        # Every process's random state, so a mid-epoch resume continues each dropout stream.
        rng = self._gather(
            {
                "cpu": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state(self.dist.device) if self._cuda else None,
            }
        )
        if not self.dist.is_main or self.out is None:
            return
        state = checkpoint.seal(
            {
                "model": self.module.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "epoch": epoch,
                "step": step,
                "partial": asdict(partial) if partial is not None else None,
                "history": [m.to_dict() for m in self.history],
                "rng": rng,
                "seed": self.seed,
                "recipe": self.recipe.to_dict(),
                "train_images": len(self.data.train),
                "world_size": self.dist.world_size,
                "meta": self.meta,
            }
        )
        # Serialised in memory first, so a full disk or a read-only folder is an OSError of
        # the write, which outfile turns into one line; the previous checkpoint stays whole.
        buffer = io.BytesIO()
        torch.save(state, buffer)
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            outfile.write_bytes(self.out / CHECKPOINT, buffer.getvalue())
            self._saved_at = f"after epoch {epoch}" + (f", batch {step}" if step else "")
            write_json(self.out / METRICS, self.metrics())
        except (OSError, ArchcalcError) as err:
            reason = err.message if isinstance(err, ArchcalcError) else f"{self.out}: {err}"
            kept = (
                f"the last good checkpoint ({self._saved_at}) is kept in {self.out / CHECKPOINT}"
                if self._saved_at
                else "no checkpoint was saved"
            )
            raise ArchcalcError(
                f"{reason}; training stopped and {kept}",
                hint="make room or fix the folder, then run again (--resume continues)",
            ) from None

    def metrics(self) -> dict[str, Any]:
        """The metrics.json object."""
        return {
            "epochs": [m.to_dict() for m in self.history],
            "device": str(self.dist.device.type),
            "seed": self.seed,
            **self.meta,
            "world_size": self.dist.world_size,
            "recipe": self.recipe.to_dict(),
        }

    def _restore(self) -> tuple[int, int, _Partial]:
        path = self.checkpoint_path
        if path is None:
            raise ArchcalcError("--resume needs an output folder to resume from")
        state = load_checkpoint(path, self.dist.device)
        state["spec"] = state["meta"]["spec"]
        for key, mine in (
            ("spec", self.meta.get("spec")),
            ("recipe", self.recipe.to_dict()),
            ("seed", self.seed),
            ("train_images", len(self.data.train)),
        ):
            if state.get(key) != mine:
                raise ArchcalcError(
                    f"{path} was trained with {key} {state.get(key)}, this run has {mine}",
                    hint="resume with the original settings, or pass --force to start over",
                )
        epoch, step = int(state["epoch"]), int(state["step"])
        if epoch >= self.recipe.epochs:
            raise ArchcalcError(
                f"{path} is a finished run of {self.recipe.epochs} epochs; nothing to resume",
                hint="pass --force to train again from scratch",
            )
        checkpoint.check_against(
            state,
            path,
            model=self.module,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            steps_per_epoch=self.steps_per_epoch,
        )
        try:
            self.module.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
        except (RuntimeError, ValueError, KeyError, TypeError) as err:
            # check_against should have caught it; a torch release may check more.
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise ArchcalcError(f"{path}: cannot resume from this checkpoint: {first}") from None
        self.history = [EpochMetrics(**m) for m in state["history"]]
        self._saved_at = f"after epoch {epoch}" + (f", batch {step}" if step else "")
        partial = _Partial(**state["partial"]) if state["partial"] else _Partial()
        rng = state["rng"]
        if step > 0 and len(rng) == self.dist.world_size:
            mine = rng[self.dist.rank]
            torch.set_rng_state(mine["cpu"].cpu())
            if self._cuda and mine["cuda"] is not None:
                torch.cuda.set_rng_state(mine["cuda"].cpu(), self.dist.device)
        return epoch, step, partial

    def _gather(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        if not self.dist.distributed:
            return [obj]
        out: list[Any] = [None] * self.dist.world_size
        tdist.all_gather_object(out, obj)
        return out

    # -------------------------------------------------------------- helpers

    def _to_device(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.dist.device)
        return x.contiguous(memory_format=self._fmt) if self._fmt is not None else x

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        # bf16 needs no loss scaling; on CPU autocast would only slow this small network down.
        if self._cuda:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def _sigint_stops(self) -> Iterator[None]:
        """Turn Ctrl-C into a stop at the next batch boundary, where the state is consistent."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: FrameType | None) -> None:
            # Only a flag: printing from a signal handler could interleave with rich's output.
            self._stop = True

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


def _dims(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape) if shape else "a scalar"
