"""The property modules run torch on its native CPU kernels, without oneDNN.

torch 2.14.1's oneDNN convolution crashes the process (a segmentation fault)
on a channels-last input with a one-wide axis that the conv strides and
dilates. archcalc's LayerNormChannels, like torchvision's LayerNorm2d, returns
channels-last strides, and the suite draws such convs after it::

    x = torch.randn(2, 5, 1, 2).permute(0, 3, 1, 2)  # 2×2×5×1, channels last
    nn.Conv2d(2, 1, (3, 1), stride=2, padding=(2, 1), dilation=2)(x)  # SIGSEGV

The properties are about shapes, counts and fields, which no kernel choice
changes; one crash would lose the whole run, and its falsifying example with it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def _native_kernels() -> Iterator[None]:
    with torch.backends.mkldnn.flags(enabled=False):
        yield
