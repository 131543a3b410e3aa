"""Memory as text: the summary's memory block and ``archcalc fit``'s answer (docs/memory.md)."""

from __future__ import annotations

from archcalc.analysis.footprint import OPTIMIZER_STATE, Fit, Footprint
from archcalc.analysis.memory import binary_size
from archcalc.errors import printable

OPTIMIZER_NAMES = {
    "sgd": "SGD",
    "sgd-momentum": "SGD with momentum",
    "adam": "Adam",
    "adamw": "AdamW",
}
# What each part of the training peak is, in the order a reader adds them up.
PARTS = (
    ("params", "parameters"),
    ("buffers", "buffers"),
    ("gradients", "gradients"),
    ("optimizer_state", "optimizer state"),
    ("input", "input batch"),
    ("targets", "targets"),
    ("saved", "saved for backward"),
    ("activations", "other activations"),
    ("activation gradients", "activation gradients"),
    ("loss", "loss"),
    ("weight copies", "autocast weight copies"),
    ("workspace", "transient"),
)


def precision_text(dtype: str) -> str:
    """``float32``, or ``bfloat16 autocast`` (float32 weights, low-precision compute)."""
    return dtype if dtype == "float32" else f"{dtype} autocast"


def optimizer_text(optimizer: str) -> str:
    n = OPTIMIZER_STATE[optimizer]
    state = {0: "no state", 1: "one momentum", 2: "two moments"}[n]
    return f"{OPTIMIZER_NAMES[optimizer]} ({state})"


def phase_text(phase: str) -> str:
    return {"step": "in the optimizer step"}.get(phase, f"in {phase}")


def parts_lines(f: Footprint, indent: str = "  ") -> list[str]:
    """The training peak split into what was live at that moment, one part a line."""
    rows = [(label, f.at_peak[key]) for key, label in PARTS if f.at_peak.get(key)]
    width = max((len(label) for label, _ in rows), default=0)
    return [f"{indent}{label:<{width}}  {binary_size(n):>10}" for label, n in rows]


def memory_lines(f: Footprint, activations: int) -> list[str]:
    """The summary's memory block: each figure saying what it counts."""
    return [
        f"parameters {binary_size(f.params)} + buffers {binary_size(f.buffers)} (float32)",
        f"saved for backward at batch {f.batch}: {binary_size(f.saved)} (what autograd keeps "
        f"at {precision_text(f.dtype)}, each tensor once; every layer's output adds up to "
        f"{binary_size(activations)})",
        f"inference peak at batch {f.batch}: {binary_size(f.inference_peak)} (weights, batch "
        "and the activations live at the fullest moment of an eval-mode pass)",
        f"training peak at batch {f.batch}: {binary_size(f.training_peak)} "
        f"{phase_text(f.training_phase)}, with {optimizer_text(f.optimizer)}: "
        + ", ".join(
            f"{label} {binary_size(f.at_peak[key])}" for key, label in PARTS if f.at_peak.get(key)
        ),
    ]


def fit_lines(name: str, shape: str, fit: Fit) -> list[str]:
    """``archcalc fit``'s answer: the largest batches, then the training breakdown."""
    t, i = fit.train, fit.infer
    head = (
        f"{printable(name)} — input {shape}, budget {binary_size(fit.budget)}, "
        f"{precision_text(t.dtype)}, {optimizer_text(t.optimizer)}"
    )
    lines = [head, ""]
    if fit.train_batch:
        lines.append(
            f"trains at batch {fit.train_batch:,}: peak {binary_size(t.training_peak)} "
            f"{phase_text(t.training_phase)}"
        )
    else:
        lines.append(
            f"does not train within {binary_size(fit.budget)}: batch 1 needs "
            f"{binary_size(t.training_peak)}"
        )
    if fit.infer_batch:
        lines.append(f"infers at batch {fit.infer_batch:,}: peak {binary_size(i.inference_peak)}")
    else:
        lines.append(
            f"does not infer within {binary_size(fit.budget)}: batch 1 needs "
            f"{binary_size(i.inference_peak)}"
        )
    lines += ["", f"training peak at batch {t.batch:,}, what is live then:"]
    lines += parts_lines(t)
    lines.append(f"  = {binary_size(t.training_peak)}")
    if t.unknown:
        lines.append(
            f"note: {len(t.unknown)} layer(s) without a memory rule, assumed to save their "
            f"input: {printable(', '.join(t.unknown[:5]))}"
        )
    lines.append(
        "estimates of torch's own behaviour on CPU, checked against its allocator "
        "(docs/memory.md); a GPU adds the CUDA context and cuDNN's workspaces"
    )
    return lines
