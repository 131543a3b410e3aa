"""Every spec-reading command end to end (`python -m archcalc ...`) on a 1-D and a 3-D spec.

The examples are M5 on a 1×8000 waveform and R3D-18 on a 3×16×112×112 clip. Each command
must give a clean result or one located line, never a traceback; the numbers expected come
from the analysis, and the words from the input's rank (L, D×H×W), never an image's H×W.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

import archcalc
from archcalc.kinds.base import RANK_SHAPES, fmt_shape
from tests.helpers import ROOT, run_cli

SPECS = {"1-D": "examples/m5.yaml", "3-D": "examples/r3d_18.yaml"}
BOTH = pytest.mark.parametrize("path", SPECS.values(), ids=SPECS.keys())


def _analysis(path: str) -> archcalc.Analysis:
    return archcalc.analyze(archcalc.load(ROOT / path))


def _clean(result: subprocess.CompletedProcess[str], allowed: tuple[int, ...] = (0,)) -> None:
    assert result.returncode in allowed, result.stderr
    assert "Traceback" not in result.stderr


@BOTH
@pytest.mark.parametrize("depth", [None, 1], ids=["leaves", "depth1"])
def test_summary_shows_every_row_at_the_spec_s_rank(path: str, depth: int | None) -> None:
    depth_args = ["--depth", str(depth)] if depth else []
    result = run_cli("summary", path, *depth_args)
    _clean(result)
    a = _analysis(path)
    assert f"input {fmt_shape(a.input_shape)}" in result.stdout
    assert f"{a.totals.params:,}" in result.stdout and f"{a.totals.macs:,}" in result.stdout
    rows = a.rows_at_depth(depth) if depth else a.rows
    for row in rows:
        assert re.search(rf"│ {re.escape(row.path)}\b", result.stdout), row.path
    spatial = [r for r in rows if len(r.output_shape) > 1]
    assert spatial and all(fmt_shape(r.output_shape) in result.stdout for r in spatial)


@BOTH
def test_summary_json_carries_the_analysis(path: str) -> None:
    result = run_cli("summary", path, "--json")
    _clean(result)
    data = json.loads(result.stdout)
    a = _analysis(path)
    assert data["totals"]["params"] == a.totals.params
    assert data["totals"]["macs"] == a.totals.macs


@BOTH
def test_lint_findings_are_located_lines(path: str) -> None:
    result = run_cli("lint", path)
    _clean(result, allowed=(0, 1))
    data = json.loads(run_cli("lint", path, "--json").stdout)
    findings = [f for spec in data["specs"] for f in spec["findings"]]
    assert result.returncode == (1 if findings else 0)
    where = re.compile(rf"{re.escape(path)}:\d+:\d+: AC\d{{3}} ")
    located = [line for line in result.stdout.splitlines() if where.match(line)]
    assert len(located) == len(findings) > 0


def test_compare_across_ranks_is_a_clean_table_in_rank_free_words() -> None:
    paths = list(SPECS.values())
    result = run_cli("compare", *paths)
    _clean(result)
    for path in paths:
        a = _analysis(path)
        assert a.name in result.stdout and f"{a.totals.params:,}" in result.stdout
        assert fmt_shape(a.input_shape) in result.stdout
    flat = " ".join(result.stdout.split())
    # One --input cannot fit a waveform and a clip, and the footnote names their positions.
    assert "ranks differ" in flat and "pass --input" not in flat
    assert "D·H·W" in flat and "H·W > 1;" not in flat


def test_compare_of_one_rank_keeps_the_image_wording() -> None:
    result = run_cli("compare", "examples/mnist_cnn.yaml", "examples/vgg16.yaml")
    _clean(result)
    flat = " ".join(result.stdout.split())
    assert "pass --input" in flat and "D·H·W" not in flat


def _payload(page: str) -> dict:
    found = re.search(
        r'<script type="application/json" id="archcalc-data">(.*?)</script>', page, re.S
    )
    assert found, "the page carries its data as a JSON script block"
    return json.loads(found.group(1))


@BOTH
def test_report_gives_every_field_in_numbers(path: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = run_cli("report", path, "-o", str(page))
    _clean(result)
    data = _payload(page.read_text())
    a = _analysis(path)
    assert len(data["layers"]) == len(a.rows)
    rank = len(a.input_shape) - 1
    for layer, row in zip(data["layers"], a.rows, strict=True):
        # No H×W grid to draw on: the field in numbers, and a note saying why.
        assert layer["rf"]["grid"] is None and RANK_SHAPES[rank] in layer["rf"]["note"]
        if row.receptive_field and not row.receptive_field.whole:
            assert " px " not in layer["text"]["rf_detail"]


@BOTH
def test_scale_grows_a_waveform_s_length_and_a_clip_s_frame(path: str) -> None:
    result = run_cli("scale", path, "--sizes", "56,112", "--json")
    _clean(result)
    a = _analysis(path)
    points = json.loads(result.stdout)["specs"][0]["points"]
    # L grows for C×L; H and W grow for C×D×H×W, the clip's frames staying as written.
    kept = a.input_shape[:-1] if len(a.input_shape) == 2 else a.input_shape[:-2]
    for point, size in zip(points, (56, 112), strict=True):
        grown = (size,) if len(a.input_shape) == 2 else (size, size)
        assert tuple(point["input_shape"]) == (*kept, *grown)
        if point["failure"] is None:
            at = archcalc.analyze(archcalc.load(ROOT / path), input_shape=(*kept, *grown))
            assert point["macs"] == at.totals.macs
    table = run_cli("scale", path, "--sizes", "56,112")
    _clean(table)
    pattern = "×".join([*map(str, kept), *["S"] * (len(a.input_shape) - len(kept))])
    assert f"input {pattern} ({path})" in table.stdout


def test_scale_refuses_a_flat_input_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "mlp.yaml").write_text("input: [784]\nlayers: [{linear: 10}]\n")
    result = run_cli("scale", "mlp.yaml", cwd=tmp_path)
    _clean(result, allowed=(2,))
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("mlp.yaml: ") and "784" in result.stderr
