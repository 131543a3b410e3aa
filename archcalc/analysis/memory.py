"""Memory estimates, each stated as exactly what it counts."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from archcalc.analysis.result import FLOAT32_BYTES, Analysis


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes at float32 for a batch of ``batch`` samples."""

    batch: int
    params: int  # parameters (weights, biases)
    buffers: int  # batch-norm running statistics and the like
    input: int  # one input batch
    activations: int  # every layer's output, as autograd keeps them for backward
    inference_peak: int  # the largest input + output of any one layer, no grad kept
    training: int  # params + gradients + Adam's two moments + buffers + input + activations

    @property
    def weights(self) -> int:
        return self.params + self.buffers


def estimate(analysis: Analysis, batch: int = 1) -> MemoryEstimate:
    """What the network needs in memory at ``batch``; see the field comments."""
    params = analysis.totals.params * FLOAT32_BYTES
    trainable = analysis.totals.trainable_params * FLOAT32_BYTES
    buffers = analysis.totals.buffers * FLOAT32_BYTES
    inp = prod(analysis.input_shape) * FLOAT32_BYTES * batch
    acts = analysis.totals.activation_bytes * batch
    peak = (
        max(
            (prod(r.input_shape) * FLOAT32_BYTES + r.activation_bytes for r in analysis.rows),
            default=0,
        )
        * batch
    )
    # Adam keeps two moments per trainable parameter, and each gets a gradient.
    training = params + 3 * trainable + buffers + inp + acts
    return MemoryEstimate(batch, params, buffers, inp, acts, peak, training)


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def binary_size(n: int) -> str:
    """Bytes in binary units, as they really are: 1 KiB = 1024 B."""
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} B" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
