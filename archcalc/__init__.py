"""archcalc: what a CNN does to shapes, parameters, receptive fields, MACs and memory.

>>> import archcalc
>>> result = archcalc.analyze(archcalc.load("examples/mnist_cnn.yaml"))
>>> result.totals.params
206922

``build``, ``summarize`` and ``export`` need torch and import it only when called, so
``import archcalc`` (and ``archcalc summary``) stays torch-free.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from archcalc import analysis as _analysis
from archcalc.analysis import (
    Analysis,
    MemoryEstimate,
    ReceptiveField,
    Row,
    Totals,
    estimate,
)
from archcalc.errors import ArchcalcError
from archcalc.spec.load import from_dict, load, loads
from archcalc.spec.model import Spec

if TYPE_CHECKING:
    from archcalc.bridge.build import build
    from archcalc.bridge.export import export
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
    "export",
    "from_dict",
    "load",
    "loads",
    "summarize",
]


def analyze(
    spec: Spec | str | os.PathLike[str], input_shape: Sequence[int] | None = None
) -> Analysis:
    """Analyse a spec, or the YAML spec at a path, at its own input or at ``input_shape``.

    >>> import archcalc
    >>> archcalc.analyze("examples/mnist_cnn.yaml").totals.params
    206922
    >>> archcalc.analyze("examples/mnist_cnn.yaml", input_shape=(1, 56, 56)).output_shape
    (10,)
    >>> archcalc.analyze({"input": [1, 28, 28], "layers": ["flatten"]})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    TypeError: analyze() expects a Spec or a path to a YAML spec, but gets dict — for a dict, ...

    A path that does not lead to a valid spec is an ``ArchcalcError``, as with
    :func:`load`.
    """
    if isinstance(spec, str) and "\n" in spec:
        raise TypeError(
            "analyze() expects a Spec or a path to a YAML spec, but gets YAML text"
            " — analyze(archcalc.loads(text))"
        )
    if isinstance(spec, (str, os.PathLike)):
        spec = load(spec)
    elif not isinstance(spec, Spec):
        # A programming mistake, not a spec's: TypeError, as Python's own functions raise.
        hint = {
            dict: " — for a dict, analyze(archcalc.from_dict(d))",
            bytes: " — for YAML text, analyze(archcalc.loads(text))",
        }.get(type(spec), "")
        raise TypeError(
            "analyze() expects a Spec or a path to a YAML spec, "
            f"but gets {type(spec).__name__}{hint}"
        )
    return _analysis.analyze(spec, input_shape)


def __getattr__(name: str) -> Any:
    # Torch-backed entry points load on first use (einops does the same).
    if name == "build":
        from archcalc.bridge.build import build

        return build
    if name == "summarize":
        from archcalc.bridge.summarize import summarize

        return summarize
    if name == "export":
        from archcalc.bridge.export import export

        return export
    raise AttributeError(f"module 'archcalc' has no attribute {name!r}")
