"""The registry of layer kinds, keyed by the name a spec writes.

Every module in this package that defines ``KINDS`` contributes its kinds;
adding a kind is adding one module (and its tests). The registry fills in each
kind's ``traits.family``: the name of the module that defines it.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from typing import Any

from archcalc.kinds.base import LayerKind, Traits


def _discover() -> dict[str, LayerKind[Any]]:
    found: dict[str, LayerKind[Any]] = {}
    # A plain directory listing: pkgutil would pull in zipimport machinery and
    # cost the torch-free summary path several milliseconds at every start.
    names = sorted(
        f[:-3]
        for f in os.listdir(__path__[0])
        if f.endswith(".py") and f not in ("__init__.py", "base.py")
    )
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        for kind in getattr(module, "KINDS", ()):
            if kind.name in found:  # pragma: no cover - a programming error
                raise RuntimeError(f"layer kind {kind.name!r} is defined twice")
            if kind.traits is not None:
                traits: Traits = dataclasses.replace(kind.traits, family=name)
                kind = dataclasses.replace(kind, traits=traits)
            found[kind.name] = kind
    return found


REGISTRY: dict[str, LayerKind[Any]] = _discover()


def get(name: str) -> LayerKind[Any] | None:
    """The kind called ``name``, or None."""
    return REGISTRY.get(name)
