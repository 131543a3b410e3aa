"""The small torch modules a spec's composites become (no lambdas, so they print and pickle)."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn


class Residual(nn.Module):
    """``layers(x) + shortcut(x)``; the layers sit directly under this module, by name."""

    def __init__(self, layers: OrderedDict[str, nn.Module], shortcut: nn.Module | None) -> None:
        super().__init__()
        for name, module in layers.items():
            self.add_module(name, module)
        self.main_names = tuple(layers)
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for name in self.main_names:
            y = self._modules[name](y)  # type: ignore[misc]
        return y + (self.shortcut(x) if self.shortcut is not None else x)


class Concat(nn.Module):
    """Branches on the same input, joined on dimension 1 (channels / features)."""

    def __init__(self, branches: OrderedDict[str, nn.Module]) -> None:
        super().__init__()
        for name, module in branches.items():
            self.add_module(name, module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.children()], dim=1)


class GlobalAvgPool(nn.Module):
    """Average over every spatial axis (L; H, W; D, H, W); flattened to (N, C) unless
    ``flatten`` is False, when each axis keeps size 1."""

    def __init__(self, flatten: bool = True) -> None:
        super().__init__()
        self.flatten = flatten

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool = _ADAPTIVE_AVG[x.dim() - 3]
        y = pool(x, 1)
        return torch.flatten(y, 1) if self.flatten else y

    def extra_repr(self) -> str:
        return f"flatten={self.flatten}"


class GlobalMaxPool(nn.Module):
    """The maximum over every spatial axis; flattened to (N, C) unless ``flatten`` is False."""

    def __init__(self, flatten: bool = True) -> None:
        super().__init__()
        self.flatten = flatten

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool = _ADAPTIVE_MAX[x.dim() - 3]
        y = pool(x, 1)
        return torch.flatten(y, 1) if self.flatten else y

    def extra_repr(self) -> str:
        return f"flatten={self.flatten}"


class LayerNormChannels(nn.LayerNorm):
    """Layer normalisation over the channels at every position of a C×L, C×H×W or C×D×H×W map.

    At rank 2 this is torchvision's ConvNeXt ``LayerNorm2d`` (channels moved last, layer norm,
    moved back): the same ``weight`` and ``bias`` and the same outputs, so its state_dict loads.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.layer_norm(
            x.movedim(1, -1), self.normalized_shape, self.weight, self.bias, self.eps
        )
        return y.movedim(-1, 1)


class LinearChannels(nn.Linear):
    """A linear layer over the channels at every position of a C×L, C×H×W or C×D×H×W map.

    torchvision's ConvNeXt runs ``nn.Linear`` on its channels-last tensor; this is the same
    layer on archcalc's channels-first one: the same out×in ``weight`` and ``bias``, so its
    state_dict loads, and the same outputs, channels first.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.movedim(1, -1)).movedim(-1, 1)


class LayerScale(nn.Module):
    """A learnt scale per channel, ``layer_scale * x`` (ConvNeXt's, CaiT's).

    The parameter is laid out as torchvision's ``CNBlock.layer_scale``: C×1×1 for a C×H×W map
    (C×1 and C×1×1×1 at the other ranks, C for features), filled with ``init``.
    """

    def __init__(self, channels: int, rank: int = 2, init: float = 1e-6) -> None:
        super().__init__()
        self.init = init
        self.layer_scale = nn.Parameter(torch.full((channels, *(1,) * rank), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_scale * x

    def extra_repr(self) -> str:
        return f"{self.layer_scale.shape[0]}, init={self.init:g}"


class DropPath(nn.Module):
    """Stochastic depth by sample, as ``torchvision.ops.StochasticDepth(p, "row")``.

    While training, each sample's whole tensor is zeroed with probability ``p`` and the
    survivors scaled by 1 / (1 − p); in eval mode it is the identity. archcalc's own so that a
    built spec needs no torchvision.
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = (x.shape[0], *(1,) * (x.dim() - 1))
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Chunk(nn.Module):
    """Piece ``index`` of ``x.chunk(chunks, dim=1)``, on channels (features for a flat input)."""

    def __init__(self, chunks: int, index: int) -> None:
        super().__init__()
        self.chunks = chunks
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.chunk(self.chunks, dim=1)[self.index]

    def extra_repr(self) -> str:
        return f"chunks={self.chunks}, index={self.index}"


class Split(nn.Module):
    """Piece ``index`` of ``x.split(sizes, dim=1)``, on channels (features for a flat input)."""

    def __init__(self, sizes: tuple[int, ...], index: int) -> None:
        super().__init__()
        self.sizes = tuple(sizes)
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.split(list(self.sizes), dim=1)[self.index]

    def extra_repr(self) -> str:
        return f"sizes={list(self.sizes)}, index={self.index}"


class CenterCrop(nn.Module):
    """The centre ``size`` of every spatial axis (L; H, W; D, H, W), by slicing.

    ``size`` is one int for every axis or one per axis. The offset on each axis is
    ``round((n − size) / 2)`` with Python's rounding, half to even, exactly as
    ``torchvision.transforms.functional.center_crop`` places it; unlike it, a crop larger
    than the input is refused, not padded.
    """

    def __init__(self, size: int | tuple[int, ...]) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sizes = x.shape[2:]
        crop = self.size if isinstance(self.size, tuple) else (self.size,) * len(sizes)
        if len(crop) != len(sizes) or any(h > n for h, n in zip(crop, sizes, strict=True)):
            raise ValueError(f"CenterCrop({self.size}) does not fit a {tuple(sizes)} input")
        index = [slice(None), slice(None)]
        for n, h in zip(sizes, crop, strict=True):
            top = round((n - h) / 2)
            index.append(slice(top, top + h))
        return x[tuple(index)]

    def extra_repr(self) -> str:
        return f"size={self.size!r}"


Sides = tuple[tuple[int, int], ...] | str  # (before, after) per spatial axis, or "same"


def _sides(
    sides: Sides,
    sizes: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
) -> list[int]:
    """F.pad's list (the last axis first) for ``sides`` on an input of ``sizes``.

    ``same`` is TensorFlow's split, from the input's size at every call:
    max((⌈n/s⌉ − 1)·s + k' − n, 0) in total, the smaller half before.
    """
    if isinstance(sides, str):
        pairs = []
        for n, k, s, d in zip(sizes, kernel, stride, dilation, strict=True):
            total = max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
            pairs.append((total // 2, total - total // 2))
    else:
        pairs = list(sides)
    return [p for pair in reversed(pairs) for p in pair]


def _axes(v: int | tuple[int, ...], rank: int) -> tuple[int, ...]:
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v),) * rank


class _PaddedConv:
    """Zero padding per side (or TensorFlow's ``same`` at any stride), then an unpadded
    convolution: what nn.ConvNd cannot pad. The weight and bias keep the conv's keys."""

    sides: Sides

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv: nn.Conv2d = self  # type: ignore[assignment]
        pad = _sides(self.sides, tuple(x.shape[2:]), conv.kernel_size, conv.stride, conv.dilation)
        return conv._conv_forward(nn.functional.pad(x, pad), conv.weight, conv.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, sides={self.sides!r}"  # type: ignore[misc]


def _init_padded_conv(module: nn.Module, sides: Sides) -> None:
    # A plain attribute, not a buffer: the state_dict stays the conv's (weight, bias).
    object.__setattr__(module, "sides", _frozen(sides))


def _frozen(sides: Sides) -> Sides:
    return sides if isinstance(sides, str) else tuple((int(b), int(e)) for b, e in sides)


class PaddedConv1d(_PaddedConv, nn.Conv1d):
    def __init__(self, *args: object, sides: Sides, **kwargs: object) -> None:
        nn.Conv1d.__init__(self, *args, **kwargs)  # type: ignore[arg-type]
        _init_padded_conv(self, sides)


class PaddedConv2d(_PaddedConv, nn.Conv2d):
    def __init__(self, *args: object, sides: Sides, **kwargs: object) -> None:
        nn.Conv2d.__init__(self, *args, **kwargs)  # type: ignore[arg-type]
        _init_padded_conv(self, sides)


class PaddedConv3d(_PaddedConv, nn.Conv3d):
    def __init__(self, *args: object, sides: Sides, **kwargs: object) -> None:
        nn.Conv3d.__init__(self, *args, **kwargs)  # type: ignore[arg-type]
        _init_padded_conv(self, sides)


class _PaddedPool(nn.Module):
    """Pooling padded per side (or TensorFlow's ``same``), what nn's pooling cannot pad:
    −inf for max; for the average, zeros counted in the divisor or (``count_include_pad``
    false) the mean of the real inputs each window covers, as TensorFlow's SAME averages."""

    rank = 2
    is_max = True

    def __init__(
        self,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...],
        sides: Sides,
        dilation: int | tuple[int, ...] = 1,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        self.kernel_size = _axes(kernel_size, self.rank)
        self.stride = _axes(stride, self.rank)
        self.dilation = _axes(dilation, self.rank)
        self.count_include_pad = count_include_pad
        self.sides = _frozen(sides)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = nn.functional
        pad = _sides(self.sides, tuple(x.shape[2:]), self.kernel_size, self.stride, self.dilation)
        if self.is_max:
            pool = (f.max_pool1d, f.max_pool2d, f.max_pool3d)[self.rank - 1]
            return pool(
                f.pad(x, pad, value=float("-inf")),
                self.kernel_size,
                self.stride,
                0,
                self.dilation,
            )
        avg = (f.avg_pool1d, f.avg_pool2d, f.avg_pool3d)[self.rank - 1]
        y = avg(f.pad(x, pad), self.kernel_size, self.stride)
        if self.count_include_pad:
            return y
        ones = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
        return y / avg(f.pad(ones, pad), self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, sides={self.sides!r}"
            + (f", dilation={self.dilation}" if self.is_max else "")
            + ("" if self.is_max or self.count_include_pad else ", count_include_pad=False")
        )


class PaddedMaxPool1d(_PaddedPool):
    rank, is_max = 1, True


class PaddedMaxPool2d(_PaddedPool):
    rank, is_max = 2, True


class PaddedMaxPool3d(_PaddedPool):
    rank, is_max = 3, True


class PaddedAvgPool1d(_PaddedPool):
    rank, is_max = 1, False


class PaddedAvgPool2d(_PaddedPool):
    rank, is_max = 2, False


class PaddedAvgPool3d(_PaddedPool):
    rank, is_max = 3, False


# The functional pools by spatial rank (1, 2, 3), indexed from 0: a batch of
# C×L maps is 3-D, so a tensor of dim n takes entry n − 3.
_ADAPTIVE_AVG = (
    nn.functional.adaptive_avg_pool1d,
    nn.functional.adaptive_avg_pool2d,
    nn.functional.adaptive_avg_pool3d,
)
_ADAPTIVE_MAX = (
    nn.functional.adaptive_max_pool1d,
    nn.functional.adaptive_max_pool2d,
    nn.functional.adaptive_max_pool3d,
)


GRAPH_ATTRIBUTES = frozenset({"_graph_steps", "_graph_outputs", "_graph_free"})


class GraphNet(nn.Module):
    """A spec that names tensors: runs its graph's nodes in order (archcalc.graph).

    Each layer is a submodule under its spec path (``se1.gate``), nested in
    plain containers, so state_dict keys read as the spec's paths. ``steps``
    lists, for every node after the input, its op, its input node ids and the
    path of its module (None for a merge). One output is returned as a tensor,
    several (``outputs:``) as a tuple.
    """

    def __init__(
        self,
        modules: OrderedDict[str, nn.Module],
        steps: tuple[tuple[str, tuple[int, ...], str | None], ...],
        outputs: tuple[int, ...],
    ) -> None:
        super().__init__()
        # Attributes first: build refuses a layer or scope with either name (GRAPH_ATTRIBUTES).
        self._graph_steps = steps
        self._graph_outputs = outputs
        # After each step, the values no later step reads: dropped, so a forward pass
        # without autograd holds only the tensors still needed (as a Sequential does).
        last = {i: 0 for i in outputs} | {
            i: n for n, (_, inputs, _) in enumerate(steps, 1) for i in inputs
        }
        done: list[list[int]] = [[] for _ in range(len(steps) + 1)]
        for i, n in last.items():
            if i not in outputs:
                done[n].append(i)
        self._graph_free = tuple(tuple(d) for d in done)
        for path, module in modules.items():
            parent: nn.Module = self
            *outer, name = path.split(".")
            for part in outer:
                if part not in parent._modules:
                    parent.add_module(part, nn.Module())
                parent = parent._modules[part]  # type: ignore[assignment]
            parent.add_module(name, module)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        values: list[torch.Tensor | None] = [x]
        for n, (op, inputs, path) in enumerate(self._graph_steps, 1):
            args = [values[i] for i in inputs]
            if path is not None:
                y = self.get_submodule(path)(args[0])
            elif op == "cat":
                y = torch.cat(args, dim=1)  # type: ignore[arg-type]
            else:
                y = args[0]
                for a in args[1:]:
                    y = y + a if op == "add" else y * a  # type: ignore[operator]
            values.append(y)
            for i in self._graph_free[n]:
                values[i] = None
        outs = tuple(v for v in (values[i] for i in self._graph_outputs) if v is not None)
        return outs[0] if len(outs) == 1 else outs
