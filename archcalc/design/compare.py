"""Compare designs: the same figures for each, with the best and worst of each metric known.

Pure data; archcalc/render/compare.py draws it. A design that cannot be
analysed at the requested input keeps its place, holding the error instead of
figures, so one misfit never hides the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from archcalc.analysis.walk import analyze
from archcalc.design.figures import Figures, figures
from archcalc.errors import ArchcalcError
from archcalc.kinds.base import Shape, fmt_shape
from archcalc.spec.model import Spec

Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class Metric:
    """One compared quantity; ``better`` is None where neither direction is better."""

    key: str
    label: str
    better: Better | None
    value: Callable[[Figures], float | None]  # what the best/worst marks rank


def _coverage(f: Figures) -> float | None:
    return f.coverage.area if f.coverage else None


# Depth and body size are no better or worse for being larger, and shapes do
# not rank at all, so those rows carry no marks.
METRICS: tuple[Metric, ...] = (
    Metric("input_shape", "Input", None, lambda f: None),
    Metric("params", "Params", "lower", lambda f: f.params),
    Metric("largest", "Largest layer (share)", "lower", lambda f: f.largest_share),
    Metric("head_params", "Head params (share)", "lower", lambda f: f.head_params),
    Metric("body_params", "Body params", None, lambda f: f.body_params),
    Metric("macs", "MACs", "lower", lambda f: f.macs),
    Metric("peak_activation_bytes", "Peak activations", "lower", lambda f: f.peak_activation_bytes),
    Metric("activation_bytes", "Total activations", "lower", lambda f: f.activation_bytes),
    Metric("training_peak_bytes", "Training peak", "lower", lambda f: f.training_peak_bytes),
    Metric("depth", "Depth (conv+linear)", None, lambda f: f.depth),
    Metric("receptive_field", "Final receptive field", "higher", _coverage),
    Metric("output_shape", "Output", None, lambda f: None),
)


@dataclass(frozen=True)
class Design:
    """One compared spec: its figures, or why it has none."""

    source: str  # the spec file as given (or the spec's name)
    name: str
    input_shape: Shape  # the input it was analysed at (or tried)
    written_shape: Shape  # the input its spec declares
    figures: Figures | None
    error: str | None = None


@dataclass(frozen=True)
class Comparison:
    designs: tuple[Design, ...]
    input_override: Shape | None
    notes: tuple[str, ...]

    def mark(self, key: str, index: int) -> Literal["best", "worst"] | None:
        """Whether design ``index`` is the best or worst for metric ``key`` (ties share)."""
        metric = next(m for m in METRICS if m.key == key)
        if metric.better is None:
            return None
        values = {i: metric.value(d.figures) for i, d in enumerate(self.designs) if d.figures}
        known = {i: v for i, v in values.items() if v is not None}
        if len(known) < 2 or index not in known or len(set(known.values())) == 1:
            return None
        lo, hi = min(known.values()), max(known.values())
        best, worst = (lo, hi) if metric.better == "lower" else (hi, lo)
        if known[index] == best:
            return "best"
        return "worst" if known[index] == worst else None

    def marks(self, index: int) -> dict[str, list[str]]:
        """``{"best": [metric keys], "worst": [...]}`` for design ``index``."""
        out: dict[str, list[str]] = {"best": [], "worst": []}
        for m in METRICS:
            mark = self.mark(m.key, index)
            if mark:
                out[mark].append(m.key)
        return out


def compare(specs: Sequence[tuple[str, Spec]], input_shape: Shape | None = None) -> Comparison:
    """Analyse every ``(source, spec)`` at its own input, or all at ``input_shape``.

    ``input_shape`` is C×H×W, F, or H×W (each spec keeps its channels). A
    design the override does not fit (a collapse, a channel count a layer
    cannot take) records the error; at its own input a failure is the spec's
    mistake and is recorded the same way, for the caller to report.
    """
    designs = tuple(_design(source, spec, input_shape) for source, spec in specs)
    return Comparison(
        designs=designs, input_override=input_shape, notes=_notes(designs, input_shape)
    )


def _design(source: str, spec: Spec, override: Shape | None) -> Design:
    shape = spec.input_shape if override is None else override
    try:
        if override is not None and len(override) == 2:
            if len(spec.input_shape) != 3:
                raise ArchcalcError(
                    f"--input {fmt_shape(override)} needs a C×H×W spec input, "
                    f"but {spec.name} takes {fmt_shape(spec.input_shape)}"
                )
            shape = (spec.input_shape[0], *override)
        return Design(source, spec.name, shape, spec.input_shape, figures(analyze(spec, shape)))
    except ArchcalcError as err:
        return Design(source, spec.name, shape, spec.input_shape, None, str(err))


def _notes(designs: tuple[Design, ...], override: Shape | None) -> tuple[str, ...]:
    notes: list[str] = []
    if override is None:
        shapes = {d.written_shape for d in designs}
        if len(shapes) > 1:
            listed = ", ".join(f"{d.name} {fmt_shape(d.written_shape)}" for d in designs)
            # A waveform beside a clip: one --input would fail every design but one.
            one_rank = len({len(shape) for shape in shapes}) == 1
            advice = (
                "pass --input to compare them at one size"
                if one_rank
                else "their ranks differ, so no one --input fits them all"
            )
            notes.append(
                f"inputs differ ({listed}): each design is compared at its own input "
                f"as written; {advice}"
            )
    else:
        for d in designs:
            differs = (
                len(d.input_shape) != len(d.written_shape) or d.input_shape[0] != d.written_shape[0]
            )
            if differs:
                notes.append(
                    f"{d.name} is written for {fmt_shape(d.written_shape)}; analysed "
                    f"at {fmt_shape(d.input_shape)} as given"
                )
    return tuple(notes)
