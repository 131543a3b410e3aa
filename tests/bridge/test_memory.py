"""archcalc's memory estimates against torch on CPU, for the example zoo (docs/memory.md).

- saved for backward: what ``torch.autograd.graph.saved_tensors_hooks`` sees, each storage
  once, parameters and buffers left out: within 1% (archcalc's count is exact on every
  example) at batch 1 and 8, float32 and bfloat16 autocast;
- the inference peak and the steady-state training step's peak (Adam), measured with torch's
  CPU allocator (archcalc.bridge.measure): within 10%.

CI runs a sample of the zoo; ``ARCHCALC_FULL_ZOO=1`` runs every example spec (tens of
minutes on two cores), as ``python benchmarks/memory_accuracy.py`` does with a table
(docs/memory.md, "Accuracy on the zoo").
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch
from torch import nn

import archcalc
from archcalc.analysis import Analysis
from archcalc.analysis.footprint import footprint, saved_bytes
from archcalc.bridge import measure
from tests.helpers import EXAMPLES

ALL = sorted(p.stem for p in EXAMPLES.glob("*.yaml"))
# Every kind of graph the zoo has (residuals, concats, gates, chunks and shuffles, 1-D, padded
# convolutions, dropout), at a cost CI affords.
SAVED_SAMPLE = ("mnist_cnn", "m5", "squeezenet1_0", "shufflenet_v2_x1_0", "mobilenet_v1_tf")
PEAK_SAMPLE = ("mnist_cnn", "m5", "squeezenet1_0", "mobilenet_v3_large")
FULL = bool(os.environ.get("ARCHCALC_FULL_ZOO"))
BATCHES = (1, 8)
DTYPES = ("float32", "bfloat16")
# More resident memory on CPU than this project's machine has (docs/memory.md).
TOO_LARGE = {("unet", 8)}  # as benchmarks/memory_accuracy.py skips it


def _zoo(sample: tuple[str, ...]) -> list[str]:
    return ALL if FULL else list(sample)


@pytest.fixture(scope="module")
def built(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[str, Analysis, nn.Module, tuple[int, ...]]]:
    spec = archcalc.load(EXAMPLES / f"{request.param}.yaml")
    torch.manual_seed(0)
    yield request.param, archcalc.analyze(spec), archcalc.build(spec), spec.input_shape


def _fits(name: str, batch: int) -> None:
    if (name, batch) in TOO_LARGE:
        pytest.skip(f"{name} at batch {batch} needs more memory than this machine has")


@pytest.mark.parametrize("built", _zoo(SAVED_SAMPLE), indirect=True)
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_saved_bytes_match_what_autograd_saves(
    built: tuple[str, Analysis, nn.Module, tuple[int, ...]], batch: int, dtype: str
) -> None:
    name, analysis, model, shape = built
    _fits(name, batch)
    measured = measure.saved_bytes(model, torch.randn(batch, *shape), dtype)
    estimated = saved_bytes(analysis, batch, dtype)
    assert abs(estimated - measured) <= 0.01 * measured, (estimated, measured)


@pytest.mark.parametrize("built", _zoo(PEAK_SAMPLE), indirect=True)
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_peaks_are_within_ten_percent_of_the_allocator(
    built: tuple[str, Analysis, nn.Module, tuple[int, ...]], batch: int, dtype: str
) -> None:
    name, analysis, model, shape = built
    _fits(name, batch)
    x = torch.randn(batch, *shape)
    est = footprint(analysis, batch, dtype, "adam", threads=torch.get_num_threads())
    inference = measure.inference_peak(model, x, dtype)
    training = measure.training_peak(model, x, "adam", dtype)
    assert abs(est.inference_peak - inference) <= 0.10 * inference, (est.inference_peak, inference)
    assert abs(est.training_peak - training) <= 0.10 * training, (est.training_peak, training)
    # the parts at the peak add up to it
    assert sum(est.at_peak.values()) == est.training_peak
