"""Known torch module classes read as archcalc kinds, with that kind's arguments.

Exact classes only: a subclass may override forward (timm's Conv2dSame pads
first), so it is treated as opaque.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from archcalc import kinds
from archcalc.bridge.modules import GlobalAvgPool
from archcalc.kinds.activations import LeakyReluArgs
from archcalc.kinds.adaptive_pool import AdaptiveArgs, GlobalPoolArgs
from archcalc.kinds.base import Effect, Pair, Shape
from archcalc.kinds.batchnorm import BatchNormArgs
from archcalc.kinds.conv2d import Conv2dArgs
from archcalc.kinds.dropout import DropoutArgs
from archcalc.kinds.linear import LinearArgs
from archcalc.kinds.local_response_norm import LRNArgs
from archcalc.kinds.pooling import PoolArgs


@dataclass(frozen=True)
class Known:
    """A module recognised as an archcalc kind, with that kind's arguments."""

    kind: str
    args: Any
    op_shape: Shape  # what the kind's ``operation`` text reads (in channels / features)

    def operation(self) -> str:
        return str(kinds.REGISTRY[self.kind].operation(self.args, self.op_shape))

    def effect(self, in_shape: Shape) -> Effect:
        return kinds.REGISTRY[self.kind].apply(self.args, in_shape)


def known_kind(module: nn.Module, in_shape: Shape) -> Known | None:
    """The archcalc kind of ``module``, or None for a class archcalc does not know."""
    adapter = _ADAPTERS.get(type(module))
    return adapter(module, in_shape) if adapter is not None else None


def class_text(module: nn.Module) -> str:
    """The operation text of a module archcalc does not know: its class and extra_repr."""
    extra = module.extra_repr()
    text = f"{type(module).__name__}({extra})"
    return text if len(text) <= 60 else text[:57] + "…)"


def pair(v: Any) -> Pair:
    """An int, a 1-list (aten writes ``[3]`` for 3) or a pair, as (h, w)."""
    if isinstance(v, (tuple, list)):
        return (int(v[0]), int(v[-1]))
    return (int(v), int(v))


def _conv(m: Any, s: Shape) -> Known:
    pad = m.padding if isinstance(m.padding, str) else pair(m.padding)
    args = Conv2dArgs(
        m.out_channels,
        pair(m.kernel_size),
        pair(m.stride),
        pad,
        pair(m.dilation),
        m.groups,
        m.bias is not None,
    )
    return Known("conv2d", args, (m.in_channels,))


def _pool(m: Any, kind: str, dilation: Any, count_include_pad: bool) -> Known:
    kernel = pair(m.kernel_size)
    stride = kernel if m.stride is None else pair(m.stride)
    args = PoolArgs(
        kernel, stride, pair(m.padding), pair(dilation), bool(m.ceil_mode), count_include_pad
    )
    return Known(kind, args, ())


def _adaptive(m: Any, s: Shape) -> Known:
    out = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size,) * 2
    # torch: None keeps that axis's input size
    size = tuple(s[-2 + a] if o is None and len(s) >= 2 else (o or 1) for a, o in enumerate(out))
    return Known("adaptive_avg_pool2d", AdaptiveArgs(pair(size)), ())


def _batchnorm(m: Any, kind: str) -> Known:
    momentum = 0.1 if m.momentum is None else float(m.momentum)
    args = BatchNormArgs(float(m.eps), momentum, bool(m.affine), bool(m.track_running_stats))
    return Known(kind, args, (m.num_features,))


_Adapter = Callable[[Any, Shape], Known]

_ADAPTERS: dict[type[nn.Module], _Adapter] = {
    nn.Conv2d: _conv,
    nn.Linear: lambda m, s: Known(
        "linear", LinearArgs(m.out_features, m.bias is not None), (m.in_features,)
    ),
    nn.MaxPool2d: lambda m, s: _pool(m, "maxpool2d", m.dilation, True),
    nn.AvgPool2d: lambda m, s: _pool(m, "avgpool2d", 1, bool(m.count_include_pad)),
    nn.AdaptiveAvgPool2d: _adaptive,
    GlobalAvgPool: lambda m, s: Known("global_avg_pool", GlobalPoolArgs(m.flatten), ()),
    nn.BatchNorm2d: lambda m, s: _batchnorm(m, "batchnorm2d"),
    nn.BatchNorm1d: lambda m, s: _batchnorm(m, "batchnorm1d"),
    nn.ReLU: lambda m, s: Known("relu", None, ()),
    nn.LeakyReLU: lambda m, s: Known("leaky_relu", LeakyReluArgs(m.negative_slope), ()),
    nn.Tanh: lambda m, s: Known("tanh", None, ()),
    nn.Sigmoid: lambda m, s: Known("sigmoid", None, ()),
    nn.GELU: lambda m, s: Known("gelu", None, ()),
    nn.Softmax: lambda m, s: Known("softmax", None, ()),
    nn.Identity: lambda m, s: Known("identity", None, ()),
    nn.Flatten: lambda m, s: Known("flatten", None, ()),
    nn.Dropout: lambda m, s: Known("dropout", DropoutArgs(m.p), ()),
    nn.LocalResponseNorm: lambda m, s: Known(
        "local_response_norm", LRNArgs(m.size, m.alpha, m.beta, m.k), ()
    ),
}
