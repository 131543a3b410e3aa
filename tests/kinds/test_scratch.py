"""The kernels' scratch rules (``LayerKind.scratch`` and ``backward_scratch``) against torch.

A network of one layer is where a kernel's own buffers are the largest share of the peak, so
each case is one convolution or one linear layer, measured with torch's CPU allocator
(archcalc.bridge.measure) at the thread count torch runs on, in float32 and bf16 autocast,
at batch 1 (torch's native convolution path) and 2. The zoo's whole networks are in
tests/bridge/test_memory.py.
"""

from __future__ import annotations

import pytest
import torch

import archcalc
from archcalc.analysis.footprint import footprint
from archcalc.bridge import measure

CASES = {
    # the first layer: few channels, oneDNN reads them in place
    "conv 1→16 on 28×28": ("[1, 28, 28]", "conv2d: {out: 16, kernel: 3, padding: 1}"),
    "conv 16→32 on 14×14": ("[16, 14, 14]", "conv2d: {out: 32, kernel: 3, padding: 1}"),
    "conv 16→64 on 14×14": ("[16, 14, 14]", "conv2d: {out: 64, kernel: 3, padding: 1}"),
    "conv 32→32 on 56×56": ("[32, 56, 56]", "conv2d: {out: 32, kernel: 3, padding: 1}"),
    "conv 16→32 1×1 on 14×14": ("[16, 14, 14]", "conv2d: {out: 32, kernel: 1}"),
    "linear 400→120": ("[400]", "linear: {out: 120}"),
    "linear 1568→128": ("[1568]", "linear: {out: 128}"),
    "linear 84→10": ("[84]", "linear: {out: 10}"),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("batch", (1, 2))
@pytest.mark.parametrize("dtype", ("float32", "bfloat16"))
def test_one_layer_peaks_are_within_ten_percent(case: str, batch: int, dtype: str) -> None:
    shape, layer = CASES[case]
    spec = archcalc.loads(f"input: {shape}\nlayers:\n  - {layer}\n")
    torch.manual_seed(0)
    model = archcalc.build(spec)
    x = torch.randn(batch, *spec.input_shape)
    est = footprint(archcalc.analyze(spec), batch, dtype, "sgd", threads=torch.get_num_threads())
    inference = measure.inference_peak(model, x, dtype)
    training = measure.training_peak(model, x, "sgd", dtype)
    assert abs(est.inference_peak - inference) <= 0.10 * inference, (est.inference_peak, inference)
    assert abs(est.training_peak - training) <= 0.10 * training, (est.training_peak, training)
