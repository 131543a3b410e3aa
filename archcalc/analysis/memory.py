"""Memory estimates, each stated as exactly what it counts (docs/memory.md).

``estimate`` is the summary's memory block: the parameters and buffers, every layer's
output added up, and from archcalc.analysis.footprint what torch really holds: the bytes
autograd saves for backward, the inference peak of a liveness pass over the graph, and the
peak of a training step.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from archcalc.analysis.footprint import Footprint, footprint
from archcalc.analysis.result import FLOAT32_BYTES, Analysis


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes for a batch of ``batch`` samples; parameters, buffers and the batch in float32."""

    batch: int
    params: int  # parameters (weights, biases)
    buffers: int  # batch-norm running statistics and the like
    input: int  # one input batch
    activations: int  # every layer's output added up (not what backward keeps: see saved)
    inference_peak: int  # the most live in an eval-mode pass: weights, batch, activations
    training: int  # the most live in a training step with ``footprint.optimizer``
    footprint: Footprint  # the breakdown: saved for backward, the parts of the training peak

    @property
    def weights(self) -> int:
        return self.params + self.buffers

    @property
    def saved(self) -> int:
        """What autograd keeps for backward after the forward pass, each storage once."""
        return self.footprint.saved


def estimate(
    analysis: Analysis, batch: int = 1, dtype: str = "float32", optimizer: str = "adam"
) -> MemoryEstimate:
    """What the network needs in memory at ``batch``; see the field comments."""
    f = footprint(analysis, batch, dtype, optimizer)
    return MemoryEstimate(
        batch=batch,
        params=analysis.totals.params * FLOAT32_BYTES,
        buffers=analysis.totals.buffers * FLOAT32_BYTES,
        input=prod(analysis.input_shape) * FLOAT32_BYTES * batch,
        activations=analysis.totals.activation_bytes * batch,
        inference_peak=f.inference_peak,
        training=f.training_peak,
        footprint=f,
    )


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def binary_size(n: int) -> str:
    """Bytes in binary units, as they really are: 1 KiB = 1024 B."""
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} B" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
