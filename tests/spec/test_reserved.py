"""The reserved-name constant covers what the installed torch reserves.

The spec core never imports torch, so archcalc.spec.reserved writes torch
2.14.1's names out; a torch upgrade that adds a Module attribute fails here
instead of in a user's ``archcalc build``.
"""

from __future__ import annotations

from collections import OrderedDict

import pytest

import archcalc
from archcalc.errors import ArchcalcError
from archcalc.spec.reserved import is_reserved

torch = pytest.importorskip("torch")
nn = torch.nn


def _torch_names() -> set[str]:
    from archcalc.bridge.modules import Concat, Residual

    instances = [
        nn.Module(),
        nn.Sequential(),
        Residual(OrderedDict(), None),
        Concat(OrderedDict()),
    ]
    names: set[str] = set()
    for obj in instances:
        names |= set(dir(type(obj))) | set(vars(obj))
    return names


def test_every_torch_attribute_is_reserved() -> None:
    missing = sorted(n for n in _torch_names() if not is_reserved(n))
    assert not missing, f"add to TORCH_RESERVED_NAMES (torch {torch.__version__}): {missing}"


def test_no_accepted_name_breaks_build() -> None:
    """Every reserved name is refused by the spec; every one would break torch's add_module."""
    for name in sorted(_torch_names()):
        if not name.isidentifier():
            continue
        with pytest.raises(ArchcalcError, match=r"is an attribute of torch\.nn\.Module"):
            archcalc.loads(f"input: [1, 8, 8]\nlayers:\n  - relu: {{name: {name}}}\n")


def test_a_spec_that_passes_check_builds() -> None:
    spec = archcalc.loads(
        "input: [1, 8, 8]\nlayers:\n  - relu: {name: trainer}\n  - tanh: {name: forwarder}\n"
        "  - residual: {name: res, layers: [{relu: {name: modules_}}]}\n"
    )
    model = archcalc.build(spec)
    assert model.get_submodule("res.modules_") is not None
