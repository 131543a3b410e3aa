"""The HTML report as text: self-contained, escaped, and carrying the analysis' numbers.

The page's behaviour in a real browser is tested in test_report_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from archcalc import Analysis, analyze, from_dict, load
from archcalc.report import Finding, render_report
from archcalc.report.html import lint_findings, rf_view
from tests.helpers import EXAMPLES, ROOT, run_cli

HOSTILE = "</script><script>alert(1)</script><!--"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # the one URL the page may hold: a name, not a fetch


@pytest.fixture(scope="module")
def mnist_page() -> str:
    return render_report(analyze(load(EXAMPLES / "mnist_cnn.yaml")), findings=())


def payload(page: str) -> dict:
    found = re.search(
        r'<script type="application/json" id="archcalc-data">(.*?)</script>', page, re.S
    )
    assert found, "the page carries its data as a JSON script block"
    return json.loads(found.group(1))


def hostile_analysis() -> Analysis:
    return analyze(
        from_dict(
            {
                "name": HOSTILE,
                "input": [1, 8, 8],
                "layers": [
                    {"conv2d": {"name": "conv", "out": 4, "kernel": 3}},
                    "flatten",
                    {"linear": {"name": "fc", "out": 2}},
                ],
            }
        )
    )


def test_page_fetches_nothing(mnist_page: str) -> None:
    assert not re.search(r"\b(src|href|srcset|action|poster)\s*=", mnist_page, re.I)
    assert "@import" not in mnist_page and "url(" not in mnist_page
    assert not re.search(r"<(link|iframe|object|embed|img|base)\b", mnist_page, re.I)
    assert set(re.findall(r"https?://[^\s\"'<>)]+", mnist_page)) <= {SVG_NAMESPACE}
    # and the browser is told so: nothing may load, whatever the page holds
    assert "default-src 'none'" in mnist_page


def test_csp_admits_exactly_the_inline_style_and_script(mnist_page: str) -> None:
    # A hash that does not match would make the browser drop the page's only script silently.
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', mnist_page)
    assert csp
    style = re.search(r"<style>(.*?)</style>", mnist_page, re.S)
    scripts = re.findall(r"<script>(.*?)</script>", mnist_page, re.S)
    assert style and len(scripts) == 1

    def sha(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert f"style-src {sha(style.group(1))};" in csp.group(1)
    assert f"script-src {sha(scripts[0])};" in csp.group(1)
    assert "unsafe-inline" not in csp.group(1)


def test_hostile_spec_name_stays_text() -> None:
    page = render_report(hostile_analysis(), findings=(), source=HOSTILE)
    assert "<script>alert(1)" not in page
    assert "<!--" not in page
    assert page.count("<script") == 2 and page.count("</script>") == 2  # only the page's own
    assert "<h1>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;!--</h1>" in page
    assert payload(page)["name"] == HOSTILE  # escaped in transit, intact once parsed


def test_data_carries_the_summary_numbers(mnist_page: str) -> None:
    data = payload(mnist_page)
    by = {layer["path"]: layer for layer in data["layers"]}
    assert len(data["layers"]) == 11
    assert (by["fc1"]["params"], by["fc1"]["text"]["params"]) == (200832, "200,832")
    assert by["fc1"]["text"]["share"] == "97.1%"  # 200,832 / 206,922
    assert by["fc1"]["text"]["macs"] == "200,704"  # 1568 × 128
    assert by["conv2"]["text"]["rf_detail"] == "8×8 px · jump 2 · start (0.5, 0.5)"
    assert by["fc1"]["text"]["rf_detail"] == "the whole 28×28 input"
    assert data["total_params_text"] == "206,922"
    assert data["largest"] == "fc1"
    assert (by["relu_1"]["family"], by["relu_1"]["thin"]) == ("activations", True)
    assert (by["pool1"]["family"], by["pool1"]["thin"]) == ("pooling", False)


def test_tree_places_every_leaf_once() -> None:
    data = payload(render_report(analyze(load(EXAMPLES / "googlenet.yaml")), findings=()))
    leaves: list[int] = []

    def walk(node: int | dict) -> None:
        if isinstance(node, int):
            leaves.append(node)
        else:
            for child in node["children"]:
                walk(child)

    for node in data["tree"]:
        walk(node)
    assert sorted(leaves) == list(range(len(data["layers"])))
    inception = next(n for n in data["tree"] if isinstance(n, dict) and n["name"] == "inception3a")
    assert inception["children"][0]["layout"] == "stack"  # four branches, drawn stacked


def test_rf_view_draws_first_and_centre_unit() -> None:
    a = analyze(load(EXAMPLES / "mnist_cnn.yaml"))
    conv2 = next(r for r in a.rows if r.path == "conv2")
    view = rf_view(conv2.receptive_field, a.input_shape, conv2.output_shape)
    assert view is not None
    first, centre = view["units"]
    # size 8, start 0.5: rows 0.5 − 3.5 = −3 … 0.5 + 3.5 = 4, clipped to 0 … 4
    assert (first["lo"], first["hi"]) == ([-3, -3], [4, 4])
    assert (first["inside_lo"], first["inside_hi"], first["clipped"]) == ([0, 0], [4, 4], True)
    # output 14×14: centre unit 6, centre 0.5 + 6 × jump 2 = 12.5, rows 9 … 16
    assert centre["unit"] == [6, 6] and centre["centre"] == [12.5, 12.5]
    assert (centre["lo"], centre["hi"], centre["clipped"]) == ([9, 9], [16, 16], False)
    fc1 = next(r for r in a.rows if r.path == "fc1")
    whole = rf_view(fc1.receptive_field, a.input_shape, fc1.output_shape)
    assert whole is not None and whole["whole"] and whole["units"] == []
    assert rf_view(None, (784,), (10,)) is None


def test_static_table_and_header(mnist_page: str) -> None:
    assert mnist_page.count('<tr data-index="') == 11
    assert '<td class="num">200,832</td>' in mnist_page
    assert "<dd>206,922</dd>" in mnist_page and "<dd>1,218,048</dd>" in mnist_page
    assert "input 1×28×28 → output 10" in mnist_page


def test_findings_are_listed_and_escaped() -> None:
    a = analyze(load(EXAMPLES / "mnist_cnn.yaml"))
    page = render_report(
        a, [Finding("holds <b>97.1%</b>", path="fc1", code="AC101", severity="warning")]
    )
    assert "Lint findings" in page
    assert "<b>AC101</b> <code>fc1</code>: holds &lt;b&gt;97.1%&lt;/b&gt;" in page
    assert '<span class="badge warning">warning</span>' in page


def test_report_works_without_lint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "archcalc.design.lint", None)  # import now fails
    a = analyze(load(EXAMPLES / "mnist_cnn.yaml"))
    assert lint_findings(a) is None
    page = render_report(a)
    assert "Lint findings" not in page and "200,832" in page


def test_cli_writes_the_default_name_here(tmp_path: Path) -> None:
    result = run_cli("report", str(EXAMPLES / "mnist_cnn.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "mnist_cnn.report.html"
    page = (tmp_path / "mnist_cnn.report.html").read_text(encoding="utf-8")
    assert payload(page)["name"] == "mnist-cnn"
    assert [p.name for p in tmp_path.iterdir()] == ["mnist_cnn.report.html"]  # no temp left


def test_cli_output_and_input_flags(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = run_cli("report", "examples/mnist_cnn.yaml", "-o", str(out), "--input", "32x32")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert payload(out.read_text(encoding="utf-8"))["input_shape"] == [1, 32, 32]


@pytest.mark.parametrize(
    "target, message",
    [
        (
            "missing/r.html",
            r"error: cannot write '.*missing/r\.html': the folder '.*missing' does not exist",
        ),
        (
            ".",
            r"error: cannot write '.*': it is a folder — name a file in it, e\.g\. .*report\.html",
        ),
    ],
    ids=["missing-folder", "folder"],
)
def test_cli_unwritable_output_is_one_line(tmp_path: Path, target: str, message: str) -> None:
    result = run_cli("report", str(EXAMPLES / "mnist_cnn.yaml"), "-o", str(tmp_path / target))
    assert result.returncode == 2
    assert re.fullmatch(message, result.stderr.strip()), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_cli_bad_spec_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [1, 28, 28]\nlayers:\n  - conv2: {out: 16, kernel: 3}\n")
    result = run_cli("report", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert re.search(r"bad\.yaml:3:5: .*unknown layer kind `conv2`", result.stderr)
    assert list(tmp_path.iterdir()) == [bad]


def test_report_command_never_imports_torch(tmp_path: Path) -> None:
    code = (
        "import sys; from archcalc.cli.main import main\n"
        f"assert main(['report', {str(EXAMPLES / 'resnet18.yaml')!r}, '-o', "
        f"{str(tmp_path / 'r.html')!r}]) == 0\n"
        "assert 'torch' not in sys.modules, 'report imported torch'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_tree_layout_comes_from_scope_roles_not_block_names() -> None:
    text = (
        "input: [4, 8, 8]\nblocks:\n  shortcut:\n    layers: [{conv2d: {out: 4, kernel: 1}}]\n"
        "layers:\n  - residual:\n      name: res\n      layers: [shortcut]\n"
        "      shortcut: [{conv2d: {out: 4, kernel: 1}}]\n"
    )
    from archcalc import loads

    data = payload(render_report(analyze(loads(text)), findings=()))
    (res,) = data["tree"]
    assert res["layout"] == "residual"
    block, shortcut = res["children"]
    assert (block["kind"], block["role"]) == ("shortcut", "block")  # a block named `shortcut`
    assert (shortcut["kind"], shortcut["role"]) == ("shortcut", "shortcut")
    assert 'c.role === "shortcut"' in (ROOT / "archcalc" / "report" / "report.js").read_text()
