"""summarize(module) emits the graph a spec lowers to, so depth and lint read a module as a spec.

Nodes come from the real dataflow of one forward pass: which node made each
tensor a module or a functional merge is given. The golden numbers are the
example specs', which match torchvision exactly, or those of the module that
``archcalc.build`` makes from a spec.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import archcalc
from archcalc.analysis import Analysis
from archcalc.bridge.summarize import summarize
from archcalc.design.anatomy import WEIGHT_KINDS, anatomy
from archcalc.design.lint import lint
from archcalc.graph import Graph
from tests.bridge.test_summarize import Functional, Mixer, Twice, on_meta
from tests.graph.test_graph import RENAMED
from tests.helpers import EXAMPLES


def depth(a: Analysis) -> int:
    return anatomy(a).depth


def graph_of(a: Analysis) -> Graph:
    assert a.graph is not None
    return a.graph


def node_of(a: Analysis) -> dict[str, int]:
    """Each called row's node by path (a repeated call: its last)."""
    return {r.path: r.node for r in a.rows if r.node is not None}


def assert_well_formed(a: Analysis) -> None:
    """Nodes in execution order, every scope named exists, rows point at nodes of their path."""
    g = graph_of(a)
    assert g.nodes[0].op == "input"
    for node in g.nodes:
        assert node.id == g.nodes.index(node)
        assert all(i < node.id for i in node.inputs)
        assert all(key in g.scopes for key in node.scope)
        assert node.loc is None
    for row in a.rows:
        if row.note and "not called by forward" in row.note:
            assert row.node is None
            continue
        if row.kind in ("parameters", "functional") and row.node is None:
            continue  # a container's own parameters, used by no op of its own
        assert row.node is not None, row.path
        node = g.nodes[row.node]
        assert node.written and node.path == row.path
        assert len(node.scope) + 1 == row.depth
    for key, scope in g.scopes.items():
        assert scope.path == key and all(p in g.scopes for p in scope.parent)
    assert all(0 <= o < len(g.nodes) for o in g.outputs)


# -- the zoo -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def resnet18() -> Analysis:
    return summarize(on_meta("resnet18"), (3, 224, 224))


def test_resnet18_module_is_as_deep_as_its_spec(resnet18: Analysis) -> None:
    spec = archcalc.analyze(archcalc.load(EXAMPLES / "resnet18.yaml"))
    assert depth(resnet18) == depth(spec) == 18
    # Counting every weight row would say 21: the three 1×1 projections run beside the blocks.
    assert sum(r.kind in WEIGHT_KINDS for r in resnet18.rows) == 21
    assert_well_formed(resnet18)


def test_resnet18_functional_adds_join_each_block_and_its_shortcut(resnet18: Analysis) -> None:
    g = graph_of(resnet18)
    adds = [n for n in g.nodes if n.op == "add"]  # torchvision's `out += identity`
    assert len(adds) == 8 and not any(n.written for n in adds)
    for add in adds:
        block = g.scopes[add.path]
        assert add.scope[-1] == add.path and block.kind == "basicblock"
        main, short = (g.nodes[i] for i in add.inputs)
        assert main.path == f"{add.path}.bn2"
        # the identity (the block's input) or the projection's batch norm
        assert short.id == block.input or short.path == f"{add.path}.downsample.1"
        # the block's second relu reads the sum, and is the block's output
        (after,) = (n for n in g.nodes if n.inputs == (add.id,))
        assert after.path == f"{add.path}.relu" and block.output == after.id


def test_scopes_follow_the_module_hierarchy_with_summarys_paths(resnet18: Analysis) -> None:
    g = graph_of(resnet18)
    groups = [r for top in resnet18.tree for r in _groups(top)]
    assert {r.path for r in groups} == set(g.scopes)
    for row in groups:
        scope = g.scopes[row.path]
        assert (scope.kind, scope.operation) == (row.kind, row.operation)
    assert g.scopes["layer2.0"].parent == ("layer2",)
    assert g.scopes["layer2"].items == ("layer2.0", "layer2.1")
    assert g.items[:4] == tuple(r.node for r in resnet18.rows[:4])  # conv1, bn1, relu, maxpool


def _groups(row: archcalc.analysis.Row) -> list[archcalc.analysis.Row]:
    if row.is_leaf:
        return []
    return [row, *(g for c in row.children for g in _groups(c))]


# Specs without named tensors build from archcalc's own Residual and Concat modules.
BUILT = ["lenet5", "alexnet", "vgg16", "resnet18", "resnet50", "googlenet", "squeezenet1_0"]
# With named tensors, build runs the graph's nodes in order: the merges are functional.
BUILT_GRAPH = ["mobilenet_v2", "densenet121", "efficientnet_b0"]


@pytest.mark.parametrize("name", BUILT + BUILT_GRAPH)
def test_the_module_a_spec_builds_has_its_depth_and_findings(name: str) -> None:
    spec = archcalc.load(EXAMPLES / f"{name}.yaml")
    expected = archcalc.analyze(spec)
    with torch.device("meta"):
        model = archcalc.build(spec)
    a = summarize(model, spec.input_shape)
    assert_well_formed(a)
    assert depth(a) == depth(expected)
    assert [(f.code, f.path, f.message) for f in lint(a).findings] == [
        (f.code, f.path, f.message) for f in lint(expected).findings
    ]
    if name in BUILT:  # archcalc's composites are the spec's, role for role
        composites = {"residual", "shortcut", "concat", "branch"}

        def roles(g: Graph) -> dict[str, str]:
            return {k: s.role for k, s in g.scopes.items() if s.role in composites}

        assert roles(graph_of(a)) == roles(graph_of(expected))


# -- functional merges between modules ---------------------------------------------


class ResidualNet(nn.Module):
    """A stem, two 3×3 convolutions beside a 1×1 projection, added functionally; a head."""

    def __init__(self, projection: str = "proj") -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.add_module(projection, nn.Conv2d(8, 8, 1))
        self.projection = projection
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        side = self.get_submodule(self.projection)(x)
        return self.head(self.conv2(self.relu(self.conv1(x))) + side)


RESIDUAL_SPEC = """\
input: [3, 8, 8]
layers:
  - conv2d: {name: stem, out: 8, kernel: 3, padding: 1}
  - residual:
      layers:
        - conv2d: {name: conv1, out: 8, kernel: 3, padding: 1}
        - relu
        - conv2d: {name: conv2, out: 8, kernel: 3, padding: 1}
      shortcut: [{conv2d: {name: proj, out: 8, kernel: 1}}]
  - global_avg_pool
  - linear: 4
"""


def test_a_functional_residual_add_is_as_deep_as_the_spec_residual() -> None:
    a = summarize(ResidualNet(), (3, 8, 8))
    spec = archcalc.analyze(archcalc.loads(RESIDUAL_SPEC))
    assert depth(a) == depth(spec) == 1 + 2 + 1  # stem, conv1 and conv2 (proj beside), linear
    assert_well_formed(a)
    g = graph_of(a)
    node = node_of(a)
    (add,) = (n for n in g.nodes if n.op == "add")
    assert set(add.inputs) == {node["conv2"], node["proj"]}
    assert g.nodes[node["proj"]].inputs == g.nodes[node["conv1"]].inputs == (node["stem"],)
    assert g.nodes[node["head.0"]].inputs == (add.id,)
    assert g.outputs == (node["head.2"],)


@pytest.mark.parametrize("name", ["shortcut", "proj", "downsample"])
def test_a_module_named_shortcut_changes_no_depth(name: str) -> None:
    class Serial(nn.Module):  # the layer named `name` runs in series, not beside
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
            self.add_module(name, nn.Conv2d(4, 4, 1))
            self.conv2 = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv2(self.get_submodule(name)(self.conv1(x)))

    assert depth(summarize(Serial(), (3, 8, 8))) == 3
    assert depth(summarize(ResidualNet(name), (3, 8, 8))) == 4


@pytest.mark.parametrize("block", ["stage", "shortcut", "branch", "copy"])
def test_a_block_named_like_a_composite_builds_a_module_of_the_same_depth(block: str) -> None:
    spec = archcalc.loads(RENAMED.format(block=block))
    a = summarize(archcalc.build(spec), spec.input_shape)
    assert depth(a) == depth(archcalc.analyze(spec)) == 6


class GatedCat(nn.Module):
    """Two branches joined by torch.cat, then multiplied by a squeeze-and-excitation gate."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Conv2d(4, 4, 3, padding=1))
        self.mix = nn.Conv2d(8, 8, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(8, 8, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mix(torch.cat([self.a(x), self.b(x)], dim=1))
        return y * self.gate(self.fc(self.pool(y)))


def test_functional_cat_and_mul_are_nodes_reading_what_they_join() -> None:
    a = summarize(GatedCat(), (3, 8, 8))
    assert_well_formed(a)
    g = graph_of(a)
    node = node_of(a)
    (cat,) = (n for n in g.nodes if n.op == "cat")
    assert cat.inputs == (node["a"], node["b.1"]) and not cat.written
    assert g.nodes[node["mix"]].inputs == (cat.id,)
    (mul,) = (n for n in g.nodes if n.op == "mul")
    assert mul.inputs == (node["mix"], node["gate"])
    assert g.outputs == (mul.id,)
    assert g.scopes["b"].input == 0 and g.scopes["b"].output == node["b.1"]
    # b (2) + mix (1) + fc (1) on the longest path, as a spec with cat and mul counts it
    assert depth(a) == 4


def test_a_container_called_twice_is_two_scopes() -> None:
    block = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.ReLU())

    class TwiceBlock(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.block = block

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.block(self.block(x))

    a = summarize(TwiceBlock(), (2, 6, 6))
    assert_well_formed(a)
    g = graph_of(a)
    assert list(g.scopes) == ["block", "block (call 2)"]
    assert g.scopes["block (call 2)"].input == g.scopes["block"].output
    assert g.items == ("block", "block (call 2)")
    assert depth(a) == 2


def test_a_layer_called_twice_is_two_nodes_in_a_chain() -> None:
    a = summarize(Twice(), (8,))
    g = graph_of(a)
    assert [(n.op, n.inputs) for n in g.nodes] == [
        ("input", ()),
        ("linear", (0,)),
        ("relu", (1,)),
        ("linear", (2,)),
    ]
    assert [r.node for r in a.rows] == [1, 2, 3] and depth(a) == 2


def test_a_containers_own_ops_are_nodes_its_own_row_shows() -> None:
    a = summarize(Functional(), (1, 10, 10))
    assert_well_formed(a)
    g = graph_of(a)
    node = node_of(a)
    own = g.nodes[node["Functional (own parameters)"]]
    assert own.op == "convolution" and own.args is None
    assert own.inputs == (node["conv"],)  # through the functional max_pool2d
    assert g.nodes[node["head"]].inputs == (own.id,)
    assert g.nodes[node["fc"]].inputs == (node["head"],)  # through x.mean((2, 3))

    m = summarize(Mixer(), (2, 6, 6))
    assert_well_formed(m)
    fft = graph_of(m).nodes[node_of(m)["Mixer (own operations)"]]
    assert fft.op == "_fft_c2c"


def test_modules_never_called_have_no_node() -> None:
    a = summarize(on_meta("googlenet", aux_logits=True, init_weights=False), (3, 224, 224))
    assert_well_formed(a)
    assert all(r.node is None for r in a.rows if r.path.startswith("aux"))
    assert not any(n.path.startswith("aux") for n in graph_of(a).nodes)
    assert depth(a) == 22


# -- lint on modules: the rules that read arguments -------------------------------


def test_dropout_before_batch_norm_is_flagged_on_a_module() -> None:
    model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.BatchNorm1d(8), nn.Linear(8, 2))
    found = [f for f in lint(summarize(model, (8,))).findings if f.code == "AC107"]
    assert [f.path for f in found] == ["1"]
    assert "before the batch norm 2" in found[0].message
    after = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 2))
    assert not [f for f in lint(summarize(after, (8,))).findings if f.code == "AC107"]


@pytest.mark.parametrize(
    ("module", "layer", "size"),
    [
        (nn.Conv2d(1, 4, 3, stride=2), "conv2d: {out: 4, kernel: 3, stride: 2}", 8),
        (nn.MaxPool2d(2), "maxpool2d: {kernel: 2}", 29),
    ],
)
def test_windows_dropping_pixels_are_flagged_on_a_module_as_on_a_spec(
    module: nn.Module, layer: str, size: int
) -> None:
    found = lint(summarize(nn.Sequential(module), (1, size, size))).findings
    spec = archcalc.loads(f"input: [1, {size}, {size}]\nlayers:\n  - {layer}\n")
    expected = [f for f in lint(archcalc.analyze(spec)).findings if f.code == "AC102"]
    assert [(f.code, f.message) for f in found if f.code == "AC102"] == [
        (f.code, f.message) for f in expected
    ]
    assert expected  # the spec is flagged, so the module is too
