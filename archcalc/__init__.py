"""archcalc: what a CNN does to shapes, parameters, receptive fields, MACs and memory.

>>> import archcalc
>>> result = archcalc.analyze(archcalc.load("examples/mnist_cnn.yaml"))
>>> result.totals.params
206922

``build`` and ``summarize`` need torch and import it only when called, so
``import archcalc`` (and ``archcalc summary``) stays torch-free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from archcalc.analysis import (
    Analysis,
    MemoryEstimate,
    ReceptiveField,
    Row,
    Totals,
    analyze,
    estimate,
)
from archcalc.errors import ArchcalcError
from archcalc.spec.load import from_dict, load, loads
from archcalc.spec.model import Spec

if TYPE_CHECKING:
    from archcalc.bridge.build import build
    from archcalc.bridge.summarize import summarize

__version__ = "0.1.0"
__all__ = [
    "Analysis",
    "ArchcalcError",
    "MemoryEstimate",
    "ReceptiveField",
    "Row",
    "Spec",
    "Totals",
    "analyze",
    "build",
    "estimate",
    "from_dict",
    "load",
    "loads",
    "summarize",
]


def __getattr__(name: str) -> Any:
    # Torch-backed entry points load on first use (einops does the same).
    if name == "build":
        from archcalc.bridge.build import build

        return build
    if name == "summarize":
        from archcalc.bridge.summarize import summarize

        return summarize
    raise AttributeError(f"module 'archcalc' has no attribute {name!r}")
