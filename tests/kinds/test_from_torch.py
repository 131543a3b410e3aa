"""from_torch: a torch module a spec cannot write is refused, never read as something else."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from archcalc.bridge.summarize.torch_kinds import known_kind


@pytest.mark.parametrize(
    ("module", "shape"),
    [
        (nn.Conv2d(2, 4, 3, padding=1, padding_mode="reflect"), (2, 8, 8)),
        (nn.MaxPool2d(2, return_indices=True), (2, 8, 8)),
        (nn.AvgPool2d(2, divisor_override=3), (2, 8, 8)),
        (nn.Flatten(start_dim=2), (2, 8, 8)),
        (nn.GELU(approximate="tanh"), (4,)),
        (nn.PReLU(3), (4, 8, 8)),  # torch would refuse it at run time
        (nn.Softmax(dim=0), (4,)),
        (nn.Softmax(dim=-1), (4, 8, 8)),  # over W, not channels
        (nn.LeakyReLU(1e3), (4,)),
        (nn.ELU(alpha=-1.0), (4,)),
        (nn.Softplus(beta=0.0), (4,)),
        (nn.LocalResponseNorm(5, k=0.0), (4, 8, 8)),
    ],
    ids=repr,
)
def test_inexpressible_modules_are_unknown(module: nn.Module, shape: tuple[int, ...]) -> None:
    assert known_kind(module, shape) is None


@pytest.mark.parametrize(
    ("module", "shape", "kind", "operation"),
    [
        (nn.Softmax(dim=-1), (4,), "softmax", "Softmax(dim=1)"),
        (nn.Softmax(), (4, 2, 2), "softmax", "Softmax(dim=1)"),
        (nn.PReLU(4), (4, 8, 8), "prelu", "PReLU(num_parameters=4)"),
        (nn.PReLU(4), (), "prelu", "PReLU(num_parameters=4)"),  # an uncalled module
        (nn.PReLU(), (4, 8, 8), "prelu", "PReLU()"),
        (nn.ELU(), (4,), "elu", "ELU()"),
        (nn.Softplus(beta=2.0), (4,), "softplus", "Softplus(beta=2)"),
        (nn.Dropout2d(0.3), (4, 8, 8), "dropout2d", "Dropout2d(0.3)"),
        (nn.ReLU6(inplace=True), (4,), "relu6", "ReLU6()"),
        (nn.Hardswish(), (4,), "hardswish", "Hardswish()"),
    ],
    ids=repr,
)
def test_new_torch_modules_read_as_their_kind(
    module: nn.Module, shape: tuple[int, ...], kind: str, operation: str
) -> None:
    known = known_kind(module, shape)
    assert known is not None
    assert (known.kind, known.operation()) == (kind, operation)


def test_a_subclass_that_overrides_forward_is_opaque() -> None:
    class Swish(nn.SiLU):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * torch.sigmoid(2 * x)

    assert known_kind(Swish(), (4,)) is None


def test_a_subclass_that_keeps_its_base_s_forward_is_its_base_s_kind() -> None:
    # torchvision's Conv3DSimple: an nn.Conv3d with a static method, the same computation.
    class Named(nn.SiLU):
        pass

    known = known_kind(Named(), (4,))
    assert known is not None and known.kind == "silu"


def test_a_built_spec_of_the_new_kinds_summarises_as_it_analyses() -> None:
    import archcalc
    from archcalc.bridge.summarize import summarize

    spec = archcalc.loads(
        "input: [3, 16, 16]\nlayers: [{conv2d: {out: 4, kernel: 3}}, {prelu: {per_channel: true}},"
        " silu, dropout2d, mish, {maxpool2d: 2}, {elu: 0.5}, hardswish, flatten, {linear: 5},"
        " {softplus: {beta: 2}}, prelu, hardsigmoid, selu, relu6]\n"
    )
    analysed = archcalc.analyze(spec)
    summarised = summarize(archcalc.build(spec), (3, 16, 16))
    fields = ("kind", "operation", "params", "output_shape", "receptive_field")
    assert [[getattr(r, f) for f in fields] for r in summarised.rows] == [
        [getattr(r, f) for f in fields] for r in analysed.rows
    ]
    assert analysed.totals.params == 112 + 4 + 196 * 5 + 5 + 1
