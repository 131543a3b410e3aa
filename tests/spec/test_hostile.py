"""Hostile specs end in one located ArchcalcError, quickly, at load time.

The end-to-end cases (a fresh ``python -m archcalc`` each) are in
tests/cli/test_bad_input.py; these pin down the mechanisms one by one.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
import yaml

import archcalc
from archcalc.errors import SUGGEST_MAX_CHARS, ArchcalcError, printable, suggest
from archcalc.spec import tree
from archcalc.spec.parse import MAX_ARG_VALUES, MAX_NESTING, MAX_PATH_CHARS
from archcalc.spec.reserved import TORCH_RESERVED_NAMES, is_reserved

# --- messages are one line of inert text


def test_every_part_of_a_message_is_escaped() -> None:
    err = ArchcalcError(
        "kind `\x1b[2J` and \u202eevil",
        file="a\x1b]0;t\x07.yaml",
        line=3,
        col=5,
        where="layers[0]\u2066",
        hint="try\x9b1m\nthis\r\tnow\x7f",
    )
    text = str(err)
    assert text == (
        "a\\x1b]0;t\\x07.yaml:3:5: layers[0]\\u2066: kind `\\x1b[2J` and \\u202eevil — "
        "try\\x9b1m\\nthis\\r\\tnow\\x7f"
    )
    assert text.isprintable()


@pytest.mark.parametrize(
    "char", [chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F)]]
)
def test_printable_escapes_each_control_character(char: str) -> None:
    assert printable(f"a{char}b").isprintable()
    assert printable("plain ×, é, 中 and — stay") == "plain ×, é, 中 and — stay"


def test_printable_fast_path_never_skips_a_character_it_escapes() -> None:
    # printable() returns a string unchanged when str.isprintable() holds; that is only
    # right while every escaped character is one isprintable() rejects.
    from archcalc.errors import _ESCAPES

    assert [hex(c) for c in _ESCAPES if chr(c).isprintable()] == []


# --- suggestions: good for typos, linear for hostile words


@pytest.mark.parametrize(
    ("word", "choices", "expected"),
    [
        ("kernal", ["kernel", "stride", "padding"], "kernel"),
        ("conv2", ["conv2d", "linear", "relu"], "conv2d"),
        ("layer", ["name", "input", "layers", "blocks"], "layers"),
        ("xyzzy", ["conv2d", "linear"], None),
    ],
)
def test_suggest_finds_typos(word: str, choices: list[str], expected: str | None) -> None:
    assert suggest(word, choices) == (f"did you mean `{expected}`?" if expected else None)


def test_suggest_ignores_words_longer_than_anyone_types() -> None:
    rng = random.Random(0)
    word = "".join(rng.choice("一二三四五六七八九十") for _ in range(100_000))
    shuffled = "".join(rng.sample(word, len(word)))
    start = time.perf_counter()
    assert suggest(word, [shuffled]) is None  # difflib alone: minutes
    assert suggest("kernal", [shuffled, "kernel"]) == "did you mean `kernel`?"
    assert suggest("k" * (SUGGEST_MAX_CHARS + 1), ["k" * SUGGEST_MAX_CHARS]) is None
    many = [f"block_{i}" for i in range(50_000)]
    assert suggest("block_1234x", many) is not None
    assert time.perf_counter() - start < 5


# --- bytes and nesting pyyaml would refuse without a line


def test_control_characters_are_located() -> None:
    with pytest.raises(ArchcalcError, match=r"^n\.yaml:3:7: the control character U\+0000 "):
        archcalc.loads("input: [1, 8, 8]\nlayers:\n  - re\x00lu\n", filename="n.yaml")
    # The column counts characters, not bytes, after non-ASCII text.
    with pytest.raises(ArchcalcError, match=r"^n\.yaml:1:10: the control character U\+001B "):
        archcalc.loads("name: é中é\x1b[2J\ninput: [1, 8, 8]\nlayers: [relu]\n", filename="n.yaml")
    spec = archcalc.loads("name: 'tab\there'\ninput: [1, 8, 8]\nlayers: [relu]\n")
    assert spec.name == "tab\there"  # tab and line breaks are YAML text


@pytest.mark.parametrize("loader", ["C", "pure-Python"])
@pytest.mark.parametrize("opener", ["[", "{a: ", "- "])
def test_deep_nesting_is_refused_by_archcalc_whatever_the_reader(
    monkeypatch: pytest.MonkeyPatch, loader: str, opener: str
) -> None:
    if loader == "pure-Python":
        monkeypatch.setattr(tree, "_Loader", yaml.SafeLoader)
    elif not yaml.__with_libyaml__:
        pytest.skip("PyYAML built without libyaml")
    body = opener * 5000 if opener != "- " else "\n" + opener * 5000 + "relu"
    with pytest.raises(
        ArchcalcError, match=r"^d\.yaml:\d+:\d+: YAML nesting is deeper than archcalc reads"
    ):
        archcalc.loads("input: [1, 8, 8]\nlayers: " + body + "\n", filename="d.yaml")


def test_brackets_in_quotes_and_comments_do_not_count() -> None:
    deep = "[" * 300
    text = f"name: '{deep}'\ndescription: \"{deep}\"\ninput: [1, 8, 8]  # {deep}\nlayers: [relu\n"
    with pytest.raises(ArchcalcError, match=r"YAML syntax error"):
        archcalc.loads(text)


def test_long_keys_and_names_are_refused() -> None:
    with pytest.raises(
        ArchcalcError, match=r"is 65 characters long; archcalc reads names up to 64"
    ):
        archcalc.loads("input: [1, 8, 8]\nlayers:\n  - conv2d: {" + "k" * 65 + ": 3}\n")
    with pytest.raises(ArchcalcError, match=r"is 65 characters long"):
        archcalc.from_dict({"input": [1, 8, 8], "layers": [{"relu": {"x" * 65: 1}}]})
    with pytest.raises(ArchcalcError, match=r"identifier .* of at most 64 characters"):
        archcalc.loads("input: [1, 8, 8]\nlayers:\n  - relu: {name: " + "n" * 65 + "}\n")
    assert archcalc.loads("input: [1, 8, 8]\nlayers:\n  - relu: {name: " + "n" * 64 + "}\n")


# --- block calls: a nesting budget, and substitution linear in what is read


def _chain(n: int) -> str:
    text = "input: [1, 8, 8]\nblocks:\n  b0:\n    layers: [relu]\n"
    text += "".join(f"  b{i}:\n    layers: [b{i - 1}]\n" for i in range(1, n))
    return text + f"layers: [b{n - 1}]\n"


def test_block_chains_nest_up_to_the_budget() -> None:
    spec = archcalc.loads(_chain(MAX_NESTING))
    assert spec.leaves()[0].path.count(".") == MAX_NESTING
    with pytest.raises(
        ArchcalcError,
        match=rf"^c\.yaml:\d+:\d+: layers\[0\]\.b{MAX_NESTING}\[0\].*: composites and block calls "
        rf"nest deeper than {MAX_NESTING} levels \(b{MAX_NESTING} → ",
    ):
        archcalc.loads(_chain(MAX_NESTING + 1), filename="c.yaml")
    with pytest.raises(ArchcalcError, match=r"nest deeper than"):
        archcalc.loads(_chain(5000))  # no RecursionError, however long the chain


def test_composites_count_against_the_budget() -> None:
    tail = "{residual: {layers: [relu]}}"
    text = "input: [1, 8, 8]\nblocks:\n"
    # Literal YAML stops near 66 composites; a block per level goes past it.
    text += "  b0:\n    layers: [" + tail + "]\n"
    text += "".join(
        f"  b{i}:\n    layers: [{{residual: {{name: r, layers: [b{i - 1}]}}}}]\n"
        for i in range(1, 40)
    )
    with pytest.raises(
        ArchcalcError, match=rf"nest deeper than {MAX_NESTING} levels \(b39 → residual r"
    ):
        archcalc.loads(text + "layers: [b39]\n")


def test_paths_and_positions_are_bounded() -> None:
    """Each layer keeps its path and position: their caps bound memory at any nesting."""
    long_name = "n" * 64
    text = "input: [1, 8, 8]\nblocks:\n  b0:\n    layers: [relu]\n"
    text += "".join(
        f"  b{i}:\n    layers: [{{b{i - 1}: {{name: {long_name}}}}}]\n" for i in range(1, 8)
    )
    with pytest.raises(
        ArchcalcError,
        match=rf"the layer path `n{{60}}…` is 5\d\d characters "
        rf"long; archcalc names layers with up to {MAX_PATH_CHARS}",
    ):
        archcalc.loads(text + f"layers: [{{b7: {{name: {long_name}}}}}]\n")
    block = "b" * 60
    text = f"input: [1, 8, 8]\nblocks:\n  {block}00:\n    layers: [relu]\n"
    text += "".join(
        f"  {block}{i:02d}:\n    layers: [{{{block}{i - 1:02d}: {{name: a}}}}]\n"
        for i in range(1, 40)
    )
    with pytest.raises(
        ArchcalcError, match=r"the position in the spec `layers\[0\]\.b{50}…` is 2,"
    ):
        archcalc.loads(text + f"layers: [{block}39]\n")


def test_parameters_are_resolved_where_they_are_read() -> None:
    spec = archcalc.loads(
        "input: [3, 8, 8]\n"
        "blocks:\n"
        "  unit:\n    params: {c: null, act: relu}\n"
        "    layers: [{conv2d: {out: $c, kernel: [1, $c]}}, $act]\n"
        "  stage:\n    params: [c, body]\n"
        "    layers: [{unit: {c: $c, act: tanh}}, {repeat: {times: 2, layers: $body}}]\n"
        "layers:\n"
        "  - stage: {c: 2, body: [{unit: {c: 3}}]}\n"
    )
    leaves = spec.leaves()
    assert [(leaf.kind, leaf.path) for leaf in leaves] == [
        ("conv2d", "stage_0.unit_0.conv2d_0"),
        ("tanh", "stage_0.unit_0.tanh_1"),
        ("conv2d", "stage_0.repeat_1.0.unit_0.conv2d_0"),
        ("relu", "stage_0.repeat_1.0.unit_0.relu_1"),
        ("conv2d", "stage_0.repeat_1.1.unit_0.conv2d_0"),
        ("relu", "stage_0.repeat_1.1.unit_0.relu_1"),
    ]
    assert leaves[0].args.out == 2 and leaves[0].args.kernel == (1, 2)
    assert leaves[2].args.out == 3 and leaves[2].args.kernel == (1, 3)


def test_a_substituted_value_is_blamed_where_it_was_written() -> None:
    with pytest.raises(ArchcalcError, match=r"^s\.yaml:5:21: .*`out` expects a positive integer"):
        archcalc.loads(
            "input: [1, 8, 8]\nblocks:\n  b: {params: [c], layers: [flatten, {linear: $c}]}\n"
            "layers:\n  - b: {name: x, c: -1}\n",
            filename="s.yaml",
        )


def test_unused_arguments_cost_nothing_per_call() -> None:
    big = "[" + ", ".join(["$c"] * 20_000) + "]"
    text = (
        "input: [1, 8, 8]\nblocks:\n  b0:\n    params: [c]\n    layers: [relu]\n"
        f"  b1:\n    params: [c]\n    layers: [{{b0: {{c: {big}}}}}]\n"
        "layers: [{repeat: {times: 5000, layers: [{b1: {c: 1}}]}}]\n"
    )
    start = time.perf_counter()
    assert len(archcalc.loads(text).leaves()) == 5000
    assert time.perf_counter() - start < 5  # copying the body per call: minutes


def test_doubling_arguments_are_bounded() -> None:
    text = "input: [1, 8, 8]\nblocks:\n  b0:\n    params: [c]\n    layers: [{linear: {out: $c}}]\n"
    text += "".join(
        f"  b{i}:\n    params: [c]\n    layers: [{{b{i - 1}: {{c: [$c, $c]}}}}]\n"
        for i in range(1, 40)
    )
    with pytest.raises(ArchcalcError, match=rf"past {MAX_ARG_VALUES:,} values or 200 levels"):
        archcalc.loads(text + "layers: [flatten, {b39: {c: 1}}]\n")


# --- names build cannot use


@pytest.mark.parametrize(
    "name",
    [
        "training",
        "forward",
        "cuda",
        "to",
        "parameters",
        "eval",
        "state_dict",
        "_modules",
        "T_destination",
        "dump_patches",
        "shortcut",
        "main_names",
        "__class__",
        "__x__",
    ],
)
def test_torch_attribute_names_are_refused(name: str) -> None:
    assert is_reserved(name)
    with pytest.raises(
        ArchcalcError,
        match=rf"^r\.yaml:3:18: layers\[0\]: the name `{name}` is an attribute of torch\.nn",
    ):
        archcalc.loads(
            f"input: [1, 8, 8]\nlayers:\n  - relu: {{name: {name}}}\n", filename="r.yaml"
        )


def test_ordinary_names_are_not_reserved() -> None:
    for name in ("conv1", "fc", "stage2", "block_0", "features", "classifier", "head", "trunk"):
        assert not is_reserved(name)
    assert all(n.isidentifier() for n in TORCH_RESERVED_NAMES)


# --- only regular files, and at most MAX_SPEC_BYTES of them


def test_non_regular_files_are_refused_without_reading(tmp_path: Path) -> None:
    with pytest.raises(ArchcalcError, match=r"is a folder, not a spec file"):
        archcalc.load(tmp_path)
    if os.path.exists("/dev/zero"):
        with pytest.raises(ArchcalcError, match=r"^/dev/zero: is a device, not a spec file"):
            archcalc.load("/dev/zero")
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "spec.yaml"
        os.mkfifo(fifo)
        with pytest.raises(ArchcalcError, match=r"is a FIFO \(named pipe\), not a spec file"):
            archcalc.load(fifo)  # no writer: a plain open() would wait forever
