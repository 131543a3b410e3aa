"""compare, scale and lint end to end, as a user runs them (`python -m archcalc ...`)."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from archcalc import ArchcalcError, load
from archcalc.design.scale import scale
from tests.helpers import ROOT, run_cli

FOUR = [
    "examples/lenet5.yaml",
    "examples/mnist_cnn.yaml",
    "examples/mnist_gap.yaml",
    "examples/vgg16.yaml",
]
SIZES = "28,56,112,224"


# compare ---------------------------------------------------------------------------------


def test_compare_prints_the_seed_table() -> None:
    r = run_cli("compare", *FOUR)
    assert r.returncode == 0, r.stderr
    for name in ("lenet5", "mnist-cnn", "mnist-gap", "vgg16"):
        assert name in r.stdout
    lines = r.stdout.splitlines()
    params = next(line for line in lines if line.startswith("│ Params "))
    assert "5,130 ✓" in params and "138,357,544 ✗" in params
    largest = next(line for line in lines if line.startswith("│ Largest layer"))
    assert "fc1 97.1% ✗" in largest
    depth = next(line for line in lines if line.startswith("│ Depth"))
    assert [c.strip() for c in depth.split("│")[2:6]] == ["5", "4", "3", "16"]
    assert "note: inputs differ" in r.stdout
    assert r.stderr == ""


def test_compare_json_follows_the_documented_schema() -> None:
    r = run_cli("compare", *FOUR, "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert set(data) == {"input_override", "metrics", "designs", "notes"}
    by_name = {d["name"]: d for d in data["designs"]}
    assert by_name["vgg16"]["params"] == 138_357_544 and by_name["vgg16"]["depth"] == 16
    assert by_name["mnist-cnn"]["largest"] == {
        "path": "fc1",
        "params": 200_832,
        "share": round(200_832 / 206_922, 6),
    }
    assert "params" in by_name["mnist-gap"]["best"] and "params" in by_name["vgg16"]["worst"]
    assert by_name["mnist-gap"]["receptive_field"]["size"] == [10, 10]


def test_compare_markdown_is_a_table() -> None:
    r = run_cli("compare", "examples/mnist_cnn.yaml", "examples/mnist_gap.yaml", "--markdown")
    assert r.returncode == 0
    assert "|  | mnist-cnn | mnist-gap |" in r.stdout
    assert "| Params | 206,922 ✗ | **5,130 ✓** |" in r.stdout


def test_compare_at_one_input_analyses_other_channels_as_given() -> None:
    r = run_cli(
        "compare",
        "examples/mnist_cnn.yaml",
        "examples/vgg16.yaml",
        "--input",
        "3x224x224",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    cnn = data["designs"][0]
    assert cnn["input_shape"] == [3, 224, 224] and cnn["largest"]["params"] == 12_845_184
    assert data["notes"] == ["mnist-cnn is written for 1×28×28; analysed at 3×224×224 as given"]


def test_compare_shows_an_error_in_the_designs_cell_instead_of_crashing() -> None:
    r = run_cli("compare", "examples/mnist_cnn.yaml", "examples/vgg16.yaml", "--input", "28x28")
    assert r.returncode == 0, r.stderr
    error_row = next(line for line in r.stdout.splitlines() if line.startswith("│ Error"))
    assert "stage5.pool" in error_row and "output would be 0×0" in error_row
    assert "Traceback" not in r.stdout + r.stderr


def test_compare_a_broken_spec_is_exit_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [1, 4, 4]\nlayers:\n  - maxpool2d: 8\n")
    r = run_cli("compare", "examples/mnist_cnn.yaml", str(bad))
    assert r.returncode == 2
    assert r.stderr.startswith(f"{bad}:3:5: layers[0] (maxpool2d maxpool2d_0): expects an input")
    missing = run_cli("compare", "examples/mnist_cnn.yaml", "nope.yaml")
    assert missing.returncode == 2 and missing.stderr.startswith("nope.yaml: no such file")


# scale -----------------------------------------------------------------------------------


def test_scale_mnist_cnn_shows_fc1_growing_past_12_million() -> None:
    r = run_cli("scale", "examples/mnist_cnn.yaml", "--sizes", SIZES)
    assert r.returncode == 0, r.stderr
    largest = next(line for line in r.stdout.splitlines() if line.startswith("│ Largest"))
    # 32·7·7·128 + 128 at 28×28 … 32·56·56·128 + 128 at 224×224
    for fc1 in ("200,832", "802,944", "3,211,392", "12,845,184"):
        assert f"fc1 {fc1}" in largest
    assert "×64.0" in largest


def test_scale_mnist_gap_stays_constant() -> None:
    r = run_cli("scale", "examples/mnist_gap.yaml", "--sizes", SIZES)
    assert r.returncode == 0, r.stderr
    params = next(line for line in r.stdout.splitlines() if line.startswith("│ Params"))
    assert params.count("5,130") == 4 and "×1.0" in params


def test_scale_names_a_collapse_in_its_column() -> None:
    r = run_cli("scale", "examples/mnist_cnn.yaml", "--sizes", "2,28", "--json")
    assert r.returncode == 0, r.stderr
    small, full = json.loads(r.stdout)["specs"][0]["points"]
    assert small["failure"]["text"] == "collapses at pool2" and small["params"] is None
    assert full["failure"] is None and full["params"] == 206_922
    md = run_cli("scale", "examples/mnist_cnn.yaml", "--sizes", "2,28", "--markdown")
    # One working size: no growth to report.
    assert "| Params | collapses at pool2 | 206,922 |  |" in md.stdout


def test_scale_plot_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "scale.png"
    r = run_cli(
        "scale",
        "examples/mnist_cnn.yaml",
        "examples/mnist_gap.yaml",
        "--sizes",
        SIZES,
        "--plot",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from archcalc.render.scale import plot

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib → ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    result = scale([("m", load(ROOT / "examples" / "mnist_gap.yaml"))], [28])
    with pytest.raises(
        ArchcalcError, match=r"--plot needs matplotlib.*pip install 'archcalc\[plot\]'"
    ):
        plot(result, tmp_path / "x.png")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sizes", "28,abc"], "expects sizes like 28,56,112,224"),
        (["--sizes", "0,28"], "expects positive sizes"),
    ],
    ids=["not-a-number", "zero"],
)
def test_scale_rejects_bad_sizes(args: list[str], message: str) -> None:
    r = run_cli("scale", "examples/mnist_cnn.yaml", *args)
    assert r.returncode == 2 and message in r.stderr


# lint ------------------------------------------------------------------------------------


def test_lint_mnist_cnn_names_fc1_and_exits_1() -> None:
    r = run_cli("lint", "examples/mnist_cnn.yaml")
    assert r.returncode == 1
    ac101 = next(line for line in r.stdout.splitlines() if " AC101 " in line)
    assert ac101.startswith("examples/mnist_cnn.yaml:12:5: AC101 warning fc1: holds 97.1% of all")
    assert r.stdout.rstrip().endswith("examples/mnist_cnn.yaml: 2 findings (1 warning, 1 info)")


def test_lint_clean_spec_exits_0() -> None:
    r = run_cli("lint", "examples/resnet18.yaml")
    assert (r.returncode, r.stdout.strip()) == (0, "examples/resnet18.yaml: no findings")


def test_lint_flags_softmax_and_dropped_pixels(tmp_path: Path) -> None:
    spec = tmp_path / "smell.yaml"
    spec.write_text(
        "input: [1, 29, 29]\nlayers:\n  - conv2d: {out: 4, kernel: 3, padding: 1}\n"
        "  - maxpool2d: {name: pool, kernel: 2}\n  - global_avg_pool\n"
        "  - linear: 10\n  - softmax\n"
    )
    r = run_cli("lint", str(spec), "--json")
    assert r.returncode == 1
    (report,) = json.loads(r.stdout)["specs"]
    found = {(f["code"], f["path"]) for f in report["findings"]}
    assert {("AC102", "pool"), ("AC104", "softmax_4")} <= found
    ac102 = next(f for f in report["findings"] if f["code"] == "AC102")
    assert ac102["loc"] == f"{spec}:4:5"


def test_lint_ignore_silences_and_unknown_codes_are_errors() -> None:
    r = run_cli("lint", "examples/mnist_cnn.yaml", "--ignore", "AC101,ac103")
    assert r.returncode == 0
    assert "no findings; 2 silenced (AC101, AC103)" in r.stdout
    bad = run_cli("lint", "examples/mnist_cnn.yaml", "--ignore", "AC1O1")
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "error: --ignore expects lint codes (AC101, AC102, AC103, AC104, AC105, AC106, AC107), "
        "but gets AC1O1 — did you mean `AC101`?"
    )


def test_lint_spec_error_is_exit_2_and_other_specs_still_run() -> None:
    r = run_cli("lint", "nope.yaml", "examples/resnet18.yaml", "--json")
    assert r.returncode == 2
    assert r.stderr.startswith("nope.yaml: no such file")
    specs = json.loads(r.stdout)["specs"]
    assert specs[0]["file"] == "nope.yaml" and "error" in specs[0]
    assert specs[1]["name"] == "resnet18" and specs[1]["findings"] == []


def test_lint_markdown() -> None:
    r = run_cli("lint", "examples/mnist_cnn.yaml", "--markdown")
    assert "### Lint: mnist-cnn — 2 findings (1 warning, 1 info)" in r.stdout
    assert "| `AC101` | warning | fc1 | examples/mnist_cnn.yaml:12:5 |" in r.stdout


# summary shows the same findings ---------------------------------------------------------


def test_summary_prints_findings_beneath_the_table() -> None:
    r = run_cli("summary", "examples/mnist_cnn.yaml")
    assert r.returncode == 0
    tail = r.stdout[r.stdout.index("Lint: 2 findings") :]
    assert "examples/mnist_cnn.yaml:12:5: AC101 warning fc1: holds 97.1%" in tail


def test_summary_json_has_a_lint_list_and_honours_spec_ignore(tmp_path: Path) -> None:
    r = run_cli("summary", "examples/mnist_cnn.yaml", "--json")
    codes = [f["code"] for f in json.loads(r.stdout)["lint"]]
    assert codes == ["AC103", "AC101"]
    quiet = tmp_path / "quiet.yaml"
    quiet.write_text(
        "lint: {ignore: [AC101, AC103]}\n" + (ROOT / "examples" / "mnist_cnn.yaml").read_text()
    )
    assert json.loads(run_cli("summary", str(quiet), "--json").stdout)["lint"] == []


def test_compare_scale_and_lint_never_import_torch_or_matplotlib() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from archcalc.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['compare', 'examples/mnist_cnn.yaml', 'examples/vgg16.yaml'])\n"
        "    main(['scale', 'examples/mnist_cnn.yaml', '--sizes', '28,56'])\n"
        "    main(['lint', 'examples/mnist_cnn.yaml'])\n"
        "    main(['summary', 'examples/mnist_cnn.yaml'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'matplotlib')))\n"
    )
    import subprocess

    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


@pytest.mark.parametrize("target", ["link", "fifo", "spec"])
def test_scale_plot_never_writes_through_a_link_onto_a_fifo_or_over_the_spec(
    tmp_path: Path, target: str
) -> None:
    spec = tmp_path / "net.yaml"
    spec.write_text((ROOT / "examples" / "mnist_cnn.yaml").read_text())
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "out.png"
    if target == "link":
        out.symlink_to(victim)
    elif target == "fifo":
        os.mkfifo(out)
    else:
        out = spec
    before = spec.read_text()
    result = run_cli("scale", str(spec), "--plot", str(out), timeout=30)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert victim.read_text() == "keep me"
    assert spec.read_text() == before
    if target == "fifo":
        assert stat.S_ISFIFO(os.lstat(out).st_mode)
    if target == "link":
        assert out.is_symlink()
