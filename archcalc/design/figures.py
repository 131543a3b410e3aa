"""The figures compare and scale show for one network at one input size (see anatomy.py)."""

from __future__ import annotations

from dataclasses import dataclass

from archcalc.analysis.footprint import footprint
from archcalc.analysis.receptive import ReceptiveField
from archcalc.analysis.result import Analysis
from archcalc.design.anatomy import Coverage, anatomy
from archcalc.kinds.base import Shape

# The keys Figures.to_dict() gives; a size or design without figures carries them as null.
FIGURE_KEYS = (
    "input_shape",
    "output_shape",
    "params",
    "largest",
    "head_params",
    "body_params",
    "macs",
    "uncounted",
    "peak_activation_bytes",
    "activation_bytes",
    "training_peak_bytes",
    "depth",
    "receptive_field",
)


@dataclass(frozen=True)
class Figures:
    """The numbers compare and scale show for one network at one input size."""

    input_shape: Shape
    output_shape: Shape
    params: int
    largest_path: str | None
    largest_params: int
    head_params: int
    body_params: int
    macs: int
    uncounted: tuple[str, ...]
    # batch 1, float32: the activations (and kernel scratch) live at the fullest moment of an
    # eval-mode pass, weights and batch left out (archcalc.analysis.footprint)
    peak_activation_bytes: int
    activation_bytes: int  # every layer's output, batch 1
    training_peak_bytes: int  # the peak of a training step with Adam, batch 1, float32
    depth: int
    field_at: str | None  # the last spatial layer, where the final field is taken
    field: ReceptiveField | None  # at ``field_at``
    coverage: Coverage | None

    @property
    def largest_share(self) -> float:
        return self.largest_params / self.params if self.params else 0.0

    @property
    def head_share(self) -> float:
        return self.head_params / self.params if self.params else 0.0

    def to_dict(self) -> dict[str, object]:
        cov = self.coverage
        return {
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "params": self.params,
            "largest": None
            if self.largest_path is None
            else {
                "path": self.largest_path,
                "params": self.largest_params,
                "share": round(self.largest_share, 6),
            },
            "head_params": self.head_params,
            "body_params": self.body_params,
            "macs": self.macs,
            "uncounted": list(self.uncounted),
            "peak_activation_bytes": self.peak_activation_bytes,
            "activation_bytes": self.activation_bytes,
            "training_peak_bytes": self.training_peak_bytes,
            "depth": self.depth,
            "receptive_field": None
            if self.field is None or cov is None
            else {
                "layer": self.field_at,
                **self.field.to_dict(),
                "coverage": round(cov.area, 6),
                "coverage_axes": [round(a, 6) for a in cov.axes],
            },
        }


def figures(analysis: Analysis) -> Figures:
    """The design-level numbers of one analysis."""
    anat = anatomy(analysis)
    largest = analysis.largest()
    last = anat.last_spatial
    memory = footprint(analysis)
    weights = memory.params + memory.buffers
    return Figures(
        input_shape=analysis.input_shape,
        output_shape=analysis.output_shape,
        params=analysis.totals.params,
        largest_path=largest.path if largest else None,
        largest_params=largest.params if largest else 0,
        head_params=anat.head_params,
        body_params=anat.body_params,
        macs=analysis.totals.macs,
        uncounted=analysis.totals.uncounted,
        peak_activation_bytes=memory.inference_peak - weights - memory.input,
        activation_bytes=analysis.totals.activation_bytes,
        training_peak_bytes=memory.training_peak,
        depth=anat.depth,
        field_at=analysis.final.path if analysis.final else last.path if last else None,
        field=analysis.final.field if analysis.final else last.receptive_field if last else None,
        coverage=anat.coverage,
    )
