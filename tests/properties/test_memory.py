"""Saved-for-backward bytes of drawn specs, graphs included, equal what torch's autograd saves.

Each drawn spec (named tensors, skips, gates, joins, composites, several outputs) is built and
run once in training mode under saved-tensor hooks, in float32 and under bfloat16 autocast; the
bytes archcalc counts from the graph must equal the storages autograd saved, each once, within
1% and 64 bytes. One case is left out: a transposed convolution with both padding and
output_padding, whose output torch sometimes allocates as a view of a larger buffer (8,192
bytes for a 6,720-byte output; docs/memory.md, "Limits"). Its peaks are checked for sanity
(they grow with the batch, their parts add up).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import assume, given, reject, settings

import archcalc
from archcalc.analysis.footprint import footprint, saved_bytes
from archcalc.bridge import measure
from archcalc.testing.strategies import specs

pytestmark = pytest.mark.filterwarnings(
    "ignore:Using padding='same' with even kernel:UserWarning"  # drawn on purpose
)


@settings(max_examples=60)
@given(specs(max_layers=10, several_outputs=True))
def test_saved_bytes_of_drawn_graphs_match_autograd(d: dict[str, Any]) -> None:
    assume("output_padding" not in repr(d) or "'padding'" not in repr(d))
    spec = archcalc.from_dict(d)
    a = archcalc.analyze(spec)
    model = archcalc.build(spec)
    x = torch.randn(2, *a.input_shape)
    for dtype in ("float32", "bfloat16"):
        try:
            measured = measure.saved_bytes(model, x, dtype)
        except ValueError:  # instance norm over one position: torch refuses it in training
            reject()
        estimated = saved_bytes(a, 2, dtype)
        assert abs(estimated - measured) <= 0.01 * measured + 64, (dtype, estimated, measured)


@settings(max_examples=40)
@given(specs(max_layers=10, several_outputs=True))
def test_peaks_grow_with_the_batch_and_their_parts_add_up(d: dict[str, Any]) -> None:
    a = archcalc.analyze(archcalc.from_dict(d))
    small, large = footprint(a, 2), footprint(a, 16)
    assert 0 < small.inference_peak <= large.inference_peak
    assert 0 < small.training_peak <= large.training_peak
    assert sum(large.at_peak.values()) == large.training_peak
    assert large.training_peak >= large.params + large.optimizer_state + large.input
