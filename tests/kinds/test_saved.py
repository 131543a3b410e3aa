"""Every kind's ``saves`` rule against what torch's autograd really saves, on CPU.

Each drawn layer is built into a spec after one of three prefixes, so that its input
arrives as the network's float32 batch (no grad), as a float32 tensor that needs a
gradient (after ``layer_scale``), or in autocast's low precision with a gradient (after a
1×1 convolution or a linear layer); the whole spec's saved bytes, as archcalc counts them,
must equal what ``torch.autograd.graph.saved_tensors_hooks`` sees, storage by storage,
in float32 and under bfloat16 autocast.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import archcalc
from archcalc.analysis.footprint import saved_bytes
from archcalc.bridge import measure
from archcalc.kinds import REGISTRY
from archcalc.kinds.base import Shape
from archcalc.testing import strategies

KINDS = sorted(REGISTRY)
BATCH = 2


def _prefixes(shape: Shape) -> list[list[Any]]:
    same = {"linear": {"out": shape[0]}} if len(shape) == 1 else None
    if same is None:
        same = {f"conv{len(shape) - 1}d": {"out": shape[0], "kernel": 1}}
    return [[], [{"layer_scale": {"init": 0.5}}], [same]]


@st.composite
def _drawn(draw: st.DrawFn, name: str) -> tuple[Any, Shape]:
    rank = draw(st.sampled_from(strategies.kind_ranks(name)))
    shape = draw(strategies.shapes(rank, max_channels=4, max_size=12))
    return draw(strategies.layer(name, shape)), shape


@pytest.mark.parametrize("name", KINDS)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_saved_bytes_are_what_autograd_saves(name: str, data: st.DataObject) -> None:
    entry, shape = data.draw(_drawn(name))
    for prefix in _prefixes(shape):
        spec = archcalc.from_dict({"name": "one", "input": list(shape), "layers": [*prefix, entry]})
        analysis = archcalc.analyze(spec)
        model = archcalc.build(spec)
        x = torch.randn(BATCH, *shape)
        for dtype in ("float32", "bfloat16"):
            try:
                measured = measure.saved_bytes(model, x, dtype)
            except ValueError:  # instance norm over one position: torch refuses it in training
                reject()
            estimated = saved_bytes(analysis, BATCH, dtype)
            assert estimated == measured, (entry, shape, prefix, dtype)
