"""Reading specs: every form docs/spec.md allows, names and paths, locations."""

from __future__ import annotations

import pytest

import archcalc
from archcalc.errors import ArchcalcError
from archcalc.kinds.conv import Conv2dArgs
from archcalc.spec.model import Concat, Repeat, Residual, Sequence


def test_shorthands_and_bare_kinds() -> None:
    spec = archcalc.loads(
        "input: [3, 32, 32]\nlayers:\n  - maxpool2d: 2\n  - maxpool2d: [2, 4]\n  - relu\n"
        "  - flatten\n  - dropout: 0.25\n  - linear: 10\n  - leaky_relu: 0.2\n"
    )
    kinds = [(leaf.kind, leaf.args) for leaf in spec.leaves()]
    assert kinds[0][1].kernel == (2, 2) and kinds[0][1].stride == (2, 2)
    assert kinds[1][1].kernel == (2, 4) and kinds[1][1].stride == (2, 4)
    assert kinds[2] == ("relu", None)
    assert kinds[4][1].p == 0.25
    assert kinds[5][1].out == 10
    assert kinds[6][1].negative_slope == 0.2


def test_every_argument_is_a_pair_from_the_start() -> None:
    spec = archcalc.loads(
        "input: [3, 32, 32]\nlayers:\n"
        "  - conv2d: {out: 8, kernel: [3, 5], stride: 2, padding: [1, 2], dilation: [1, 2],"
        " groups: 1, bias: false}\n"
    )
    args = spec.leaves()[0].args
    assert args == Conv2dArgs(
        out=8, kernel=(3, 5), stride=(2, 2), padding=(1, 2), dilation=(1, 2), groups=1, bias=False
    )


def test_names_and_paths() -> None:
    spec = archcalc.loads(
        "input: [3, 32, 32]\n"
        "blocks:\n"
        "  stage:\n"
        "    params: {c: null, n: 2}\n"
        "    layers:\n"
        "      - repeat: {name: convs, times: $n, layers: [{conv2d: {out: $c, kernel: 3,"
        " padding: 1}}, relu]}\n"
        "      - maxpool2d: 2\n"
        "layers:\n"
        "  - stage: {name: stage1, c: 8}\n"
        "  - stage: {c: 16, n: 1}\n"
        "  - residual: {layers: [relu], shortcut: [identity]}\n"
        "  - concat: [[relu], [tanh]]\n"
    )
    assert [leaf.path for leaf in spec.leaves()] == [
        "stage1.convs.0.conv2d_0",
        "stage1.convs.0.relu_1",
        "stage1.convs.1.conv2d_0",
        "stage1.convs.1.relu_1",
        "stage1.maxpool2d_1",
        "stage_1.convs.0.conv2d_0",
        "stage_1.convs.0.relu_1",
        "stage_1.maxpool2d_1",
        "residual_2.relu_0",
        "residual_2.shortcut.identity_0",
        "concat_3.branch1.relu_0",
        "concat_3.branch2.tanh_0",
    ]
    stage1, _stage2, res, cat = spec.layers
    assert isinstance(stage1, Sequence) and stage1.kind == "stage"
    assert isinstance(stage1.children[0], Repeat) and stage1.children[0].times == 2
    assert isinstance(res, Residual) and res.shortcut is not None
    assert isinstance(cat, Concat) and len(cat.branches) == 2
    assert spec.leaves()[0].args.out == 8 and spec.leaves()[5].args.out == 16


def test_every_node_remembers_where_it_was_written() -> None:
    spec = archcalc.loads(
        "input: [1, 28, 28]\nlayers:\n  - relu\n  - linear: {out: 3}\n", filename="net.yaml"
    )
    relu, linear = spec.leaves()
    assert (relu.loc.file, relu.loc.line, relu.loc.col) == ("net.yaml", 3, 5)  # type: ignore[union-attr]
    assert (linear.loc.line, linear.loc.col, linear.where) == (4, 5, "layers[1]")  # type: ignore[union-attr]


def test_dict_specs_and_default_name(tmp_path: object) -> None:
    spec = archcalc.from_dict({"input": [1, 28, 28], "layers": ["flatten", {"linear": 10}]})
    assert spec.name == "spec" and spec.input_shape == (1, 28, 28)
    assert archcalc.analyze(spec).totals.params == 784 * 10 + 10
    with pytest.raises(ArchcalcError, match=r"layers\[1\] \(linear linear_1\): `out` expects"):
        archcalc.from_dict({"input": [1, 28, 28], "layers": ["flatten", {"linear": -1}]})
    with pytest.raises(ArchcalcError, match=r"expects plain data .* but gets object"):
        archcalc.from_dict({"input": [1, 28, 28], "layers": [object()]})


def test_duplicate_names_and_bad_names() -> None:
    with pytest.raises(
        ArchcalcError,
        match=r"the name `a` is used twice in one list \(first at "
        r"line 3\)",
    ):
        archcalc.loads("input: [1, 8, 8]\nlayers:\n  - relu: {name: a}\n  - tanh: {name: a}\n")
    for bad in ("a..b", ".a", "a.", "a.b c"):
        with pytest.raises(ArchcalcError, match=r"`name` expects an identifier"):
            archcalc.loads(f"input: [1, 8, 8]\nlayers:\n  - relu: {{name: '{bad}'}}\n")


def test_a_dotted_name_places_a_layer_in_a_container() -> None:
    spec = archcalc.loads(
        "input: [1, 8, 8]\nlayers:\n  - conv2d: {name: head.conv, out: 2, kernel: 1}\n"
        "  - relu: {name: head.act}\n  - conv2d: {from: head.conv, out: 2, kernel: 1}\n"
    )
    assert [r.path for r in archcalc.analyze(spec).rows] == ["head.conv", "head.act", "conv2d_2"]
    with pytest.raises(ArchcalcError, match=r"`a.b` places a layer inside `a`, which is a layer"):
        archcalc.loads("input: [1, 8, 8]\nlayers:\n  - relu: {name: a}\n  - tanh: {name: a.b}\n")
    with pytest.raises(ArchcalcError, match=r"`a.b` places a layer inside `a`, which is a layer"):
        archcalc.loads("input: [1, 8, 8]\nlayers:\n  - relu: {name: a.b}\n  - tanh: {name: a}\n")


def test_lint_ignore_is_read() -> None:
    spec = archcalc.loads("input: [1, 8, 8]\nlint: {ignore: [ac101, AC105]}\nlayers: [relu]\n")
    assert spec.lint_ignore == frozenset({"AC101", "AC105"})


def test_unknown_block_parameter_in_body() -> None:
    with pytest.raises(
        ArchcalcError, match=r"block `b` has no parameter `x` — its parameters are c"
    ):
        archcalc.loads(
            "input: [1, 8, 8]\nblocks:\n  b: {params: [c], layers: [{linear: $x}]}\n"
            "layers: [{b: {c: 1}}]\n"
        )


def test_same_and_valid_padding() -> None:
    spec = archcalc.loads(
        "input: [1, 9, 9]\nlayers:\n  - conv2d: {out: 1, kernel: 4, padding: same}\n"
        "  - conv2d: {out: 1, kernel: 4, padding: valid}\n"
    )
    a = archcalc.analyze(spec)
    assert [r.output_shape for r in a.rows] == [(1, 9, 9), (1, 6, 6)]
