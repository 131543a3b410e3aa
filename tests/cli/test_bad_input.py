"""Every mistake a spec can hold ends as one located line and exit status 2.

Each case is a file a careless or hostile user could write; the CLI must
answer with the one-line format of docs/spec.md (file:line:col: layer path: expected
vs found — hint), print nothing on stdout, show no traceback, and never hang
(the timeout below catches a hang; speed is measured in benchmarks/).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archcalc.spec.parse import MAX_LAYERS, MAX_NESTING
from tests.helpers import run_cli


def _block_chain(n: int) -> str:
    """Blocks b1..b(n-1), each calling the one before: n nested block calls."""
    text = "input: [1, 8, 8]\nblocks:\n  b0:\n    layers: [relu]\n"
    text += "".join(f"  b{i}:\n    layers: [b{i - 1}]\n" for i in range(1, n))
    return text + f"layers: [b{n - 1}]\n"


def _nested(levels: int) -> str:
    """A spec whose deepest layers sit inside exactly ``levels`` composites and block calls.

    Each block wraps the one before in a repeat, a residual or a concat (two levels:
    the call and the composite), so every kind of nesting reaches every consumer.
    """
    inner = "{{{block}: {{name: c}}}}"  # short names: the path stays under MAX_PATH_CHARS
    wraps = [
        f"[{{{{repeat: {{{{name: r, times: 1, layers: [{inner}]}}}}}}}}]",
        f"[{{{{residual: {{{{name: s, layers: [{inner}]}}}}}}}}]",
        f"[{{{{concat: {{{{name: k, branches: [[{inner}], [identity]]}}}}}}}}, "
        "{{conv2d: {{out: 1, kernel: 1}}}}]",
    ]
    text = "input: [1, 4, 4]\nblocks:\n  b0:\n    layers: [{conv2d: {out: 1, kernel: 1}}, relu]\n"
    depth, i = 1, 0
    while depth < levels:
        i += 1
        two = depth + 2 <= levels
        body = (wraps[i % 3] if two else f"[{inner}]").format(block=f"b{i - 1}")
        depth += 2 if two else 1
        text += f"  b{i}:\n    layers: {body}\n"
    return text + f"layers: [b{i}, flatten, {{linear: 2}}]\n"


# Calls of a block handing on a 20,000-value argument its callee never reads: copying
# each call's body (the old substitution) took minutes.
_UNUSED_ARGUMENT = (
    "input: [1, 8, 8]\nblocks:\n  b0:\n    params: [c]\n    layers: [relu]\n"
    "  b1:\n    params: [c]\n    layers: [{b0: {c: [" + ", ".join(["$c"] * 20_000) + "]}}]\n"
    f"  b2:\n    layers: [{{repeat: {{times: {MAX_LAYERS - 1}, layers: [{{b1: {{c: 1}}}}]}}}}]\n"
    "layers: [b2, {linear: {out: $nope}}]\n"
)
# Terminal escapes and bidi overrides, as a kind's name in a double-quoted scalar.
_ESCAPES = 'input: [1, 8, 8]\nlayers:\n  - "\\x1b[2J\\x1b]0;pwned\\x07\\u202eevil\\x9b"\n'

# (id, file text, expected line:col or None, regex the message must match)
CASES = [
    ("yaml-syntax", "input: [1, 28, 28]\nlayers: [relu\n", "3:1", r"YAML syntax error"),
    ("empty-file", "", "1:1", r"the spec is empty"),
    (
        "input-in-hwc-order",
        "input: [28, 28, 1]\nlayers: [flatten, {linear: 10}]\n",
        "1:8",
        r"`input` expects \[C, H, W\], but gets \[28, 28, 1\].* — write `input: \[1, 28, 28\]`",
    ),
    (
        "torch-argument-name",
        "input: [1, 28, 28]\nlayers:\n  - conv2d: {out: 16, kernel_size: 3}\n",
        "3:23",
        r"conv2d has no argument `kernel_size` — `kernel_size` is torch's name; "
        r"archcalc writes `kernel`",
    ),
    (
        "list-at-top",
        "- conv2d: {out: 3, kernel: 3}\n",
        "1:1",
        r"a spec is a mapping .* but this file holds a list",
    ),
    (
        "unknown-kind",
        "input: [1, 28, 28]\nlayers:\n  - conv2: {out: 16, kernel: 3}\n",
        "3:5",
        r"layers\[0\]: unknown layer kind `conv2` — did you mean `conv2d`\?",
    ),
    (
        "missing-arg",
        "input: [1, 28, 28]\nlayers:\n  - conv2d: {out: 16}\n",
        "3:13",
        r"layers\[0\] \(conv2d conv2d_0\): conv2d expects argument `kernel`, but it is missing",
    ),
    (
        "mistyped-arg-name",
        "input: [1, 28, 28]\nlayers:\n  - conv2d: {out: 16, kernal: 3}\n",
        "3:23",
        r"conv2d has no argument `kernal` — did you mean `kernel`\?",
    ),
    (
        "mistyped-arg-value",
        "input: [1, 28, 28]\nlayers:\n  - conv2d: {out: sixteen, kernel: 3}\n",
        "3:19",
        r"`out` expects an integer, but gets 'sixteen'",
    ),
    (
        "non-positive-size",
        "input: [1, 28, 28]\nlayers:\n  - conv2d: {out: 0, kernel: 3}\n",
        "3:19",
        r"`out` expects a positive integer, but gets 0",
    ),
    (
        "non-positive-input",
        "input: [1, 0, 28]\nlayers: [relu]\n",
        "1:12",
        r"`input` expects positive integer sizes, but gets `0`",
    ),
    (
        "spatial-collapse",
        "input: [1, 8, 8]\nlayers:\n  - maxpool2d: 2\n  - maxpool2d: 2\n  - maxpool2d: 2\n"
        "  - maxpool2d: {name: pool4, kernel: 2}\n",
        "6:5",
        r"layers\[3\] \(maxpool2d pool4\): expects an input of at least 2×2 for a 2×2 window, "
        r"but gets 1×1×1 \(output would be 0×0\)",
    ),
    (
        "linear-on-3d",
        "input: [1, 28, 28]\nlayers:\n  - conv2d: {out: 4, kernel: 3}\n"
        "  - linear: {name: fc1, out: 10}\n",
        "4:5",
        r"layers\[1\] \(linear fc1\): expects a flat input, but gets 4×26×26 — add `flatten`",
    ),
    (
        "residual-mismatch",
        "input: [3, 32, 32]\nlayers:\n  - residual:\n      name: block\n"
        "      layers: [{conv2d: {out: 8, kernel: 3, stride: 2, padding: 1}}]\n",
        "3:5",
        r"residual branches must give the same shape, but layers give 8×16×16 and the identity "
        r"shortcut gives 3×32×32 — add "
        r"`shortcut: \[\{conv2d: \{out: 8, kernel: 1, stride: 2\}\}\]`",
    ),
    (
        "concat-mismatch",
        "input: [3, 32, 32]\nlayers:\n  - concat:\n"
        "      - [{conv2d: {out: 8, kernel: 3, padding: 1}}]\n"
        "      - [{conv2d: {out: 8, kernel: 3}}]\n",
        "3:5",
        r"concat branches must agree in spatial sizes, but branch1 gives 8×32×32 and branch2 "
        r"gives 8×30×30",
    ),
    (
        "block-missing-param",
        "input: [3, 32, 32]\nblocks:\n  stage:\n    params: [c, n]\n"
        "    layers: [{conv2d: {out: $c, kernel: 3}}]\nlayers:\n  - stage: {c: 8}\n",
        "7:12",
        r"block `stage` expects parameter `n`, but it is missing",
    ),
    (
        "python-object-tag",
        "input: [1, 28, 28]\nlayers:\n  - !!python/object/apply:os.system [ls]\n",
        "3:5",
        r"YAML tag `tag:yaml.org,2002:python/object/apply:os.system` is not allowed",
    ),
    (
        "alias-bomb",
        "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
        "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n",
        "2:8",
        r"YAML anchors and aliases \(&name, \*name\) are not supported",
    ),
    (
        "repeat-bomb",
        "input: [1, 8, 8]\nlayers:\n  - repeat:\n      times: 1000000000\n      layers: [relu]\n",
        "4:14",
        r"the spec expands to more than 5,000 layers",
    ),
    (
        "nested-repeat-bomb",
        "input: [1, 8, 8]\nlayers:\n  - repeat:\n      times: 1000\n"
        "      layers:\n        - repeat: {times: 1000, layers: [relu, relu]}\n",
        None,
        r"the spec expands to more than 5,000 layers",
    ),
    (
        # PyYAML's C scanner reads a line of brackets ahead and refuses 1,000 levels itself.
        "deep-nesting",
        "input: [1, 8, 8]\nlayers: " + "[" * 5000 + "]" * 5000 + "\n",
        None,
        r"YAML nesting is deeper than archcalc reads \(200 levels\)",
    ),
    (
        "deep-block-nesting",
        "input: [1, 8, 8]\nlayers:\n" + "- " * 5000 + "relu\n",
        None,
        r"YAML nesting is deeper than archcalc reads \(200 levels\)",
    ),
    (
        "block-chain",
        _block_chain(400),
        "676:14",
        rf"layers\[0\]\.b399\[0\].*: composites and block calls nest deeper than {MAX_NESTING} "
        r"levels \(b399 → b398 → b397 → … → b337 → b336 → b335\)",
    ),
    (
        "nesting-budget",
        _nested(MAX_NESTING + 1),
        None,
        rf"composites and block calls nest deeper than {MAX_NESTING} levels",
    ),
    (
        "unused-block-argument",
        _UNUSED_ARGUMENT,
        "11:29",
        r"layers\[1\] \(linear linear_1\): `out` expects an integer, but gets '\$nope'",
    ),
    (
        "long-unknown-kind",
        "input: [1, 8, 8]\nlayers:\n  - " + "conv2d" * 150_000 + "\n",
        "3:5",
        r"unknown layer kind `(conv2d)+conv… \(900,000 characters\)` — run `archcalc kinds`",
    ),
    (
        "long-argument-name",
        "input: [1, 8, 8]\nlayers:\n  - conv2d:\n      ? " + "kernel" * 150_000 + "\n      : 3\n",
        "4:9",
        r"the key 'kernelkernel.*'… is 900,000 characters long; archcalc reads names up to 64",
    ),
    (
        "nul-byte",
        "input: [1, 8, 8]\nlayers:\n  - re\x00lu\n",
        "3:7",
        r"the control character U\+0000 is not allowed in YAML",
    ),
    (
        "bell-after-unicode",
        "name: résumé\x07\ninput: [1, 8, 8]\nlayers: [relu]\n",
        "1:13",
        r"the control character U\+0007 is not allowed in YAML",
    ),
    (
        "terminal-escapes",
        _ESCAPES,
        "3:5",
        r"unknown layer kind `\\x1b\[2J\\x1b\]0;pwned\\x07\\u202eevil\\x9b`",
    ),
    (
        "reserved-name-training",
        "input: [1, 8, 8]\nlayers:\n  - relu: {name: training}\n",
        "3:18",
        r"layers\[0\]: the name `training` is an attribute of torch\.nn\.Module, so "
        r"`archcalc build` cannot give it to a submodule — choose another `name`",
    ),
    (
        "reserved-name-in-block",
        "input: [1, 8, 8]\nblocks:\n  b:\n    params: [n]\n    layers: [{relu: {name: $n}}]\n"
        "layers:\n  - b: {n: _modules}\n",
        "7:12",
        r"the name `_modules` is an attribute of torch\.nn\.Module",
    ),
    (
        "self-recursive-block",
        "input: [1, 8, 8]\nblocks:\n  b:\n    layers: [b]\nlayers: [b]\n",
        "4:14",
        r"block `b` uses itself \(b → b\)",
    ),
    (
        "groups-not-dividing",
        "input: [3, 8, 8]\nlayers:\n  - conv2d: {out: 4, kernel: 1, groups: 2}\n",
        "3:5",
        r"expects input channels divisible by groups=2, but gets 3 channels",
    ),
    (
        "huge-number",
        "input: [1, 8, 8]\nlayers:\n  - linear: 99999999999999999999\n",
        None,
        r"expects at most 2147483647",
    ),
    (
        "unknown-top-level-key",
        "input: [1, 28, 28]\nlayer: [relu]\n",
        "2:1",
        r"unknown top-level key `layer` — did you mean `layers`\?",
    ),
]


# Characters a terminal acts on: none may reach it from a spec's text.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize(
    ("text", "position", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_spec_is_one_located_line(
    tmp_path: Path, text: str, position: str | None, pattern: str
) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    before = sorted(p.name for p in tmp_path.iterdir())
    start = time.perf_counter()
    result = run_cli("summary", str(spec), timeout=20)
    elapsed = time.perf_counter() - start
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not _CONTROL.search(result.stderr.rstrip("\n")), ascii(result.stderr)
    assert elapsed < 5, (
        f"{elapsed:.1f} s (docs/limits.md: under 1 s; generous for a loaded CI machine)"
    )
    line = lines[0]
    prefix = f"{spec}:{position}: " if position else f"{spec}:"
    assert line.startswith(prefix), line
    assert re.search(pattern, line), line
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


@pytest.mark.parametrize(
    ("name", "text", "pattern"),
    [
        (
            "oversized",
            "input: [1, 8, 8]\nlayers:\n" + "  - relu\n" * 120_000,
            r": spec is 1\.0 MiB; archcalc reads specs up to 1 MiB",
        ),
        (
            "too-many-values",
            "input: [1, 8, 8]\nlayers: [" + "relu," * 160_000 + "]\n",
            r":2:\d+: the spec holds more than 150,000 YAML values",
        ),
        (
            "too-many-layers",
            "input: [1, 8, 8]\nlayers:\n" + "  - relu\n" * 100_000,
            # Refused before any entry is read: the list alone is past the cap.
            r":5003:5: layers\[5000\]: the spec expands to more than 5,000 layers, "
            r"archcalc's limit — this list holds 100,000 entries, each at least one layer",
        ),
    ],
    ids=["oversized", "too-many-values", "too-many-layers"],  # the texts would make huge ids
)
def test_huge_specs_are_refused_early(tmp_path: Path, name: str, text: str, pattern: str) -> None:
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(text)
    result = run_cli("check", str(spec), timeout=30)
    assert result.returncode == 2
    assert re.fullmatch(re.escape(str(spec)) + pattern + r".*\n", result.stderr), result.stderr


def test_missing_file(tmp_path: Path) -> None:
    result = run_cli("summary", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert (
        result.stderr.strip() == f"{tmp_path / 'nope.yaml'}: no such file — check the path; "
        "examples/ holds ready specs"
    )


def test_binary_file(tmp_path: Path) -> None:
    spec = tmp_path / "model.pt"
    spec.write_bytes(b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19.\xff\xfe")
    result = run_cli("summary", str(spec))
    assert result.returncode == 2
    assert re.fullmatch(
        rf"{re.escape(str(spec))}: is not UTF-8 text \(byte \d+\) — is this a "
        r"YAML spec\?\n",
        result.stderr,
    )


def test_check_reports_every_bad_file_and_exits_2(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("input: [1, 28, 28]\nlayers: [flatten, {linear: 10}]\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [1, 28, 28]\nlayers: [{linear: 10}]\n")
    result = run_cli("check", str(good), str(bad))
    assert result.returncode == 2
    assert f"{good}: ok (2 layers, 7,850 params, output 10)" in result.stdout
    assert result.stderr.startswith(
        f"{bad}:2:11: layers[0] (linear linear_0): expects a flat input"
    )
    assert run_cli("check", str(good)).returncode == 0


@pytest.mark.parametrize("kind", ["device", "fifo", "folder"])
def test_only_regular_files_are_read(tmp_path: Path, kind: str) -> None:
    """/dev/zero never ends and a FIFO without a writer never opens: neither may hang."""
    if kind == "device":
        path, pattern = Path("/dev/zero"), r"is a device, not a spec file"
        if not path.exists():
            pytest.skip("no /dev/zero here")
    elif kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs here")
        path, pattern = tmp_path / "spec.yaml", r"is a FIFO \(named pipe\), not a spec file"
        os.mkfifo(path)
    else:
        path, pattern = tmp_path, r"is a folder, not a spec file"
    start = time.perf_counter()
    result = run_cli("check", str(path), timeout=20)
    assert result.returncode == 2
    assert re.fullmatch(re.escape(str(path)) + ": " + pattern + r".*\n", result.stderr)
    assert time.perf_counter() - start < 5


def test_a_file_that_grows_is_read_to_the_limit_only(tmp_path: Path) -> None:
    """The size is what was read, not what stat said: a file past 1 MiB is refused."""
    spec = tmp_path / "big.yaml"
    spec.write_text("input: [1, 8, 8]\nlayers:\n" + "  - relu  # padding\n" * 60_000)
    result = run_cli("check", str(spec), timeout=20)
    assert result.returncode == 2
    assert re.fullmatch(
        re.escape(str(spec)) + r": spec is 1\.1 MiB; archcalc reads specs up to 1 MiB — .*\n",
        result.stderr,
    )


def test_every_consumer_survives_the_deepest_accepted_spec(tmp_path: Path) -> None:
    """MAX_NESTING levels are safe for every command, under Python's default recursion limit."""
    spec = tmp_path / "deep.yaml"
    spec.write_text(_nested(MAX_NESTING))
    for args in (
        ["check", str(spec)],
        ["summary", str(spec)],
        ["summary", "--json", str(spec)],
        ["summary", "--markdown", "--depth", "3", str(spec)],
        ["lint", str(spec)],
        ["report", "-o", str(tmp_path / "deep.html"), str(spec)],
        ["compare", str(spec), str(spec)],
    ):
        result = run_cli(*args, timeout=60)
        assert result.returncode in (0, 1), (args, result.stderr[-500:])
        assert "Traceback" not in result.stderr
    pytest.importorskip("torch")
    torch_check = (
        "import copy, io, pickle, sys, torch, archcalc\n"
        "from archcalc.bridge.summarize import summarize\n"
        f"spec = archcalc.load({str(spec)!r})\n"
        "model = archcalc.build(spec)\n"
        "model(torch.randn(2, *spec.input_shape)).sum().backward()\n"
        "model.load_state_dict(model.state_dict())\n"
        "copy.deepcopy(model); pickle.loads(pickle.dumps(model)); repr(model)\n"
        "buf = io.BytesIO(); torch.save(model, buf); buf.seek(0)\n"
        "torch.load(buf, weights_only=False)\n"
        "summarize(model, spec.input_shape)\n"
        "print(sys.getrecursionlimit())\n"
    )
    result = run_cli_python(torch_check)
    assert result.returncode == 0, result.stderr[-1000:]
    assert result.stdout.strip() == "1000"


def run_cli_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (default recursion limit, no pytest frames)."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
