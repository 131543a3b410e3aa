"""compare(): the same figures for every design, best and worst marked per metric."""

from __future__ import annotations

import pytest

from archcalc import load, loads
from archcalc.design.compare import METRICS, compare
from archcalc.spec.model import Spec
from tests.helpers import EXAMPLES


def specs(*names: str) -> list[tuple[str, Spec]]:
    return [(f"examples/{n}.yaml", load(EXAMPLES / f"{n}.yaml")) for n in names]


FOUR = specs("lenet5", "mnist_cnn", "mnist_gap", "vgg16")


def test_figures_of_the_seed_comparison() -> None:
    c = compare(FOUR)
    by_name = {d.name: d.figures for d in c.designs}
    cnn, gap, vgg = by_name["mnist-cnn"], by_name["mnist-gap"], by_name["vgg16"]
    assert cnn is not None and gap is not None and vgg is not None
    assert cnn.params == 206_922 and cnn.largest_path == "fc1"
    assert cnn.largest_share == pytest.approx(200_832 / 206_922)
    assert gap.params == 5_130 and gap.head_params == 330
    assert vgg.params == 138_357_544 and vgg.depth == 16
    assert vgg.head_params == (25088 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)


def test_best_and_worst_follow_each_metrics_direction() -> None:
    c = compare(FOUR)
    names = [d.name for d in c.designs]
    gap, vgg, lenet = names.index("mnist-gap"), names.index("vgg16"), names.index("lenet5")
    assert c.mark("params", gap) == "best" and c.mark("params", vgg) == "worst"
    assert c.mark("macs", lenet) == "best" and c.mark("macs", vgg) == "worst"
    # Larger coverage is better: VGG's 212-pixel field covers most of 224×224.
    assert c.mark("receptive_field", vgg) == "best"


def test_ties_share_a_mark_and_directionless_rows_have_none() -> None:
    c = compare(FOUR)
    names = [d.name for d in c.designs]
    cnn, gap = names.index("mnist-cnn"), names.index("mnist-gap")
    # Same convolutions, same 10×10 field at 28×28: both are the worst coverage.
    assert c.mark("receptive_field", cnn) == c.mark("receptive_field", gap) == "worst"
    for key in ("input_shape", "body_params", "depth", "output_shape"):
        assert all(c.mark(key, i) is None for i in range(len(names)))
    assert {m.key for m in METRICS if m.better is None} == {
        "input_shape",
        "body_params",
        "depth",
        "output_shape",
    }


def test_no_marks_when_every_value_is_equal() -> None:
    c = compare(specs("mnist_cnn", "mnist_cnn"))
    assert c.marks(0) == {"best": [], "worst": []}


def test_a_note_says_when_inputs_differ_and_none_when_they_agree() -> None:
    assert any("inputs differ" in n and "vgg16 3×224×224" in n for n in compare(FOUR).notes)
    assert compare(specs("mnist_cnn", "mnist_gap")).notes == ()


def test_input_override_with_other_channels_is_analysed_as_given() -> None:
    c = compare(specs("mnist_cnn", "vgg16"), (3, 224, 224))
    cnn = c.designs[0].figures
    assert cnn is not None and cnn.input_shape == (3, 224, 224)
    assert cnn.largest_params == 32 * 56 * 56 * 128 + 128  # 12,845,184
    assert c.notes == ("mnist-cnn is written for 1×28×28; analysed at 3×224×224 as given",)


def test_a_design_the_override_does_not_fit_holds_its_error() -> None:
    c = compare(specs("mnist_cnn", "vgg16"), (28, 28))  # H×W keeps each spec's channels
    cnn, vgg = c.designs
    assert cnn.figures is not None and cnn.input_shape == (1, 28, 28)
    assert vgg.figures is None and vgg.input_shape == (3, 28, 28)
    assert vgg.error is not None
    assert "stage5.pool" in vgg.error and "output would be 0×0" in vgg.error
    assert c.mark("params", 0) is None  # one design with figures: nothing to rank


def test_hw_override_on_a_flat_spec_is_that_designs_error() -> None:
    flat = ("flat", loads("name: mlp\ninput: [784]\nlayers: [{linear: 10}]\n"))
    c = compare([flat, *specs("mnist_cnn")], (28, 28))
    assert c.designs[0].error is not None
    assert "needs a C×H×W spec input, but mlp takes 784" in c.designs[0].error


def test_every_figure_key_is_documented_and_null_filled() -> None:
    from archcalc.design.figures import FIGURE_KEYS

    (design,) = compare(specs("mnist_cnn")).designs
    assert design.figures is not None
    assert tuple(design.figures.to_dict()) == FIGURE_KEYS
    docs = (EXAMPLES.parent / "docs" / "json-compare.md").read_text()
    for key in FIGURE_KEYS:
        assert f'"{key}"' in docs


def test_designs_sharing_a_name_are_told_apart_by_their_files() -> None:
    from archcalc.render.compare import markdown

    text = markdown(
        compare(
            [
                ("a.yaml", load(EXAMPLES / "mnist_cnn.yaml")),
                ("b.yaml", load(EXAMPLES / "mnist_cnn.yaml")),
            ]
        )
    )
    assert "|  | a.yaml | b.yaml |" in text
