"""The network's final receptive field: read from the graph, reported at the top level.

A network that ends in a concat (Inception) has the union of its branches'
fields there, not the field of whichever branch was listed last; torchvision's
inception_v3 at 299×299 sees 1311 pixels with jump 32 (the spec and the module
agree), where its last branch alone sees 1247.
"""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

import archcalc
from archcalc.analysis import Analysis, estimate
from archcalc.render.markdown import summary as markdown_summary
from archcalc.render.table import print_summary
from tests.helpers import EXAMPLES, run_cli


def table_of(a: Analysis) -> str:
    out = io.StringIO()
    print_summary(a, estimate(a), None, Console(file=out, color_system=None, width=400))
    return out.getvalue()


def assert_inception_v3(a: Analysis) -> None:
    final = a.to_dict()["final_receptive_field"]
    assert final["size"] == [1311, 1311] and final["jump"] == [32, 32]
    assert final["output_shape"] == [2048, 8, 8]
    # The last leaf row is one branch's: smaller, which is what the issue saw.
    last_spatial = [r for r in a.rows if len(r.output_shape) == 3 and r.output_shape[1] > 1]
    rf = last_spatial[-1].receptive_field
    assert rf is not None and rf.size[0] < 1311
    assert "Final receptive field: 1311×1311 px, jump 32" in table_of(a)


def test_inception_v3_spec_reports_the_networks_field() -> None:
    a = archcalc.analyze(archcalc.load(EXAMPLES / "inception_v3.yaml"))
    assert_inception_v3(a)
    assert a.final is not None and a.graph is not None
    node = a.graph.nodes[a.final.node]
    assert node.op == "cat" and not node.written  # the concat shorthand's merge
    assert "Final receptive field: 1311×1311 px" in markdown_summary(a, None, estimate(a))


def test_inception_v3_module_reports_the_networks_field() -> None:
    torchvision = pytest.importorskip("torchvision")
    from archcalc.bridge.summarize import summarize

    m = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False)
    a = summarize(m, (3, 299, 299))
    assert_inception_v3(a)
    assert a.final is not None and a.final.path == "Mixed_7c"


def test_cli_json_has_the_final_field_at_the_top() -> None:
    r = run_cli("summary", str(EXAMPLES / "inception_v3.yaml"), "--json")
    assert r.returncode == 0, r.stderr
    final = json.loads(r.stdout)["final_receptive_field"]
    assert final["size"] == [1311, 1311] and final["jump"] == [32, 32]
    assert len(final["start"]) == 2 and final["path"]
    r = run_cli("compare", str(EXAMPLES / "inception_v3.yaml"), "--json")
    assert r.returncode == 0, r.stderr
    rf = json.loads(r.stdout)["designs"][0]["receptive_field"]
    assert rf["size"] == [1311, 1311] and rf["jump"] == [32, 32] and len(rf["start"]) == 2


def test_final_field_is_taken_at_the_merge_not_the_last_branch() -> None:
    a = archcalc.loads(
        """
input: [3, 32, 32]
layers:
  - concat:
      name: mix
      branches:
        - [conv2d: {out: 4, kernel: 7, padding: 3}]
        - [conv2d: {out: 4, kernel: 3, padding: 1}]
  - global_avg_pool
  - linear: 10
"""
    )
    an = archcalc.analyze(a)
    assert an.final is not None
    assert an.final.path == "mix" and an.final.field.size == (7, 7)
    assert an.rows[1].receptive_field is not None and an.rows[1].receptive_field.size == (3, 3)


def test_flat_network_has_no_final_field() -> None:
    a = archcalc.analyze(archcalc.loads("input: [10]\nlayers: [linear: 4]"))
    assert a.final is None and a.to_dict()["final_receptive_field"] is None


def test_a_residual_network_ends_after_its_last_merge() -> None:
    a = archcalc.analyze(archcalc.load(EXAMPLES / "resnet18.yaml"))
    assert a.final is not None
    assert a.final.field.size == (435, 435) and a.final.field.jump == (32, 32)
    assert a.final.output_shape == (512, 7, 7)
