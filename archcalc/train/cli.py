"""``archcalc train SPEC``: train the spec's network on MNIST-format data.

Everything a user can get wrong (data, spec against data, output folder,
resume settings) is checked before anything is written, so a refused run
leaves the output folder as it was. Under ``torchrun`` every process runs
this; only rank 0 prints and writes.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from archcalc import outfile
from archcalc.cli.common import count, shown
from archcalc.errors import ArchcalcError

PICTURES = ("curves.png", "filters.png", "feature_maps.png")
_RUN_FILES = ("metrics.json", "checkpoint.pt")  # either one marks a folder as holding a run
_REDRAW_S = 0.25  # progress bar redraws at most this often
RUNS = Path("runs")  # the default output folder is RUNS/<the spec's name, made safe>
# A spec's name becomes one folder name: letters, digits, _ . + - only (anything else is _),
# no leading dot, so `name: ../../etc` or `/tmp/x` cannot leave RUNS.
_UNSAFE = re.compile(r"[^\w.+-]+")
_MAX_NAME = 100
# Upper bounds of the integer options: beyond them a value is a typo (and overflows torch).
MAX_EPOCHS = 100_000
MAX_BATCH = 2**31 - 1
MAX_IMAGES = 2**62
MAX_SEED = 2**64 - 1  # torch.manual_seed's range


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``archcalc train`` options."""
    from archcalc.train.recipe import DEFAULT

    parser.add_argument("spec", metavar="SPEC", help="the spec (YAML) whose network to train")
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with the four MNIST-format IDX files (gzipped or not; flat or MNIST/raw/); "
        "default: download MNIST into $ARCHCALC_DATA or the user cache",
    )
    parser.add_argument(
        "--epochs", type=count(MAX_EPOCHS), metavar="N", help=f"default {DEFAULT.epochs}"
    )
    parser.add_argument(
        "--batch-size",
        type=count(MAX_BATCH),
        metavar="N",
        help=f"global batch, shared by all processes (default {DEFAULT.batch_size})",
    )
    parser.add_argument(
        "--lr",
        type=_positive_float,
        metavar="X",
        help=f"peak learning rate of the one-cycle schedule (default {DEFAULT.lr:g})",
    )
    parser.add_argument("--seed", type=_seed, metavar="N", help="default 0")
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="default auto: CUDA when available",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default runs/<spec name>, the name reduced to one safe folder name)",
    )
    again = parser.add_mutually_exclusive_group()
    again.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its checkpoint"
    )
    again.add_argument("--force", action="store_true", help="replace a run already in --out")
    # For quick tests on a slice of the data; not part of the user-facing recipe.
    parser.add_argument("--limit-train", type=count(MAX_IMAGES), help=argparse.SUPPRESS)
    parser.add_argument("--limit-test", type=count(MAX_IMAGES), help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Train; 0 when finished, 130 when interrupted (after saving a checkpoint).

    Raises ArchcalcError for a user's mistake (the dispatcher prints it, exit 2).
    """
    import archcalc
    from archcalc.train import loop

    for flag, value in (("SPEC", args.spec), ("--data-dir", args.data_dir), ("--out", args.out)):
        if value is not None and "\0" in value:
            raise ArchcalcError(f"{flag} holds a NUL character, which no path can: {value!r}")
    spec = archcalc.load(args.spec)
    analysis = archcalc.analyze(spec)
    dist = loop.setup(args.device)
    try:
        status = _train(args, spec, analysis, dist)
        # Leave together: a process that tears down gloo while rank 0 is still writing can
        # abort ("terminate called without an active exception").
        loop.barrier(dist)
        return status
    except ArchcalcError:
        if not dist.is_main:
            return 2  # rank 0 says it; N copies of one message help nobody
        raise
    finally:
        loop.teardown(dist)


def main(argv: list[str] | None = None) -> int:
    """``python -m archcalc.train.cli``: the command on its own, outside the dispatcher."""
    parser = argparse.ArgumentParser(prog="archcalc train")
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except ArchcalcError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


# ---------------------------------------------------------------- the command


def _train(args: argparse.Namespace, spec: Any, analysis: Any, dist: Any) -> int:
    import archcalc
    from archcalc.train import data as data_mod
    from archcalc.train import loop

    out = Path(args.out) if args.out else default_out(spec.name)
    _check_out(out, resume=args.resume, force=args.force)
    recipe, seed = _settings(args, out, spec.name)

    if dist.distributed and args.data_dir is None and not dist.is_main:
        # Let rank 0 download alone; the others read what it fetched.
        import torch.distributed as tdist

        tdist.barrier()
        files = data_mod.resolve(None, download=False)
    else:
        files = data_mod.resolve(args.data_dir)
        if dist.distributed and args.data_dir is None:
            import torch.distributed as tdist

            tdist.barrier()
    data = data_mod.load(files, limit_train=args.limit_train, limit_test=args.limit_test)
    _check_spec_fits(spec, analysis, data)

    loop.seed_everything(seed)
    with _memory_errors(
        f"build the network ({analysis.totals.params:,} parameters)",
        "make the spec's largest layer smaller",
    ):
        model = archcalc.build(spec)
    if dist.is_main:
        outfile.probe_folder(out)
    if args.force and dist.is_main:
        # Only the files a run writes, each only if it is a regular file (checked again here).
        for name in (*_RUN_FILES, *PICTURES):
            outfile.remove_own(out / name)
    params = sum(p.numel() for p in model.parameters())
    meta = {
        "spec": spec.name,
        "spec_file": str(args.spec),
        "params": params,
        **loop.describe(dist),
        "data": {
            "dir": data.source,
            "train_images": len(data.train),
            "test_images": len(data.test),
            "classes": data.num_classes,
            "mean": data.mean,
            "std": data.std,
        },
    }
    console = _console()
    reporter: Any = _RichReporter(console) if dist.is_main else loop.SilentReporter()
    with _memory_errors(f"train on {dist.device}", "try a smaller --batch-size"):
        trainer = loop.Trainer(
            model=model,
            data=data,
            dist=dist,
            recipe=recipe,
            seed=seed,
            out=out,
            meta=meta,
            reporter=reporter,
        )
    if dist.is_main:
        procs = f" × {dist.world_size} processes" if dist.distributed else ""
        console.print(
            f"[bold]{spec.name}[/bold]: {params:,} parameters on {dist.device.type}{procs}; "
            f"{len(data.train):,} training and {len(data.test):,} test images from {data.source}\n"
            f"recipe: AdamW, one-cycle lr peaking at {recipe.lr:g}, weight decay "
            f"{recipe.weight_decay:g}, label smoothing {recipe.label_smoothing:g}, batch "
            f"{recipe.batch_size}, {recipe.epochs} epochs, seed {seed}",
            highlight=False,
        )
    try:
        with (
            reporter if dist.is_main else contextlib.nullcontext(),
            _memory_errors(f"train on {dist.device}", "try a smaller --batch-size"),
        ):
            history = trainer.fit(resume=args.resume)
    except loop.Interrupted as stop:
        if dist.is_main:
            again = shlex.join(
                [
                    "archcalc",
                    "train",
                    str(args.spec),
                    *_same_data(args),
                    "--out",
                    str(out),
                    "--resume",
                ]
            )
            console.print(
                f"interrupted at epoch {stop.epoch}, batch {stop.step}; saved "
                f"{stop.checkpoint} — continue with: {again}",
                highlight=False,
            )
        return 130
    if not dist.is_main:
        return 0
    written = [out / "metrics.json", out / "checkpoint.pt", *_draw(trainer, analysis, out)]
    _print_table(console, history)
    console.print("wrote " + ", ".join(str(p) for p in written), highlight=False)
    return 0


def _same_data(args: argparse.Namespace) -> list[str]:
    """The flags that must be repeated on --resume (the recipe comes from the checkpoint)."""
    flags: list[str] = []
    for flag, value in (
        ("--data-dir", args.data_dir),
        ("--limit-train", args.limit_train),
        ("--limit-test", args.limit_test),
    ):
        if value is not None:
            flags += [flag, str(value)]
    if args.device != "auto":
        flags += ["--device", args.device]
    return flags


def run_folder_name(spec_name: str) -> str:
    """The spec's name as one safe folder name: no separators, no leading dot, never empty."""
    return _UNSAFE.sub("_", spec_name).lstrip(".")[:_MAX_NAME] or "run"


def default_out(spec_name: str, runs: Path = RUNS) -> Path:
    """``runs/<safe name>``; refused if a link there leads out of ``runs``."""
    out = runs / run_folder_name(spec_name)
    if not out.resolve().is_relative_to(runs.resolve()):
        raise ArchcalcError(
            f"the default output folder {out} leads out of {runs}/ (through a link)",
            hint="pass --out DIR",
        )
    return out


def _check_out(out: Path, *, resume: bool, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ArchcalcError(f"--out {out} is a file, not a folder")
    # Every file a run writes must be a regular file or absent: never a link or a device.
    if out.is_dir():
        for name in (*_RUN_FILES, *PICTURES):
            outfile.check_target(out / name)
    held = [name for name in _RUN_FILES if (out / name).exists()]
    if resume and not (out / "checkpoint.pt").exists():
        raise ArchcalcError(f"--resume: {out} holds no checkpoint.pt to continue from")
    if held and not (resume or force):
        raise ArchcalcError(
            f"--out {out} already holds a run ({', '.join(held)})",
            hint="pass --resume to continue it, --force to replace it, or another --out",
        )


def _settings(args: argparse.Namespace, out: Path, spec_name: str) -> tuple[Any, int]:
    """The recipe and seed: the defaults with the user's flags, or on --resume the checkpoint's."""
    from archcalc.train.loop import load_checkpoint
    from archcalc.train.recipe import DEFAULT, Recipe

    given = {
        k: v
        for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size), ("lr", args.lr))
        if v is not None
    }
    if not args.resume:
        return Recipe(**{**DEFAULT.settings(), **given}), 0 if args.seed is None else args.seed
    state = load_checkpoint(out / "checkpoint.pt")
    trained = state.get("meta", {}).get("spec")
    if trained != spec_name:
        raise ArchcalcError(
            f"--resume: {out} holds a run of spec {trained!r}, not {spec_name!r}",
            hint="choose another --out, or pass --force to replace that run",
        )
    saved = {k: state["recipe"][k] for k in DEFAULT.settings()}
    for key, value in (*given.items(), *((("seed", args.seed),) if args.seed is not None else ())):
        before = state["seed"] if key == "seed" else saved[key]
        if value != before:
            flag = "--" + key.replace("_", "-")
            raise ArchcalcError(
                f"--resume: {out} was trained with {flag} {before}, not {value}",
                hint=f"drop {flag} to continue it, or pass --force to start over",
            )
    if int(state["epoch"]) >= saved["epochs"]:
        raise ArchcalcError(
            f"--resume: {out} is a finished run of {saved['epochs']} epochs; nothing to resume",
            hint="pass --force to train again from scratch",
        )
    return Recipe(**saved), int(state["seed"])


def _check_spec_fits(spec: Any, analysis: Any, data: Any) -> None:
    if tuple(spec.input_shape) != data.image_shape:
        raise ArchcalcError.at(
            spec.input_loc,
            f"the spec's input is {_dims(spec.input_shape)}, but the images in {data.source} "
            f"are {_dims(data.image_shape)}",
            hint=f"write `input: [{', '.join(map(str, data.image_shape))}]`",
        )
    if len(spec.outputs) > 1:
        raise ArchcalcError.at(
            spec.outputs_loc,
            f"the network returns {len(spec.outputs)} tensors (`outputs`), but training needs "
            "one score per class",
            where="outputs",
            hint="list only the logits in `outputs`, or drop it",
        )
    if tuple(analysis.output_shape) != (data.num_classes,):
        leaves = spec.leaves()
        last = leaves[-1] if leaves else None
        raise ArchcalcError.at(
            last.loc if last is not None else spec.input_loc,
            f"the network's output is {_dims(analysis.output_shape)} per image, but training "
            f"needs one score per class: {data.num_classes}",
            where=last.label if last is not None else None,
            hint=f"end with `linear: {data.num_classes}`",
        )


def _draw(trainer: Any, analysis: Any, out: Path) -> list[Path]:
    from archcalc.train import pictures

    model, test = trainer.module, trainer.data.test
    written = [out / "curves.png"]
    pictures.curves(trainer.history, written[0], title=str(trainer.meta["spec"]))
    rows = [r for r in analysis.rows if r.kind in ("conv2d", "maxpool2d", "avgpool2d")]
    layers = [(r.path, model.get_submodule(r.path)) for r in rows]
    convs = [module for row, (_, module) in zip(rows, layers, strict=True) if row.kind == "conv2d"]
    if convs:
        pictures.filters(convs[0], out / "filters.png")
        written.append(out / "filters.png")
    if layers:
        index = pictures.first_image_of(test.labels, 7)
        pictures.feature_maps(
            model,
            test.images[index],
            layers,
            out / "feature_maps.png",
            title=f"test image {index} (label {int(test.labels[index])})",
        )
        written.append(out / "feature_maps.png")
    return written


# ---------------------------------------------------------------- what the user sees


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


class _RichReporter:
    """A rich progress bar per epoch: batches, running loss, images/s, ETA, then test accuracy."""

    def __init__(self, console: Any) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(bar_width=None),  # whatever the other columns leave (80 columns fit)
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[speed]} img/s"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[test]}"),
            console=console,
            # No refresh thread: on a machine with as many busy threads as cores, its wake-ups
            # preempted a compute thread and cost ~4% of training speed. Redraw from step().
            auto_refresh=False,
        )
        self.task: Any = None
        self._drawn = 0.0

    def __enter__(self) -> _RichReporter:
        self.progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()

    def epoch_start(self, epoch: int, epochs: int, steps: int, done: int) -> None:
        self.task = self.progress.add_task(
            "",
            total=steps,
            completed=done,
            epoch=f"{epoch}/{epochs}",
            loss="–",
            speed="–",
            test="",
        )

    def step(self, done: int, loss: float, images_per_s: float) -> None:
        self.progress.update(
            self.task, completed=done, loss=f"{loss:.4f}", speed=f"{images_per_s:,.0f}"
        )
        now = time.monotonic()
        if now - self._drawn >= _REDRAW_S:
            self._drawn = now
            self.progress.refresh()

    def epoch_end(self, metrics: Any) -> None:
        self.progress.update(self.task, test=f"test {100 * metrics.test_acc:.2f}%")
        self.progress.refresh()


def _print_table(console: Any, history: list[Any]) -> None:
    from rich.table import Table

    table = Table(title="training")
    for name in ("epoch", "training loss", "train accuracy", "test accuracy", "seconds"):
        table.add_column(name, justify="right")
    for m in history:
        table.add_row(
            str(m.epoch),
            f"{m.train_loss:.4f}",
            f"{100 * m.train_acc:.2f}%",
            f"{100 * m.test_acc:.2f}%",
            f"{m.seconds:.1f}",
        )
    console.print(table)


@contextlib.contextmanager
def _memory_errors(what: str, hint: str) -> Iterator[None]:
    """A failed allocation (a huge layer, too big a batch for the GPU) as one line."""
    import torch

    try:
        yield
    except (MemoryError, torch.OutOfMemoryError) as err:
        raise ArchcalcError(f"not enough memory to {what}: {_first_line(err)}", hint=hint) from None
    except RuntimeError as err:
        # torch reports a refused CPU allocation as a plain RuntimeError.
        if "alloc" not in str(err).lower():
            raise
        raise ArchcalcError(f"not enough memory to {what}: {_first_line(err)}", hint=hint) from None


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:300] if lines else type(err).__name__


def _dims(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a positive number, but gets {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expects a positive number, but gets {shown(text)}")
    return value


def _seed(text: str) -> int:
    value = _integer(text, "an integer seed")
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"expects a seed from 0 to 2**64 - 1, but gets {shown(text)}"
        )
    return value


def _integer(text: str, what: str) -> int:
    try:
        # Python refuses ints of over 4,300 digits with a ValueError too.
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects {what}, but gets {shown(text)}") from None


if __name__ == "__main__":
    raise SystemExit(main())
