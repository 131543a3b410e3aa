"""Assertions for a user's own tests: per-layer shapes, parameter counts, receptive fields.

Every assertion is ``assert_X(target, expected, *, input_shape=None)``. The
target is what the user has: a :class:`Spec`, a path to a YAML spec, a spec
dict, or a torch ``nn.Module`` (then ``input_shape`` is needed, and the module
is summarised with one forward pass). A failure raises ``AssertionError``
whose text is a small table of every requested layer, expected against
actual, with the mismatches marked and unknown names given their nearest
matches, so pytest shows the whole picture at once::

    archcalc: 1 of 2 layer shapes differ (mnist-cnn, input 1×28×28)
      layer  expected   actual
      conv1  16×28×28   16×28×28
    ✗ pool1  16×28×28   16×14×14

Torch is imported only for a module (and only if the caller already has it).
"""

from __future__ import annotations

import difflib
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from archcalc.analysis import Analysis, ReceptiveField, Row, analyze
from archcalc.errors import ArchcalcError
from archcalc.kinds.base import fmt_shape
from archcalc.spec.load import from_dict, load
from archcalc.spec.model import Spec

Expected = int | Sequence[int] | str


def analysis_of(target: Any, input_shape: Sequence[int] | None = None) -> Analysis:
    """The Analysis of a Spec, a YAML path, a spec dict, an nn.Module or an Analysis."""
    if isinstance(target, Analysis):
        return target
    torch = sys.modules.get("torch")  # a module can only exist if torch is loaded already
    if torch is not None and isinstance(target, torch.nn.Module):
        if input_shape is None:
            raise ArchcalcError(
                f"checking a torch module ({type(target).__name__}) needs input_shape",
                hint="pass input_shape=(C, H, W), without the batch",
            )
        from archcalc.bridge.summarize import summarize

        return summarize(target, input_shape)
    if isinstance(target, Spec):
        spec = target
    elif isinstance(target, (str, os.PathLike)):
        spec = load(target)
    elif isinstance(target, Mapping):
        spec = from_dict(target)
    else:
        raise ArchcalcError(
            "expects a Spec, a path to a YAML spec, a spec dict or an nn.Module, "
            f"but gets {type(target).__name__}"
        )
    return analyze(spec, input_shape)


def assert_shapes(
    target: Any,
    expected: Mapping[str, Expected],
    *legacy: Any,
    input_shape: Sequence[int] | None = None,
) -> Analysis:
    """Each named layer's output shape (no batch): ``{"conv1": (16, 28, 28), "fc2": 10}``.

    ``input_shape`` may be left out for a spec (its own input is used).

    >>> _ = assert_shapes("examples/mnist_cnn.yaml", {"pool2": (32, 7, 7), "fc2": 10})
    >>> spec = "examples/mnist_cnn.yaml"
    >>> _ = assert_shapes(spec, {"pool2": (32, 14, 14)}, input_shape=(1, 56, 56))
    """
    expected, input_shape = _settle("assert_shapes", expected, legacy, input_shape, shapes=True)
    a = analysis_of(target, input_shape)
    _check(a, "layer shapes", expected, _shape_expected, lambda r: r.output_shape, fmt_shape)
    return a


def assert_params(
    target: Any,
    expected: int | Mapping[str, int],
    *legacy: Any,
    input_shape: Sequence[int] | None = None,
) -> Analysis:
    """Parameter counts per layer (``{"fc1": 200832}``), or the network's total (an int).

    A composite (block, residual, torch container) counts everything beneath it.
    """
    expected, input_shape = _settle("assert_params", expected, legacy, input_shape)
    a = analysis_of(target, input_shape)
    if isinstance(expected, Mapping):
        _check(
            a, "parameter counts", expected, _int_expected, lambda r: r.params, lambda v: f"{v:,}"
        )
    else:
        want = _int_expected(expected)
        if a.totals.params != want:
            raise AssertionError(
                f"archcalc: total parameters differ ({_title(a)})\n"
                + _table([("✗", "total", f"{want:,}", f"{a.totals.params:,}")])
            )
    return a


def assert_receptive_field(
    target: Any,
    expected: Mapping[str, Expected],
    *legacy: Any,
    input_shape: Sequence[int] | None = None,
) -> Analysis:
    """Receptive-field size per layer: ``10`` (square), ``(5, 9)`` (H, W), or ``"all"``."""
    expected, input_shape = _settle("assert_receptive_field", expected, legacy, input_shape)
    a = analysis_of(target, input_shape)
    _check(a, "receptive fields", expected, _rf_expected, _rf_actual, _rf_text)
    return a


def _settle(
    name: str,
    expected: Any,
    legacy: tuple[Any, ...],
    input_shape: Sequence[int] | None,
    *,
    shapes: bool = False,
) -> tuple[Any, Sequence[int] | None]:
    """Accept 0.1's call forms for one more release, with a DeprecationWarning.

    0.1 had ``assert_shapes(target, input_shape, expected)`` but
    ``assert_params(target, expected, input_shape)``; every assertion is now
    ``(target, expected, *, input_shape=None)``.
    """
    if not legacy:
        return expected, input_shape
    if len(legacy) > 1 or input_shape is not None:
        raise TypeError(f"{name}() takes (target, expected, *, input_shape=None)")
    if shapes:  # 0.1's order: (target, input_shape, expected)
        old = f"{name}(target, input_shape, expected)"
        expected, input_shape = legacy[0], expected
    else:
        old = f"{name}(target, expected, input_shape) with input_shape by position"
        input_shape = legacy[0]
    warnings.warn(
        f"{old} is deprecated and goes in archcalc 0.2: "
        f"write {name}(target, expected, input_shape=...)",
        DeprecationWarning,
        stacklevel=3,
    )
    return expected, input_shape


# -- expected values, normalised ---------------------------------------------


def _shape_expected(v: Any) -> tuple[int, ...]:
    if isinstance(v, int) and not isinstance(v, bool):
        return (v,)
    if (
        isinstance(v, Sequence)
        and not isinstance(v, str)
        and all(isinstance(d, int) and not isinstance(d, bool) for d in v)
    ):
        return tuple(v)
    raise ArchcalcError(f"an expected shape is an int or a sequence of ints, but gets {v!r}")


def _int_expected(v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    raise ArchcalcError(f"an expected parameter count is an int, but gets {v!r}")


def _rf_expected(v: Any) -> tuple[int, int] | str:
    if v in ("all", "whole"):
        return "all"
    if isinstance(v, int) and not isinstance(v, bool):
        return (v, v)
    shape = _shape_expected(v) if isinstance(v, Sequence) and not isinstance(v, str) else ()
    if len(shape) == 2:
        return (shape[0], shape[1])
    raise ArchcalcError(
        f'an expected receptive field is an int, an (h, w) pair or "all", but gets {v!r}'
    )


def _rf_actual(row: Row) -> ReceptiveField | None:
    return row.receptive_field


def _rf_text(v: Any) -> str:
    if v is None:
        return "unknown"
    if isinstance(v, str):
        return v
    if isinstance(v, ReceptiveField):
        size = _rf_text(v.size)
        return f"all ({size})" if v.whole else size
    return str(v[0]) if v[0] == v[1] else f"{v[0]}×{v[1]}"


# -- the comparison and its table -------------------------------------------


def _check(
    a: Analysis,
    what: str,
    expected: Mapping[str, Any],
    normalise: Callable[[Any], Any],
    actual: Callable[[Row], Any],
    text: Callable[[Any], str],
) -> None:
    if not isinstance(expected, Mapping) or not expected:
        raise ArchcalcError(
            f"expects a non-empty mapping of layer name → value for {what}, but gets {expected!r}"
        )
    rows = _by_path(a)
    lines: list[tuple[str, str, str, str]] = []
    unknown: list[str] = []
    wrong = 0
    for name, value in expected.items():
        want = normalise(value)
        row = rows.get(name)
        if row is None:
            unknown.append(name)
            lines.append(("✗", name, text(want), "no such layer"))
            wrong += 1
            continue
        got = actual(row)
        same = _same(want, got)
        wrong += not same
        lines.append((" " if same else "✗", name, text(want), text(got)))
    if not wrong:
        return
    message = [f"archcalc: {wrong} of {len(expected)} {what} differ ({_title(a)})", _table(lines)]
    for name in unknown:
        near = difflib.get_close_matches(name, rows, n=3, cutoff=0.5)
        hint = (
            ", ".join(f"`{n}`" for n in near)
            if near
            else ", ".join(f"`{n}`" for n in list(rows)[:8]) + (", …" if len(rows) > 8 else "")
        )
        message.append(
            f"no layer `{name}` — did you mean {hint}?"
            if near
            else f"no layer `{name}` — layers are {hint}"
        )
    raise AssertionError("\n".join(message))


def _same(want: Any, got: Any) -> bool:
    if isinstance(got, ReceptiveField):
        return got.whole if want == "all" else bool(got.size == want)
    return bool(want == got)


def _by_path(a: Analysis) -> dict[str, Row]:
    """Leaves by path (the first call of a layer called twice), then composites."""
    rows: dict[str, Row] = {}
    for row in a.rows:
        rows.setdefault(row.path, row)

    def walk(row: Row) -> None:
        rows.setdefault(row.path, row)
        for child in row.children:
            walk(child)

    for row in a.tree:
        walk(row)
    return rows


def _title(a: Analysis) -> str:
    return f"{a.name}, input {fmt_shape(a.input_shape)}"


def _table(lines: list[tuple[str, str, str, str]]) -> str:
    header = (" ", "layer", "expected", "actual")
    cols = list(zip(header, *lines, strict=True))
    widths = [max(len(cell) for cell in col) for col in cols]
    out = []
    for mark, name, want, got in [header, *lines]:
        out.append(f"{mark} {name:<{widths[1]}}  {want:<{widths[2]}}  {got}".rstrip())
    return "\n".join(out)


class Checker:
    """What the ``archcalc_check`` fixture gives: the assertions as methods.

    >>> check = Checker()
    >>> _ = check.params("examples/mnist_cnn.yaml", {"fc1": 200832})
    """

    def shapes(
        self,
        target: Any,
        expected: Mapping[str, Expected],
        *legacy: Any,
        input_shape: Sequence[int] | None = None,
    ) -> Analysis:
        """See :func:`assert_shapes`."""
        expected, input_shape = _settle("shapes", expected, legacy, input_shape, shapes=True)
        return assert_shapes(target, expected, input_shape=input_shape)

    def params(
        self,
        target: Any,
        expected: int | Mapping[str, int],
        *legacy: Any,
        input_shape: Sequence[int] | None = None,
    ) -> Analysis:
        """See :func:`assert_params`."""
        expected, input_shape = _settle("params", expected, legacy, input_shape)
        return assert_params(target, expected, input_shape=input_shape)

    def receptive_field(
        self,
        target: Any,
        expected: Mapping[str, Expected],
        *legacy: Any,
        input_shape: Sequence[int] | None = None,
    ) -> Analysis:
        """See :func:`assert_receptive_field`."""
        expected, input_shape = _settle("receptive_field", expected, legacy, input_shape)
        return assert_receptive_field(target, expected, input_shape=input_shape)

    def analysis(self, model_or_spec: Any, input_shape: Sequence[int] | None = None) -> Analysis:
        """The Analysis itself, for checks of your own."""
        return analysis_of(model_or_spec, input_shape)
