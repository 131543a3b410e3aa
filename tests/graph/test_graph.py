"""archcalc.graph: every spec lowers to one dataflow graph; named tensors and merges."""

from __future__ import annotations

import pytest

from archcalc import ArchcalcError, analyze, load, loads
from archcalc.design.anatomy import anatomy
from archcalc.design.lint import lint_spec
from archcalc.graph import lower
from tests.helpers import EXAMPLES

SE = """\
name: se
input: [16, 8, 8]
blocks:
  se:
    params: [c, squeeze]
    layers:
      - global_avg_pool: {flatten: false}
      - conv2d: {out: $squeeze, kernel: 1}
      - relu
      - conv2d: {out: $c, kernel: 1}
      - sigmoid: {name: gate}
      - mul: [input, gate]
layers:
  - conv2d: {name: stem, out: 16, kernel: 3, padding: 1}
  - se: {name: se1, c: 16, squeeze: 4}
"""

UNET = """\
name: unet-ish
input: [3, 16, 16]
layers:
  - conv2d: {name: enc1, out: 8, kernel: 3, padding: 1}
  - maxpool2d: {name: down, kernel: 2}
  - conv2d: {name: enc2, out: 16, kernel: 3, padding: 1}
  - maxpool2d: {name: pooled, from: enc1, kernel: 2}
  - cat: {name: skip, from: [enc2, pooled]}
  - conv2d: {name: dec, out: 8, kernel: 1}
"""


def shapes(text: str) -> dict[str, tuple[int, ...]]:
    return {r.path: r.output_shape for r in analyze(loads(text)).rows}


# Lowering ------------------------------------------------------------------------------


def test_a_list_chains_each_layer_to_the_one_before() -> None:
    g = lower(loads("input: [8]\nlayers: [{linear: 4}, relu, {linear: 2}]"))
    assert [(n.op, n.inputs) for n in g.nodes] == [
        ("input", ()),
        ("linear", (0,)),
        ("relu", (1,)),
        ("linear", (2,)),
    ]
    assert g.outputs == (3,) and g.items == (1, 2, 3) and g.scopes == {}


def test_a_residual_ends_in_an_add_of_its_branches() -> None:
    g = lower(
        loads(
            "input: [4, 8, 8]\nlayers:\n  - residual:\n      name: r\n"
            "      layers: [{conv2d: {out: 4, kernel: 3, padding: 1}}, relu]\n"
            "      shortcut: [{conv2d: {name: proj, out: 4, kernel: 1}}]\n"
            "  - residual: {layers: [relu]}\n"
        )
    )
    add = g.nodes[g.scopes["r"].output]
    assert add.op == "add" and not add.written
    main, short = (g.nodes[i] for i in add.inputs)
    assert main.path == "r.relu_1" and short.path == "r.shortcut.proj"
    assert g.scopes["r"].role == "residual" and g.scopes["r.shortcut"].role == "shortcut"
    assert g.scopes["r"].items == (1, 2, "r.shortcut")
    identity = g.nodes[g.outputs[0]]
    assert identity.op == "add" and identity.inputs == (add.id + 1, add.id)  # relu, and the input


def test_a_concat_ends_in_a_cat_of_its_branches_and_scopes_nest() -> None:
    g = lower(load(EXAMPLES / "googlenet.yaml"))
    roles = {s.role for s in g.scopes.values()}
    assert {"block", "concat", "branch"} <= roles
    cats = [n for n in g.nodes if n.op == "cat"]
    assert cats and all(len(n.inputs) == 4 and not n.written for n in cats)
    for node in g.nodes:  # topological: every input comes earlier
        assert all(i < node.id for i in node.inputs)
        for path in node.scope:
            assert path in g.scopes


@pytest.mark.parametrize(
    "name", ["mnist_cnn", "lenet5", "alexnet", "vgg16", "resnet18", "googlenet"]
)
def test_leaf_rows_point_at_their_nodes(name: str) -> None:
    a = analyze(load(EXAMPLES / f"{name}.yaml"))
    assert a.graph is not None
    for row in a.rows:
        assert row.node is not None and a.graph.nodes[row.node].path == row.path


# Structure comes from the graph, not from names -----------------------------------------

RENAMED = """\
input: [4, 8, 8]
blocks:
  {block}:
    layers:
      - conv2d: {{out: 4, kernel: 3, padding: 1}}
      - tanh
      - tanh
      - conv2d: {{out: 4, kernel: 3, padding: 1}}
layers:
  - conv2d: {{out: 4, kernel: 3, padding: 1}}
  - tanh
  - tanh
  - residual:
      layers:
        - conv2d: {{out: 4, kernel: 3, padding: 1}}
        - {block}
  - concat:
      - [{block}]
      - [{{conv2d: {{out: 4, kernel: 1}}}}]
  - tanh
  - tanh
"""


@pytest.mark.parametrize("block", ["shortcut", "branch", "copy"])
def test_a_block_named_like_a_composite_changes_no_depth_and_no_finding(block: str) -> None:
    plain = loads(RENAMED.format(block="stage"))
    named = loads(RENAMED.format(block=block))
    # 1 + (1 + 2) + 2 weight layers on the longest path
    assert anatomy(analyze(named)).depth == anatomy(analyze(plain)).depth == 6

    def findings(spec: object) -> list[tuple[str, str, str]]:
        report = lint_spec(spec)  # type: ignore[arg-type]
        return [
            (f.code, f.path.replace(block, "stage"), f.message.replace(block, "stage"))
            for f in report.findings
        ]

    assert findings(named) == findings(plain)


# Named tensors, merges, outputs ------------------------------------------------------------


def test_se_gate_multiplies_the_block_input_by_a_broadcast_gate() -> None:
    a = analyze(loads(SE))
    row = a.rows[-1]
    assert (row.path, row.kind, row.operation) == ("se1.mul_5", "mul", "mul of input, gate")
    assert row.input_shape == (16, 8, 8) and row.output_shape == (16, 8, 8)
    assert (row.params, row.macs, row.activation_bytes) == (0, 0, 16 * 8 * 8 * 4)
    assert a.output_shape == (16, 8, 8)
    assert a.totals.params == 16 * 16 * 9 + 16 + 16 * 4 + 4 + 4 * 16 + 16
    assert a.to_dict()["layers"][-1]["kind"] == "mul"
    (block,) = [r for r in a.tree if r.path == "se1"]
    assert block.children[-1] is row and block.output_shape == (16, 8, 8)


def test_from_and_cat_join_two_paths_at_one_scale() -> None:
    got = shapes(UNET)
    assert got["pooled"] == (8, 8, 8) and got["skip"] == (24, 8, 8) and got["dec"] == (8, 8, 8)
    a = analyze(loads(UNET))
    skip = next(r for r in a.rows if r.path == "skip")
    assert skip.operation == "cat of enc2, pooled"
    assert anatomy(a).depth == 3  # enc1, enc2, dec


def test_merge_fields_are_the_union_of_their_inputs() -> None:
    a = analyze(loads(UNET))
    by = {r.path: r for r in a.rows}
    enc2, pooled, skip = by["enc2"], by["pooled"], by["skip"]
    assert skip.receptive_field is not None and enc2.receptive_field is not None
    assert skip.receptive_field.size == enc2.receptive_field.size  # the larger contains the other
    assert pooled.receptive_field is not None
    assert pooled.receptive_field.size[0] < skip.receptive_field.size[0]


def test_add_and_short_forms() -> None:
    text = (
        "input: [4, 6, 6]\nlayers:\n  - conv2d: {name: a, out: 4, kernel: 3, padding: 1}\n"
        "  - conv2d: {name: b, out: 4, kernel: 1}\n  - add: [input, a, b]\n"
        "  - add: {name: twice, from: [add_2, add_2]}\n"
    )
    a = analyze(loads(text))
    assert [r.path for r in a.rows] == ["a", "b", "add_2", "twice"]
    assert a.rows[2].operation == "add of input, a, b" and a.output_shape == (4, 6, 6)


def test_names_inside_repeat_mean_the_current_copy() -> None:
    text = (
        "input: [4, 6, 6]\nlayers:\n  - repeat:\n      times: 3\n      layers:\n"
        "        - conv2d: {name: c, out: 4, kernel: 3, padding: 1}\n"
        "        - relu\n        - add: [c, relu_1]\n"
    )
    g = lower(loads(text))
    adds = [n for n in g.nodes if n.op == "add"]
    assert [tuple(g.nodes[i].path for i in n.inputs) for n in adds] == [
        (f"repeat_0.{k}.c", f"repeat_0.{k}.relu_1") for k in range(3)
    ]


def test_a_residual_sees_the_enclosing_list_and_input_is_the_spec_input() -> None:
    text = (
        "input: [4, 6, 6]\nlayers:\n  - conv2d: {name: stem, out: 4, kernel: 1}\n"
        "  - residual:\n      layers:\n        - conv2d: {out: 4, kernel: 1}\n"
        "        - add: [stem, input]\n"
    )
    g = lower(loads(text))
    add = next(n for n in g.nodes if n.op == "add" and n.written)
    assert add.inputs == (0 + 1, 0)


def test_outputs_lists_what_the_network_returns() -> None:
    text = UNET + "outputs: [dec, enc2]\n"
    g = lower(loads(text))
    assert [g.nodes[i].path for i in g.outputs] == ["dec", "enc2"]
    assert analyze(loads(text)).output_shape == (8, 8, 8)


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        (
            "input: [4]\nlayers:\n  - linear: {name: features, out: 4}\n"
            "  - add: [input, featurs]\n",
            "no tensor named `featurs` is visible here",
            "did you mean `features`?",
        ),
        (
            "input: [4]\nlayers:\n  - linear: {name: fc, out: 4}\n  - relu: {from: zzz}\n",
            "no tensor named `zzz` is visible here",
            "visible here: input, fc",
        ),
        (
            "input: [4]\nlayers:\n  - linear: {name: fc, out: 4}\n"
            "  - residual: {layers: [{linear: {name: fc, out: 4}}, {add: [fc, input]}]}\n",
            "the name `fc` is ambiguous here",
            "rename one of them",
        ),
        (
            "input: [4]\nlayers:\n  - linear: 4\n  - add: [input, later]\n"
            "  - linear: {name: later, out: 4}\n",
            "no tensor named `later` is visible here",
            None,
        ),
        (
            "input: [4]\nlayers: [{linear: 4}]\noutputs: [nope]\n",
            "no tensor named `nope` is visible here",
            None,
        ),
    ],
)
def test_unknown_or_ambiguous_names_are_located_when_the_spec_loads(
    text: str, message: str, hint: str | None
) -> None:
    with pytest.raises(ArchcalcError) as info:
        loads(text, filename="t.yaml")
    err = info.value
    assert message in err.message and err.file == "t.yaml" and err.line is not None
    if hint is not None:
        assert err.hint is not None and hint in err.hint


def test_a_block_body_sees_only_its_own_names() -> None:
    text = (
        "input: [4]\nblocks:\n  b:\n    layers: [{add: [input, top]}]\n"
        "layers:\n  - linear: {name: top, out: 4}\n  - b\n"
    )
    with pytest.raises(ArchcalcError, match="no tensor named `top`"):
        loads(text)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ("[{conv2d: {out: 3, kernel: 1}}, {add: [input, conv2d_0]}]", "add inputs must have the"),
        (
            "[{conv2d: {out: 4, kernel: 3}}, {cat: [input, conv2d_0]}]",
            "cat inputs must agree in every size but channels",
        ),
        ("[flatten, {mul: [input, flatten_0]}]", "mul inputs must have the same rank"),
        (
            "[{conv2d: {out: 3, kernel: 3}}, {mul: [input, conv2d_0]}]",
            "mul inputs must broadcast",
        ),
        (
            # Each input broadcasts with the first (4×1×1), but not with the product so far.
            "[{global_avg_pool: {name: g, flatten: false}},"
            " {conv2d: {name: s, from: input, out: 4, kernel: 1, stride: 2}},"
            " {mul: [g, input, s]}]",
            r"mul inputs must broadcast .*but g, input give 4×6×6 and s gives 4×3×3",
        ),
    ],
)
def test_merge_shape_mistakes_are_located(layers: str, message: str) -> None:
    spec = loads(f"input: [4, 6, 6]\nlayers: {layers}\n", filename="t.yaml")
    with pytest.raises(ArchcalcError, match=message) as info:
        analyze(spec)
    assert info.value.line == 2 and info.value.where is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("input: [4]\nlayers: [{add: [input]}]\n", "add expects a list of at least two"),
        ("input: [4]\nlayers: [{cat: {from: [input, 3.5]}}]\n", "expects the name of a tensor"),
        ("input: [4]\nlayers: [{relu: {from: [a]}}]\n", "expects the name of a tensor"),
        ("input: [4]\nlayers: [relu]\noutputs: relu_0\n", "`outputs` expects a list"),
        ("input: [4]\nblocks:\n  mul: {layers: [relu]}\nlayers: [relu]\n", "already a layer kind"),
    ],
)
def test_malformed_graph_syntax_is_refused(text: str, message: str) -> None:
    with pytest.raises(ArchcalcError, match=message):
        loads(text)


def test_a_merge_of_many_inputs_names_a_few_and_stays_linear() -> None:
    names = ", ".join(["input"] * 50_000)
    a = analyze(loads(f"input: [4, 2, 2]\nlayers: [{{add: [{names}]}}, {{cat: [{names}]}}]\n"))
    add, cat = a.rows
    assert add.operation == "add of input, input, input, input, input, … 49,994 more …, input"
    assert cat.output_shape == (200_000, 2, 2)


@pytest.mark.parametrize(
    ("layers", "flagged"),
    [
        # a written add ends the chains reaching it, and the branch beside its skip starts afresh
        ("[tanh, tanh, {tanh: {name: a}}, tanh, tanh, {add: [a, tanh_4]}, tanh]", False),
        ("[tanh, tanh, {tanh: {name: a}}, tanh, {add: [a, tanh_3]}, tanh, tanh]", False),
        # cat and mul continue the longest chain
        (
            "[tanh, tanh, {tanh: {name: a}}, {identity: {from: input}}, "
            "{cat: [a, identity_3]}, tanh]",
            True,
        ),
        ("[tanh, tanh, {tanh: {name: a}}, {sigmoid: {from: a}}, {mul: [a, sigmoid_3]}]", True),
        # a branch that starts afresh from a tensor read by no add continues the chain
        ("[tanh, tanh, {tanh: {name: a}}, {linear: {from: a, out: 4}}, tanh]", True),
    ],
)
def test_saturating_chains_follow_the_graph(layers: str, flagged: bool) -> None:
    report = lint_spec(loads(f"input: [4]\nlayers: {layers}\n"))
    assert ("AC105" in {f.code for f in report.findings}) == flagged


def test_a_global_gate_lets_the_network_see_the_whole_input() -> None:
    a = analyze(loads(SE))
    gated = a.rows[-1]
    assert gated.receptive_field is not None and gated.receptive_field.whole
    anat = anatomy(a)
    assert anat.last_spatial is not None and anat.last_spatial.path == "se1"
    assert anat.coverage is not None and anat.coverage.axes == (1.0, 1.0)
    assert "AC103" not in {f.code for f in lint_spec(loads(SE)).findings}


def test_a_bad_name_is_located_where_it_is_written() -> None:
    text = (
        "input: [4]\nlayers:\n  - linear: {name: enc, out: 4}\n  - relu: {from: ecn}\n"
        "  - add: [enc, nope]\noutputs: [enc, gone]\n"
    )
    for bad, (line, col) in (("ecn", (4, 18)), ("nope", (5, 16)), ("gone", (6, 16))):
        fixed = {"ecn": "enc", "nope": "enc", "gone": "enc"}
        others = text
        for other in fixed:
            if other != bad:
                others = others.replace(other, fixed[other])
        with pytest.raises(ArchcalcError, match=f"no tensor named `{bad}`") as info:
            loads(others)
        assert (info.value.line, info.value.col) == (line, col)
