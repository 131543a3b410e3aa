"""The checkpoint's checksum and schema: what ``--resume`` accepts.

A checkpoint is read with ``torch.load(weights_only=True)``, so no pickled code
runs; but a file that loads is not yet one this trainer can continue. Each
checkpoint carries a SHA-256 over its contents (every tensor's dtype, shape
and bytes, and every plain value, in a fixed order), so a flipped bit in a
weight is "corrupt", not a run that resumes with a damaged model. Every key is
then checked for its type and range, and the model, optimiser and scheduler
states against the network being trained, so a hand-edited or foreign file is
one line naming the key — never a KeyError or a crash epochs later.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archcalc.errors import ArchcalcError

FORMAT = 2  # 2: the SHA-256 checksum; format 1 files had none
CHECKSUM = "sha256"
_PARTIAL = ("loss_sum", "correct", "seen", "seconds")
_HISTORY = ("epoch", "train_loss", "train_acc", "test_acc", "seconds", "images_per_s")
_ADAMW_STATE = {"step", "exp_avg", "exp_avg_sq"}
# Scheduler entries that change as training steps; the others follow from the recipe.
_SCHEDULER_MOVING = {"last_epoch", "_step_count", "_is_initial", "_get_lr_called_within_step"}
_SCHEDULER_MOVING |= {"_last_lr"}
_HINT = "pass --force to start the run over"


def digest(state: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of ``state`` without its own checksum entry, in a fixed order."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in state.items() if k != CHECKSUM})
    return h.hexdigest()


def seal(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with its format and checksum set, ready for ``torch.save``."""
    sealed = {**state, "format": FORMAT}
    sealed[CHECKSUM] = digest(sealed)
    return sealed


def check_file(state: object, path: Path) -> dict[str, Any]:
    """Verify the checksum and the plain entries of a loaded checkpoint; returns it.

    The network-dependent parts (weights, optimiser, scheduler, random state)
    are checked by :func:`check_against` once the model exists.
    Raises ArchcalcError naming ``path`` and the offending key.
    """
    if not isinstance(state, dict):
        raise ArchcalcError(f"{path}: not an archcalc train checkpoint (format {FORMAT})")
    if state.get("format") != FORMAT:
        found = state.get("format")
        if isinstance(found, int) and not isinstance(found, bool) and 0 < found < FORMAT:
            raise ArchcalcError(
                f"{path}: checkpoint format {found} was written by an older archcalc "
                f"(this one reads format {FORMAT}, which carries a checksum)",
                hint=_HINT,
            )
        raise ArchcalcError(f"{path}: not an archcalc train checkpoint (format {FORMAT})")
    stored = state.get(CHECKSUM)
    if not isinstance(stored, str):
        raise _bad(path, CHECKSUM, "is missing")
    try:
        actual = digest(state)
    except TypeError as err:
        raise _bad(path, "contents", str(err)) from None
    if actual != stored:
        raise ArchcalcError(
            f"{path}: checkpoint is corrupt: its contents do not match the SHA-256 stored in it",
            hint=_HINT,
        )
    recipe = _dict(path, state, "recipe")
    _fixed(path, recipe, "recipe.optimizer", "optimizer", "AdamW")
    _fixed(path, recipe, "recipe.schedule", "schedule", "OneCycleLR")
    epochs = _int(path, recipe, "epochs", low=1, where="recipe.epochs")
    _int(path, recipe, "batch_size", low=1, where="recipe.batch_size")
    _int(path, recipe, "eval_batch_size", low=1, where="recipe.eval_batch_size")
    _float(path, recipe, "lr", low=0.0, where="recipe.lr", open_low=True)
    _float(path, recipe, "weight_decay", low=0.0, where="recipe.weight_decay")
    _float(path, recipe, "label_smoothing", low=0.0, high=1.0, where="recipe.label_smoothing")
    extra = set(recipe) - {"optimizer", "schedule", "epochs", "batch_size", "eval_batch_size"}
    extra -= {"lr", "weight_decay", "label_smoothing"}
    if extra:
        raise _bad(path, "recipe", f"has unknown keys {sorted(extra)}")
    epoch = _int(path, state, "epoch", low=0, high=epochs)
    step = _int(path, state, "step", low=0)
    _int(path, state, "seed", low=0, high=2**64 - 1)
    _int(path, state, "train_images", low=1)
    world = _int(path, state, "world_size", low=1)
    meta = _dict(path, state, "meta")
    if not isinstance(meta.get("spec"), str):
        raise _bad(path, "meta.spec", "is not a spec name")
    for key in ("model", "optimizer", "scheduler"):
        _dict(path, state, key)

    partial = state.get("partial", ...)
    if step == 0:
        if partial is not None:
            raise _bad(path, "partial", "must be empty at an epoch boundary (step 0)")
    else:
        if not isinstance(partial, dict) or set(partial) != set(_PARTIAL):
            raise _bad(path, "partial", f"expects the keys {', '.join(_PARTIAL)}")
        for key in _PARTIAL:
            _float(path, partial, key, low=0.0, where=f"partial.{key}")

    history = state.get("history")
    if not isinstance(history, list) or len(history) != epoch:
        raise _bad(path, "history", f"expects one entry per finished epoch ({epoch})")
    for i, row in enumerate(history):
        where = f"history[{i}]"
        if not isinstance(row, dict) or set(row) != set(_HISTORY):
            raise _bad(path, where, f"expects the keys {', '.join(_HISTORY)}")
        _int(path, row, "epoch", low=i + 1, high=i + 1, where=f"{where}.epoch")
        for key in _HISTORY[1:]:
            high = 1.0 if key.endswith("_acc") else None
            _float(path, row, key, low=0.0, high=high, where=f"{where}.{key}")

    rng = state.get("rng")
    if not isinstance(rng, list) or len(rng) != world:
        raise _bad(path, "rng", f"expects one random state per process ({world})")
    size = torch.get_rng_state().numel()
    for i, entry in enumerate(rng):
        if not isinstance(entry, dict) or set(entry) != {"cpu", "cuda"}:
            raise _bad(path, f"rng[{i}]", "expects the keys cpu, cuda")
        if not _bytes_tensor(entry["cpu"], size):
            raise _bad(path, f"rng[{i}].cpu", f"expects {size} bytes of CPU generator state")
        if entry["cuda"] is not None and not _bytes_tensor(entry["cuda"], None):
            raise _bad(path, f"rng[{i}].cuda", "expects CUDA generator state bytes")
    return state


def check_against(
    state: Mapping[str, Any],
    path: Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    steps_per_epoch: int,
) -> None:
    """Check the saved weights, optimiser and scheduler states against this run's objects.

    Call before loading them: torch's own loaders accept many wrong states and
    fail (or train wrongly) later. Raises ArchcalcError naming ``path`` and the key.
    """
    epoch, step = int(state["epoch"]), int(state["step"])
    if step >= steps_per_epoch:
        raise _bad(path, "step", f"is {step}, but an epoch has {steps_per_epoch} batches")
    done = epoch * steps_per_epoch + step

    mine = model.state_dict()
    saved = state["model"]
    missing, unknown = sorted(set(mine) - set(saved)), sorted(set(saved) - set(mine))
    if missing or unknown:
        what = (
            f"lack {', '.join(missing[:3])}"
            if missing
            else f"include {', '.join(unknown[:3])}, which this network lacks"
        )
        raise ArchcalcError(
            f"{path} holds a different network: its weights {what}", hint=_HINT
        ) from None
    for key, tensor in mine.items():
        theirs = saved[key]
        if not isinstance(theirs, torch.Tensor):
            raise _bad(path, f"model.{key}", "is not a tensor")
        if theirs.shape != tensor.shape or theirs.dtype != tensor.dtype:
            raise ArchcalcError(
                f"{path} holds a different network: {key} is {_describe(theirs)}, "
                f"this network's is {_describe(tensor)}",
                hint=_HINT,
            )

    _check_optimizer(state["optimizer"], optimizer, path, done)
    _check_scheduler(state["scheduler"], scheduler.state_dict(), path, done)


# ---------------------------------------------------------------- the parts


def _check_optimizer(
    saved: dict[str, Any], optimizer: torch.optim.Optimizer, path: Path, done: int
) -> None:
    fresh = optimizer.state_dict()
    if set(saved) != {"state", "param_groups"}:
        raise _bad(path, "optimizer", "expects the keys state, param_groups")
    groups, mine = saved["param_groups"], fresh["param_groups"]
    if not isinstance(groups, list) or len(groups) != len(mine):
        raise _bad(path, "optimizer.param_groups", f"expects {len(mine)} group(s)")
    for g, (group, ref) in enumerate(zip(groups, mine, strict=True)):
        where = f"optimizer.param_groups[{g}]"
        if not isinstance(group, dict) or set(group) != set(ref):
            raise _bad(path, where, f"expects the keys {', '.join(sorted(ref))}")
        for key, value in ref.items():
            if key == "lr":  # the scheduler moves it
                _float(path, group, "lr", low=0.0, where=f"{where}.lr")
            elif key == "betas":  # the scheduler cycles beta1
                betas = group["betas"]
                ok = isinstance(betas, (tuple, list)) and len(betas) == 2
                if not ok or not all(_finite(b) and 0.0 <= b < 1.0 for b in betas):
                    raise _bad(path, f"{where}.betas", "expects two numbers in [0, 1)")
            elif group[key] != value or type(group[key]) is not type(value):
                raise _bad(path, f"{where}.{key}", f"is {group[key]!r}, expected {value!r}")
    # The state is keyed by parameter number, in the order of the optimiser's groups.
    ids = [pid for group in mine for pid in group["params"]]
    tensors = [p for group in optimizer.param_groups for p in group["params"]]
    params = dict(zip(ids, tensors, strict=True))
    state = saved["state"]
    if not isinstance(state, dict) or not set(state) <= set(params):
        raise _bad(path, "optimizer.state", "refers to parameters this network lacks")
    if done > 0 and set(state) != set(params):
        raise _bad(path, "optimizer.state", "lacks the moments of some parameters")
    for pid, entry in state.items():
        where = f"optimizer.state[{pid}]"
        if not isinstance(entry, dict) or set(entry) != _ADAMW_STATE:
            raise _bad(path, where, "expects AdamW's step, exp_avg and exp_avg_sq")
        step = entry["step"]
        if not isinstance(step, torch.Tensor) or step.numel() != 1 or float(step) != done:
            raise _bad(path, f"{where}.step", f"expects {done}, the number of batches trained")
        for key in ("exp_avg", "exp_avg_sq"):
            moment, param = entry[key], params[pid]
            if not isinstance(moment, torch.Tensor) or moment.shape != param.shape:
                raise _bad(path, f"{where}.{key}", f"expects a tensor of {_describe(param)}")
            if moment.dtype != param.dtype or not bool(torch.isfinite(moment).all()):
                raise _bad(path, f"{where}.{key}", f"expects finite {_describe(param)}")
        if bool((entry["exp_avg_sq"] < 0).any()):
            raise _bad(path, f"{where}.exp_avg_sq", "holds negative values")


def _check_scheduler(saved: dict[str, Any], fresh: dict[str, Any], path: Path, done: int) -> None:
    if set(saved) != set(fresh):
        raise _bad(path, "scheduler", f"expects the keys {', '.join(sorted(fresh))}")
    for key, value in fresh.items():
        if key not in _SCHEDULER_MOVING and (
            saved[key] != value or type(saved[key]) is not type(value)
        ):
            raise _bad(path, f"scheduler.{key}", f"is {saved[key]!r}, expected {value!r}")
    _int(path, saved, "last_epoch", low=done, high=done, where="scheduler.last_epoch")
    _int(path, saved, "_step_count", low=done + 1, high=done + 1, where="scheduler._step_count")
    for key in ("_is_initial", "_get_lr_called_within_step"):
        if not isinstance(saved[key], bool):
            raise _bad(path, f"scheduler.{key}", "expects true or false")
    last = saved["_last_lr"]
    if not isinstance(last, list) or len(last) != len(fresh["_last_lr"]):
        raise _bad(path, "scheduler._last_lr", "expects one rate per parameter group")
    if not all(_finite(x) and x >= 0 for x in last):
        raise _bad(path, "scheduler._last_lr", "expects finite rates of 0 or more")


# ---------------------------------------------------------------- small checks


def _feed(h: Any, obj: object) -> None:
    """Hash ``obj`` with its type and length, so no two structures hash alike."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}:".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        h.update(f"D{len(obj)}:".encode())
        for key in sorted(obj, key=repr):
            _feed(h, key)
            _feed(h, obj[key])
    elif isinstance(obj, (list, tuple)):
        h.update(f"L{len(obj)}:".encode())
        for item in obj:
            _feed(h, item)
    elif obj is None or isinstance(obj, (bool, int, float, str)):
        text = repr(obj)
        h.update(f"{type(obj).__name__}{len(text)}:{text}".encode())
    else:
        raise TypeError(f"a {type(obj).__name__} has no place in a checkpoint")


def _bad(path: Path, key: str, problem: str) -> ArchcalcError:
    return ArchcalcError(f"{path}: not a valid archcalc checkpoint: {key} {problem}", hint=_HINT)


def _dict(path: Path, state: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = state.get(key)
    if not isinstance(value, dict):
        raise _bad(path, key, "is missing" if value is None else "is not a mapping")
    return value


def _fixed(path: Path, state: Mapping[str, Any], where: str, key: str, expected: str) -> None:
    if state.get(key) != expected:
        raise _bad(path, where, f"is {state.get(key)!r}, expected {expected!r}")


def _int(
    path: Path,
    state: Mapping[str, Any],
    key: str,
    *,
    low: int,
    high: int | None = None,
    where: str | None = None,
) -> int:
    value = state.get(key)
    name = where or key
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad(path, name, "is missing" if value is None else "expects an integer")
    if value < low or (high is not None and value > high):
        span = f"{low}" if high == low else f"{low} to {high}" if high is not None else f"≥ {low}"
        raise _bad(path, name, f"is {value}, expected {span}")
    return value


def _float(
    path: Path,
    state: Mapping[str, Any],
    key: str,
    *,
    low: float,
    high: float | None = None,
    where: str | None = None,
    open_low: bool = False,
) -> float:
    value = state.get(key)
    name = where or key
    if not _finite(value):
        raise _bad(path, name, "is missing" if value is None else "expects a finite number")
    number = float(value)  # type: ignore[arg-type]
    if number < low or (open_low and number == low) or (high is not None and number > high):
        raise _bad(path, name, f"is {number}, out of range")
    return number


def _finite(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _bytes_tensor(value: object, size: int | None) -> bool:
    return (
        isinstance(value, torch.Tensor)
        and value.dtype == torch.uint8
        and value.dim() == 1
        and (size is None or value.numel() == size)
    )


def _describe(t: torch.Tensor) -> str:
    return f"{'×'.join(map(str, t.shape)) or 'a scalar'} {str(t.dtype).removeprefix('torch.')}"
