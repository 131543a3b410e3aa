"""Known torch module classes read as archcalc kinds, with that kind's arguments.

Each kind says which torch class it builds (``LayerKind.torch_type``) and how
to read one back (``LayerKind.from_torch``); this module only maps classes to
kinds. A subclass counts as its base only where it keeps the base's forward
(torchvision's Conv3DSimple is an nn.Conv3d with a new constructor); one that
overrides forward (timm's Conv2dSame pads first) is treated as opaque.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from archcalc import kinds
from archcalc.bridge import modules
from archcalc.kinds.base import Effect, LayerKind, Shape, torch_pair


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


def _named_class(name: str) -> type[nn.Module] | None:
    found = getattr(nn, name, None) or getattr(modules, name, None)
    return found if isinstance(found, type) and issubclass(found, nn.Module) else None


def torch_class(kind: LayerKind[Any]) -> type[nn.Module] | None:
    """The class ``kind.torch_type`` names: torch.nn's, else archcalc's own (GlobalAvgPool)."""
    return _named_class(kind.torch_type)


def _classes() -> dict[type[nn.Module], LayerKind[Any]]:
    out: dict[type[nn.Module], LayerKind[Any]] = {}
    for kind in kinds.REGISTRY.values():
        if kind.from_torch is None:
            continue
        for name in (kind.torch_type, *kind.torch_aliases):
            cls = _named_class(name)
            if cls is not None:
                out.setdefault(cls, kind)
    return out


_KINDS_BY_CLASS = _classes()
# Another library's classes by dotted path (torchvision's LayerNorm2d): compared by
# name, so that summarising a model never imports a library it does not use.
_KINDS_BY_PATH = {
    name: kind
    for kind in kinds.REGISTRY.values()
    if kind.from_torch is not None
    for name in kind.torch_aliases
    if "." in name
}


def known_kind(module: nn.Module, in_shape: Shape) -> Known | None:
    """The archcalc kind of ``module``, or None for a class (or settings) archcalc does not know."""
    cls = type(module)
    kind = _KINDS_BY_CLASS.get(cls) or _KINDS_BY_PATH.get(f"{cls.__module__}.{cls.__qualname__}")
    if kind is None:
        kind = _by_base(cls)
    if kind is None or kind.from_torch is None:
        return None
    read = kind.from_torch(module, in_shape)
    return None if read is None else Known(kind.name, read.args, read.op_shape)


def _by_base(cls: type[nn.Module]) -> LayerKind[Any] | None:
    """The kind of the nearest known base class whose forward ``cls`` runs unchanged."""
    for base in cls.__mro__[1:]:
        kind = _KINDS_BY_CLASS.get(base)
        if kind is not None:
            return kind if getattr(cls, "forward", None) is getattr(base, "forward", None) else None
    return None


def class_text(module: nn.Module) -> str:
    """The operation text of a module archcalc does not know: its class and extra_repr."""
    extra = module.extra_repr()
    text = f"{type(module).__name__}({extra})"
    return text if len(text) <= 60 else text[:57] + "…)"


# Kept for ops.py and callers outside: the pair reader now lives with the kinds.
pair = torch_pair
