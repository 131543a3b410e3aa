"""The mapping loader's one reshape, and benchmarks/make_mapping.py's rule compression.

A pointwise nn.Linear (out×in) is the spec's 1×1 conv (out×in×1×1): the loader reshapes a weight
whose target only adds trailing size-1 axes, and no other difference of shape. The generator
turns module pairs into rules that each module matches exactly once, renaming it correctly.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

import archcalc
from archcalc.bridge.mapping import load_torchvision_weights, parse_mapping
from benchmarks.make_mapping import compress

MAPPING = parse_mapping({"modules": [["fc", "conv"]]}, "toy", "toy.json")


class Conv(nn.Module):
    def __init__(self, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, kernel)


def test_a_linear_weight_loads_into_a_1x1_conv() -> None:
    torch.manual_seed(0)
    linear = nn.Linear(3, 4)
    model = load_torchvision_weights(
        Conv(1), MAPPING, {"fc." + k: v for k, v in linear.state_dict().items()}
    )
    x = torch.randn(2, 3, 5, 5)
    with torch.no_grad():
        expected = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # channels-last, as ConvNeXt
        torch.testing.assert_close(model.conv(x), expected)


def test_any_other_shape_difference_is_refused() -> None:
    tensors = {"fc." + k: v for k, v in nn.Linear(3, 4).state_dict().items()}
    message = "`conv.weight` expects shape 4×3×3×3, but torchvision key `fc.weight` has 4×3"
    with pytest.raises(archcalc.ArchcalcError, match=re.escape(message)):
        load_torchvision_weights(Conv(3), MAPPING, tensors)


def test_compressed_rules_match_each_module_once_and_rename_it() -> None:
    # A first block named apart from the rest, whose copies count from 0 where torchvision's
    # count from 1: the general rule must not swallow the first block.
    pairs = [("stem.0", "stem")]
    for stage in (1, 2, 3):
        pairs += [(f"layer{stage}.0.conv{i}", f"layer{stage}.first.conv{i}") for i in (1, 2)]
        for block in (1, 2):
            pairs += [
                (f"layer{stage}.{block}.conv{i}", f"layer{stage}.rest.{block - 1}.conv{i}")
                for i in (1, 2)
            ]
    rules = compress(pairs)
    mapping = parse_mapping({"modules": [list(rule) for rule in rules]}, "toy", "toy.json")
    for source, target in pairs:
        assert mapping.target(f"{source}.weight") == f"{target}.weight"  # raises on 0 or 2 hits
    assert len(rules) < len(pairs)  # families did compress
