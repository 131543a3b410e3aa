"""The validated, immutable spec: what ``archcalc.load`` returns.

Leaves are :class:`Layer` (and :class:`Merge`, an explicit ``add`` / ``mul`` /
``cat``); composites are :class:`Sequence` (a named block's
body, one copy of a repeat, one branch), :class:`Repeat`, :class:`Residual` and
:class:`Concat`. Every node knows its dotted ``path`` (the torch module name
``build`` gives it), where it was written (``loc``) and its YAML position
(``where``, e.g. ``layers[4]``) for error messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archcalc.errors import Loc

Shape = tuple[int, ...]


class _Labelled:
    """How errors name a node: ``layers[4] (linear fc1)``."""

    where: str
    kind: str
    path: str

    @property
    def label(self) -> str:
        return f"{self.where} ({self.kind} {self.path})"


@dataclass(frozen=True)
class Layer(_Labelled):
    """One leaf layer: a kind from the registry and its parsed arguments."""

    kind: str
    name: str
    path: str
    args: Any
    loc: Loc | None
    where: str
    source: str | None = None  # `from: NAME`: the tensor it reads (None: the previous output)
    source_loc: Loc | None = None  # where `from`'s value is written


@dataclass(frozen=True)
class Merge(_Labelled):
    """An explicit merge, ``add`` / ``mul`` / ``cat``, of the named tensors ``inputs``."""

    kind: str
    name: str
    path: str
    inputs: tuple[str, ...]
    loc: Loc | None
    where: str
    input_locs: tuple[Loc | None, ...] = ()  # where each name is written


@dataclass(frozen=True)
class Sequence(_Labelled):
    """Layers run one after another; ``kind`` is the block's name for a block call."""

    kind: str
    name: str
    path: str
    children: tuple[SpecNode, ...]
    loc: Loc | None
    where: str
    source: str | None = None  # a block call's `from: NAME` (None: the previous output)
    source_loc: Loc | None = None


@dataclass(frozen=True)
class Repeat(_Labelled):
    """``times`` copies of the same layers; each copy is a Sequence named 0, 1, …"""

    name: str
    path: str
    times: int
    copies: tuple[Sequence, ...]
    loc: Loc | None
    where: str
    kind: str = "repeat"


@dataclass(frozen=True)
class Residual(_Labelled):
    """``layers(x) + shortcut(x)``; no shortcut means the identity."""

    name: str
    path: str
    layers: Sequence
    shortcut: Sequence | None
    loc: Loc | None
    where: str
    kind: str = "residual"


@dataclass(frozen=True)
class Concat(_Labelled):
    """Branches on the same input, joined on channels (or features)."""

    name: str
    path: str
    branches: tuple[Sequence, ...]
    loc: Loc | None
    where: str
    kind: str = "concat"


SpecNode = Layer | Merge | Sequence | Repeat | Residual | Concat


@dataclass(frozen=True)
class Spec:
    """A whole network: its name, input shape (no batch) and layers."""

    name: str
    input_shape: Shape
    layers: tuple[SpecNode, ...]
    file: str | None = None
    input_loc: Loc | None = None
    lint_ignore: frozenset[str] = frozenset()
    outputs: tuple[str, ...] = ()  # `outputs:` names; empty: the last layer's output
    outputs_loc: Loc | None = None
    output_locs: tuple[Loc | None, ...] = ()  # where each of `outputs` is written

    def leaves(self) -> list[Layer]:
        """Every leaf layer in execution order."""
        return leaves_of(*self.layers)


def children_of(node: SpecNode) -> tuple[SpecNode, ...]:
    """The direct sub-nodes of a composite, in execution order."""
    if isinstance(node, Sequence):
        return node.children
    if isinstance(node, Repeat):
        return node.copies
    if isinstance(node, Residual):
        return (node.layers,) + ((node.shortcut,) if node.shortcut else ())
    if isinstance(node, Concat):
        return node.branches
    return ()


def leaves_of(*nodes: SpecNode) -> list[Layer]:
    """The leaf layers under ``nodes``, in execution order."""
    out: list[Layer] = []
    for node in nodes:
        _collect(node, out)
    return out


def _collect(node: SpecNode, out: list[Layer]) -> None:
    if isinstance(node, Layer):
        out.append(node)
    else:
        for child in children_of(node):
            _collect(child, out)
