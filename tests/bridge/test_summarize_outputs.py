"""A forward that gives several tensors: every output's shape is reported, and which one the
table's output shape is."""

from __future__ import annotations

import torch
from torch import nn

from archcalc.bridge.summarize import summarize


class TwoHeads(nn.Module):
    """Logits, and a dict of the features they came from (a detector's or a probe's shape)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        f = self.conv(x)
        return self.fc(f.flatten(1)), {"features": f, "pooled": f.mean((2, 3))}


def _real_shapes(model: nn.Module, shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    with torch.no_grad():
        logits, parts = model.eval()(torch.zeros(1, *shape))
    return [tuple(t.shape[1:]) for t in (logits, parts["features"], parts["pooled"])]


def test_every_output_is_reported_with_its_place_and_shape() -> None:
    model = TwoHeads()
    a = summarize(model, (1, 8, 8))
    names = [name for name, _ in a.outputs]
    assert names == ["[0]", "[1]['features']", "[1]['pooled']"]
    assert [s for _, s in a.outputs] == _real_shapes(model, (1, 8, 8))
    assert a.output_shape == a.outputs[0][1]  # the table's output shape is the first's
    note = next(n for n in a.notes if n.startswith("the forward gives 3 tensors"))
    assert "[1]['features'] 4×8×8" in note and "the first's ([0])" in note
    d = a.to_dict()
    assert d["outputs"] == [{"name": n, "shape": list(s)} for n, s in a.outputs]


def test_one_output_adds_nothing() -> None:
    a = summarize(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten()), (1, 8, 8))
    assert a.outputs == ()
    assert "outputs" not in a.to_dict()
    assert not any(n.startswith("the forward gives") for n in a.notes)


def test_a_dict_of_one_tensor_is_one_output() -> None:
    class Named(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"out": self.conv(x)}

    a = summarize(Named(), (1, 8, 8))
    assert a.outputs == () and a.output_shape == (2, 6, 6)
