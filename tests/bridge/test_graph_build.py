"""build() of specs that name tensors: a GraphNet running the graph, equal to the analysis."""

from __future__ import annotations

import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import archcalc
from archcalc.bridge.modules import GraphNet
from tests.graph.test_graph import SE, UNET
from tests.helpers import ROOT


def check_against_analysis(text: str) -> tuple[torch.nn.Module, archcalc.Analysis]:
    spec = archcalc.loads(text)
    a = archcalc.analyze(spec)
    model = archcalc.build(spec)
    assert isinstance(model, GraphNet)
    assert sum(p.numel() for p in model.parameters()) == a.totals.params
    params = dict(model.named_parameters())
    for row in a.rows:
        mine = sum(p.numel() for k, p in params.items() if k.rsplit(".", 1)[0] == row.path)
        assert mine == row.params, row.path
    return model, a


def test_se_gate_builds_and_runs_as_analysed() -> None:
    model, a = check_against_analysis(SE)
    y = model(torch.randn(2, *a.input_shape))
    assert tuple(y.shape) == (2, *a.output_shape)
    assert list(model.state_dict()) == [
        "stem.weight",
        "stem.bias",
        "se1.conv2d_1.weight",
        "se1.conv2d_1.bias",
        "se1.conv2d_3.weight",
        "se1.conv2d_3.bias",
    ]
    # The gate really multiplies: with the gate's last conv zeroed, sigmoid(bias) scales the stem.
    with torch.no_grad():
        conv = model.get_submodule("se1.conv2d_3")
        conv.weight.zero_()
        conv.bias.fill_(0.0)
        x = torch.randn(1, *a.input_shape)
        torch.testing.assert_close(model(x), model.get_submodule("stem")(x) * 0.5)


def test_cat_skip_at_one_scale_builds_and_runs_as_analysed() -> None:
    model, a = check_against_analysis(UNET)
    x = torch.randn(3, *a.input_shape)
    assert tuple(model(x).shape) == (3, *a.output_shape)
    assert model.get_submodule("dec").in_channels == 24


def test_outputs_return_a_tuple_and_every_shape_matches_the_rows() -> None:
    text = UNET + "outputs: [dec, enc2, pooled]\n"
    model, a = check_against_analysis(text)
    shapes = {r.path: r.output_shape for r in a.rows}
    outs = model(torch.randn(1, *a.input_shape))
    assert isinstance(outs, tuple)
    assert [tuple(o.shape[1:]) for o in outs] == [shapes["dec"], shapes["enc2"], shapes["pooled"]]


def test_shorthands_inside_a_graph_spec_keep_their_paths_and_pickle() -> None:
    text = (
        "input: [4, 6, 6]\nlayers:\n  - conv2d: {name: stem, out: 4, kernel: 1}\n"
        "  - residual:\n      name: res\n"
        "      layers: [{conv2d: {out: 4, kernel: 3, padding: 1}}]\n"
        "      shortcut: [{conv2d: {name: proj, out: 4, kernel: 1}}]\n"
        "  - concat: [[relu], [{conv2d: {out: 2, kernel: 1}}]]\n"
        "  - add: {name: last, from: [concat_2, concat_2]}\n"
    )
    model, a = check_against_analysis(text)
    keys = set(model.state_dict())
    assert {
        "res.conv2d_0.weight",
        "res.shortcut.proj.weight",
        "concat_2.branch2.conv2d_0.weight",
    } <= keys
    x = torch.randn(2, 4, 6, 6)
    y = model(x)
    assert tuple(y.shape) == (2, *a.output_shape)
    again = pickle.loads(pickle.dumps(model))
    torch.testing.assert_close(again(x), y)
    # The same graph written without names builds nested Sequentials with the same keys.
    plain = archcalc.build(archcalc.loads(text.rsplit("  - add", 1)[0]))
    assert set(plain.state_dict()) == keys


def test_from_and_outputs_errors_are_located_before_anything_is_built() -> None:
    with pytest.raises(archcalc.ArchcalcError, match="no tensor named `enc3`") as info:
        archcalc.build(archcalc.loads(UNET.replace("from: enc1", "from: enc3"), filename="u.yaml"))
    assert info.value.line == 7 and info.value.file == "u.yaml"
    with pytest.raises(archcalc.ArchcalcError, match="no tensor named `logits`") as info:
        archcalc.loads(UNET + "outputs: [logits]\n", filename="u.yaml")
    assert info.value.line == 10


def test_the_graphs_example_in_the_spec_docs_builds_as_analysed() -> None:
    text = (ROOT / "docs" / "spec.md").read_text()
    start = text.index("name: se-skip")
    example = text[start : text.index("```", start)]
    model, a = check_against_analysis(example)
    logits, enc1 = model(torch.randn(1, *a.input_shape))
    assert tuple(logits.shape[1:]) == a.output_shape == (2, 16, 16)
    assert tuple(enc1.shape[1:]) == (16, 32, 32)


@st.composite
def graph_specs(draw: st.DrawFn) -> str:
    """Random DAGs at one scale: convs reading any earlier tensor, add, mul by a gate, cat."""
    channels = {"input": draw(st.integers(1, 4))}
    lines = []
    for i in range(draw(st.integers(1, 8))):
        name = f"t{i}"
        op = draw(st.sampled_from(["conv", "add", "mul", "cat", "relu"]))
        src = draw(st.sampled_from(sorted(channels)))
        if op == "conv":
            out, k = draw(st.integers(1, 6)), draw(st.sampled_from([1, 3]))
            lines.append(
                f"  - conv2d: {{name: {name}, from: {src}, out: {out}, kernel: {k}, "
                f"padding: {k // 2}}}"
            )
            channels[name] = out
        elif op == "relu":
            lines.append(f"  - relu: {{name: {name}, from: {src}}}")
            channels[name] = channels[src]
        elif op == "cat":
            srcs = draw(st.lists(st.sampled_from(sorted(channels)), min_size=2, max_size=3))
            lines.append(f"  - cat: {{name: {name}, from: [{', '.join(srcs)}]}}")
            channels[name] = sum(channels[s] for s in srcs)
        else:
            same = sorted(n for n, c in channels.items() if c == channels[src])
            if op == "mul":  # a C×1×1 gate of src's channels
                lines.append(
                    f"  - global_avg_pool: {{name: g{i}, from: {src}, flatten: false}}\n"
                    f"  - sigmoid: {{name: s{i}}}"
                )
                other = f"s{i}"
            else:
                other = draw(st.sampled_from(same))
            lines.append(f"  - {op}: {{name: {name}, from: [{src}, {other}]}}")
            channels[name] = channels[src]
    names = [n for n in channels if n != "input"]
    return (
        f"input: [{channels['input']}, 5, 5]\nlayers:\n"
        + "\n".join(lines)
        + f"\noutputs: [{', '.join(names)}]\n"
    )


@settings(max_examples=40, deadline=None)
@given(graph_specs())
def test_random_graphs_build_to_what_the_analysis_says(text: str) -> None:
    spec = archcalc.loads(text)
    a = archcalc.analyze(spec)
    model = archcalc.build(spec)
    assert sum(p.numel() for p in model.parameters()) == a.totals.params
    outs = model(torch.randn(2, *a.input_shape))
    outs = outs if isinstance(outs, tuple) else (outs,)
    shapes = {r.path: r.output_shape for r in a.rows}
    assert a.graph is not None
    wanted = [a.graph.nodes[i].path for i in a.graph.outputs]
    assert [tuple(o.shape[1:]) for o in outs] == [shapes[p] for p in wanted]
