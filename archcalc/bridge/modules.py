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
