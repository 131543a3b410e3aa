"""No number is ever cut, whatever the terminal's width.

Every example is rendered (summary at every depth, compare all together and
each with the next, scale) at 60, 80 and 100 columns, through the renderers and end to
end with ``COLUMNS=80``. The numbers expected come from the JSON (or the
analysis at that depth), never written here: each must appear whole, no line
may exceed the width, and nothing is ellipsised.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console

import archcalc
from archcalc.analysis import estimate
from archcalc.analysis.memory import binary_size
from archcalc.design.compare import compare
from archcalc.design.scale import scale
from archcalc.kinds.base import fmt_shape
from archcalc.render import compare as render_compare
from archcalc.render import scale as render_scale
from archcalc.render.table import print_summary
from tests.helpers import EXAMPLES, ROOT

SPECS = sorted(EXAMPLES.glob("*.yaml"))
NAMES = [p.stem for p in SPECS]
WIDTHS = [60, 80, 100]
DEPTHS = [None, 1, 2]
SIZES = [32, 64, 128, 224]
# Compare renders all the examples together and each with the next one (the last with the
# first): every example is in two pairs, and the count grows with the zoo, not its square.
GROUPS = [NAMES, *itertools.pairwise([*NAMES, NAMES[0]])]


def _console(out: io.StringIO, width: int) -> Console:
    return Console(file=out, width=width, color_system=None)


def _rel(name: str) -> str:
    return f"examples/{name}.yaml"


def _whole(number: str, text: str) -> bool:
    """``number`` appears with no digit, separator or decimal glued to either side."""
    pattern = rf"(?<![\d,.×]){re.escape(number)}(?![\d×]|[,.]\d)"
    return re.search(pattern, text) is not None


def _check(text: str, width: int, expected: Iterable[tuple[str, str]]) -> None:
    """Lines fit, nothing is ellipsised, every (column, number) is whole unless the column
    is listed as not shown."""
    lines = text.splitlines()
    too_long = [line for line in lines if cell_len(line) > width]
    assert not too_long, f"{len(too_long)} lines wider than {width}: {too_long[:3]}"
    assert "…" not in text and "..." not in text
    start = next((i for i, line in enumerate(lines) if line.startswith("Not shown")), len(lines))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), start + 1)
    hidden = " ".join(line.strip() for line in lines[start:end])
    missing = [
        (column, n) for column, n in expected if column not in hidden and not _whole(n, text)
    ]
    assert not missing, f"cut or missing at {width} columns: {missing[:5]}\n{text}"


def _count(n: int) -> str:
    return f"{n:,}"


def _summary_numbers(
    analysis: archcalc.Analysis, depth: int | None, memory: Any
) -> list[tuple[str, str]]:
    data = analysis.to_dict()
    expected = [
        ("Params", _count(data["totals"]["params"])),
        ("MACs", _count(data["totals"]["macs"])),
        ("Output shape", fmt_shape(tuple(data["output_shape"]))),
    ]
    rows = analysis.rows_at_depth(depth) if depth else None
    if rows is None:  # every leaf: straight from the JSON
        for layer in data["layers"]:
            expected.append(("Params", _count(layer["params"])))
            if layer["macs"] is not None:
                expected.append(("MACs", _count(layer["macs"])))
            if layer["output_shape"]:
                expected.append(("Output shape", fmt_shape(tuple(layer["output_shape"]))))
    else:
        for row in rows:
            expected.append(("Params", _count(row.params)))
            if row.macs is not None:
                expected.append(("MACs", _count(row.macs)))
            if row.output_shape:
                expected.append(("Output shape", fmt_shape(row.output_shape)))
    for key in ("params", "buffers", "activations", "inference_peak", "training"):
        expected.append(("memory", binary_size(memory[key])))
    return expected


def _figure_numbers(figures: dict[str, Any], largest_params: bool) -> list[tuple[str, str]]:
    out = [
        ("", _count(figures["params"])),
        ("", _count(figures["head_params"])),
        ("", binary_size(figures["peak_activation_bytes"])),
        ("", binary_size(figures["activation_bytes"])),
    ]
    if figures["macs"] is not None:
        out.append(("", _count(figures["macs"])))
    if largest_params and figures["largest"]:
        out.append(("", _count(figures["largest"]["params"])))
    return out


def _compare_numbers(data: dict[str, Any]) -> list[tuple[str, str]]:
    expected = []
    for d in data["designs"]:
        expected += _figure_numbers(d, largest_params=False)
        expected += [("", _count(d["body_params"])), ("", fmt_shape(tuple(d["input_shape"])))]
        expected.append(("", fmt_shape(tuple(d["output_shape"]))))
    return expected


def _scale_numbers(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        number
        for spec in data["specs"]
        for point in spec["points"]
        if point["params"] is not None
        for number in _figure_numbers(point, largest_params=True)
    ]


def _memory(analysis: archcalc.Analysis) -> dict[str, int]:
    m = estimate(analysis, 1)
    return {
        "params": m.params,
        "buffers": m.buffers,
        "activations": m.activations,
        "inference_peak": m.inference_peak,
        "training": m.training,
    }


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("depth", DEPTHS, ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_summary_renderer(name: str, depth: int | None, width: int) -> None:
    analysis = archcalc.analyze(archcalc.load(EXAMPLES / f"{name}.yaml"))
    out = io.StringIO()
    print_summary(analysis, estimate(analysis, 1), depth, _console(out, width))
    _check(out.getvalue(), width, _summary_numbers(analysis, depth, _memory(analysis)))


def _specs(names: Iterable[str]) -> list[tuple[str, archcalc.Spec]]:
    return [(_rel(n), archcalc.load(ROOT / _rel(n))) for n in names]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("names", GROUPS, ids=lambda n: "+".join(n))
def test_compare_renderer(names: list[str], width: int) -> None:
    result = compare(_specs(names))
    out = io.StringIO()
    render_compare.print_comparison(result, _console(out, width))
    _check(out.getvalue(), width, _compare_numbers(render_compare.to_dict(result)))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", NAMES)
def test_scale_renderer(name: str, width: int) -> None:
    result = scale(_specs([name]), SIZES)
    out = io.StringIO()
    render_scale.print_scale(result, _console(out, width))
    _check(out.getvalue(), width, _scale_numbers(render_scale.to_dict(result)))


@pytest.mark.parametrize("width", [30, 40])
def test_too_narrow_for_a_table_still_shows_every_number(width: int) -> None:
    result = compare(_specs(NAMES))
    out = io.StringIO()
    render_compare.print_comparison(result, _console(out, width))
    _check(out.getvalue(), width, _compare_numbers(render_compare.to_dict(result)))
    analysis = archcalc.analyze(archcalc.load(EXAMPLES / "googlenet.yaml"))
    out = io.StringIO()
    print_summary(analysis, estimate(analysis, 1), None, _console(out, width))
    _check(out.getvalue(), width, _summary_numbers(analysis, None, _memory(analysis)))


def _cli(*args: str, columns: int | None) -> str:
    """``python -m archcalc ARGS``, piped, with ``$COLUMNS`` set or absent."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    result = subprocess.run(
        [sys.executable, "-m", "archcalc", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.stdout


@pytest.mark.parametrize("depth", DEPTHS, ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_summary_cli_at_80_columns(name: str, depth: int | None) -> None:
    depth_args = ["--depth", str(depth)] if depth else []
    text = _cli("summary", _rel(name), *depth_args, columns=80)
    data = json.loads(_cli("summary", _rel(name), "--json", columns=80))
    analysis = archcalc.analyze(archcalc.load(EXAMPLES / f"{name}.yaml"))
    assert analysis.totals.params == data["totals"]["params"]
    _check(text, 80, _summary_numbers(analysis, depth, data["memory"]))


@pytest.mark.parametrize("names", GROUPS, ids=lambda n: "+".join(n))
def test_compare_cli_at_80_columns(names: list[str]) -> None:
    paths = [_rel(n) for n in names]
    text = _cli("compare", *paths, columns=80)
    # The JSON `compare --json` prints, made in-process to halve the processes started.
    _check(text, 80, _compare_numbers(render_compare.to_dict(compare(_specs(names)))))


def test_scale_cli_at_80_columns() -> None:
    paths = [_rel(n) for n in NAMES]
    sizes = ",".join(map(str, SIZES))
    text = _cli("scale", *paths, "--sizes", sizes, columns=80)
    data = json.loads(_cli("scale", *paths, "--sizes", sizes, "--json", columns=80))
    _check(text, 80, _scale_numbers(data))


def test_lint_cli_at_80_columns_keeps_every_finding_whole() -> None:
    paths = [_rel(n) for n in NAMES]
    text = _cli("lint", *paths, columns=80)
    data = json.loads(_cli("lint", *paths, "--json", columns=80))
    assert all(cell_len(line) <= 80 for line in text.splitlines())
    flat = " ".join(line.strip() for line in text.splitlines())
    for spec in data["specs"]:
        for finding in spec["findings"]:
            assert " ".join(finding["message"].split()) in flat


def test_piped_output_without_columns_keeps_its_natural_width() -> None:
    text = _cli("summary", _rel("googlenet"), columns=None)
    assert max(cell_len(line) for line in text.splitlines()) > 100
    assert "Not shown" not in text
