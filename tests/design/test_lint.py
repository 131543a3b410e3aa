"""lint(): each rule on the case it exists for, its near misses, and its formula."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archcalc import ArchcalcError, analyze, from_dict, load, loads
from archcalc.design.lint import CODES, RULES, LintReport, dropped_border, lint, lint_spec
from archcalc.kinds.base import pool_out, window_out
from tests.helpers import EXAMPLES, ROOT


def lint_text(text: str, ignore: tuple[str, ...] = ()) -> LintReport:
    return lint_spec(loads(text, filename="t.yaml"), ignore=ignore)


def codes(report: LintReport, *only: str) -> list[tuple[str, str]]:
    """(code, path) of each finding, or of those with the codes in ``only``."""
    return [(f.code, f.path) for f in report.findings if not only or f.code in only]


# The seed network and its GAP variant -------------------------------------------


def test_mnist_cnn_names_fc1_as_holding_97_percent() -> None:
    report = lint_spec(load(EXAMPLES / "mnist_cnn.yaml"))
    (ac101,) = [f for f in report.findings if f.code == "AC101"]
    assert ac101.path == "fc1" and ac101.severity == "warning"
    assert "holds 97.1% of all parameters (200,832 of 206,922)" in ac101.message
    # With global_avg_pool in place of flatten, fc1 would take 32 features: 32·128 + 128.
    assert "feed it 32 features, leaving it 4,224 parameters" in ac101.message
    assert ac101.loc is not None and ac101.loc.file.endswith("mnist_cnn.yaml")
    assert (ac101.loc.line, ac101.loc.col) == (12, 5)  # the `- linear: {name: fc1, ...}` item


def test_the_gap_variant_has_no_dominant_dense_layer() -> None:
    # conv2 holds 90% of mnist-gap, but convolutions are exempt: they do not grow with the input.
    report = lint_spec(load(EXAMPLES / "mnist_gap.yaml"))
    assert "AC101" not in {f.code for f in report.findings}


def test_an_adaptive_pool_head_is_not_said_to_grow_with_the_input() -> None:
    (ac101,) = [f for f in lint_spec(load(EXAMPLES / "vgg16.yaml")).findings]
    assert ac101.path == "fc6" and "leaving it 2,101,248 parameters" in ac101.message
    assert "grow" not in ac101.message


@pytest.mark.parametrize("name", ["resnet18", "googlenet"])
def test_modern_reference_networks_are_clean(name: str) -> None:
    assert lint_spec(load(EXAMPLES / f"{name}.yaml")).findings == ()


# AC102: border pixels ---------------------------------------------------------------


def test_29_pixels_and_2x2_pooling_drop_a_row_and_a_column() -> None:
    report = lint_text(
        "input: [1, 29, 29]\nlayers:\n  - maxpool2d: {name: pool, kernel: 2}\n", ignore=("AC103",)
    )
    (f,) = report.findings
    assert (f.code, f.path) == ("AC102", "pool")
    assert "drops the last 1 row and 1 column of its 29×29 input" in f.message
    assert "(29 + 0 − 2) mod 2 = 1" in f.message and "ceil_mode: true" in f.message
    assert str(f.loc) == "t.yaml:3:5"


@pytest.mark.parametrize(
    ("size", "layer"),
    [
        (28, "maxpool2d: {kernel: 2}"),  # 28 = 14·2
        (
            29,
            "maxpool2d: {kernel: 2, ceil_mode: true}",
        ),  # rounds up: the last window covers the edge
        # AlexNet's conv1: (224 + 4 − 11) mod 4 = 1 falls on the 2 pixels of bottom padding.
        (224, "conv2d: {out: 4, kernel: 11, stride: 4, padding: 2}"),
        # ResNet's projection skips every other pixel anyway; pixel 55 is just one of them.
        (56, "conv2d: {out: 4, kernel: 1, stride: 2}"),
    ],
    ids=["divides", "ceil-mode", "padding-absorbs", "strided-1x1"],
)
def test_near_misses_are_not_flagged(size: int, layer: str) -> None:
    report = lint_text(f"input: [1, {size}, {size}]\nlayers:\n  - {layer}\n")
    assert "AC102" not in {f.code for f in report.findings}


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 300), k=st.integers(1, 9), s=st.integers(1, 9))
def test_ac102_agrees_with_exact_division(n: int, k: int, s: int) -> None:
    # No padding, windows that touch or overlap: pixels are dropped exactly when the
    # floor in ⌊(n − k)/s⌋ + 1 throws a fraction away.
    if k > n or s > k:
        return
    out = window_out(n, k, s, 0)
    exact = Fraction(n - k, s) + 1
    assert (dropped_border(n, out, k, s, 0) > 0) == (exact != out)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 120),
    k=st.integers(1, 7),
    s=st.integers(1, 6),
    pad=st.integers(0, 3),
    ceil=st.booleans(),
)
def test_dropped_border_counts_the_pixels_no_window_reaches(
    n: int, k: int, s: int, pad: int, ceil: bool
) -> None:
    # An independent check: lay every window on the padded axis and count the real
    # pixels after the last one.
    if pad > k // 2:
        return
    out = pool_out(n, k, s, pad, ceil)
    if out < 1:
        return
    covered = set()
    for i in range(out):
        covered.update(range(i * s, i * s + k))
    real = range(pad, pad + n)
    last_seen = max((p for p in real if p in covered), default=pad - 1)
    assert dropped_border(n, out, k, s, pad) == pad + n - 1 - last_seen


# AC103: final receptive field ----------------------------------------------------------


def test_a_small_final_field_is_reported_with_its_coverage() -> None:
    (f,) = [f for f in lint_spec(load(EXAMPLES / "mnist_cnn.yaml")).findings if f.code == "AC103"]
    assert f.path == "pool2" and f.severity == "info"
    assert "10×10 at pool2, covers 35.7% × 35.7% of the 28×28 input" in f.message


def test_half_the_input_per_axis_is_enough() -> None:
    # 5×5 then 5×5 → a 9×9 field: 9/18 = 50% per axis passes, 9/19 does not.
    text = (
        "input: [1, {n}, {n}]\nlayers: [{{conv2d: {{out: 2, kernel: 5}}}}, "
        "{{conv2d: {{out: 2, kernel: 5}}}}]\n"
    )
    assert "AC103" not in {f.code for f in lint_text(text.format(n=18)).findings}
    assert "AC103" in {f.code for f in lint_text(text.format(n=19)).findings}


# AC104: softmax last -------------------------------------------------------------------


@pytest.mark.parametrize("tail", ["softmax", "softmax, dropout, identity"])
def test_a_spec_ending_in_softmax_is_flagged(tail: str) -> None:
    report = lint_text(f"input: [10]\nlayers: [{{linear: 10}}, {tail}]\n")
    assert codes(report) == [("AC104", "softmax_1")]
    assert "expects raw logits" in report.findings[0].message


def test_a_single_weighted_layer_is_not_dominant() -> None:
    # 110 of 110 parameters, but there is no other layer it could be dominating.
    assert lint_text("input: [10]\nlayers: [{linear: 10}]\n").clean
    two = lint_text("input: [10]\nlayers: [{linear: 100}, {linear: 2}]\n")
    assert codes(two) == [("AC101", "linear_0")]  # 1,100 of 1,302


def test_softmax_before_the_last_layer_is_not_flagged() -> None:
    assert lint_text("input: [10]\nlayers: [softmax, {linear: 10}]\n").clean


# AC105: saturating chains --------------------------------------------------------------


def test_lenet5_has_four_tanh_in_a_row() -> None:
    (f,) = [f for f in lint_spec(load(EXAMPLES / "lenet5.yaml")).findings if f.code == "AC105"]
    assert f.path == "tanh_1" and "4 saturating activations" in f.message


def test_sigmoid_chain_states_the_derivative_product() -> None:
    report = lint_text("input: [8]\nlayers: [sigmoid, tanh, sigmoid, {linear: 8}, tanh]\n")
    (f,) = report.findings
    assert f.code == "AC105" and "at most 0.25^2 = 0.0625" in f.message


@pytest.mark.parametrize(
    ("layers", "flagged"),
    [
        ("[tanh, tanh, tanh]", False),
        ("[tanh, tanh, tanh, tanh]", True),
        ("[tanh, tanh, batchnorm1d, tanh, tanh]", False),
        ("[tanh, dropout, tanh, {linear: 8}, tanh, tanh]", True),  # dropout and linear don't reset
        ("[tanh, tanh, {residual: {layers: [tanh, tanh]}}, tanh]", False),  # the skip resets
        ("[{residual: {layers: [tanh, tanh, tanh, tanh]}}]", True),  # but not inside its branch
    ],
    ids=["three", "four", "batchnorm-resets", "no-reset", "residual-resets", "inside-residual"],
)
def test_saturating_chain_rules(layers: str, flagged: bool) -> None:
    report = lint_text(f"input: [8]\nlayers: {layers}\n")
    assert ("AC105" in {f.code for f in report.findings}) == flagged


def test_concat_branches_continue_the_chain_before_them() -> None:
    text = (
        "input: [1, 4, 4]\nlayers:\n  - tanh\n  - tanh\n  - concat:\n"
        "      - [tanh, tanh]\n      - [identity]\n"
    )
    assert codes(lint_text(text), "AC105") == [("AC105", "tanh_0")]


# AC106 and AC107 -----------------------------------------------------------------------


def test_a_kernel_larger_than_its_input_is_flagged() -> None:
    report = lint_text(
        "input: [1, 3, 3]\nlayers:\n  - conv2d: {name: big, out: 2, kernel: 5, "
        "padding: 2}\n  - conv2d: {name: fits, out: 2, kernel: 3}\n"
    )
    assert codes(report) == [("AC106", "big")]
    assert "5×5 (effective) kernel is larger than its 3×3 input" in report.findings[0].message


def test_dropout_before_batch_norm_is_flagged_after_it_is_not() -> None:
    before = lint_text("input: [8]\nlayers: [{dropout: 0.5}, {linear: 8}, batchnorm1d]\n")
    assert codes(before, "AC107") == [("AC107", "dropout_0")]
    assert "batchnorm1d_2" in before.findings[0].message
    after = lint_text("input: [8]\nlayers: [{linear: 8}, batchnorm1d, {dropout: 0.5}]\n")
    assert codes(after, "AC107") == []


# Silencing and reporting -----------------------------------------------------------------

SOFTMAX_END = "input: [10]\nlayers: [{linear: 10}, softmax]\n"  # one finding: AC104


def test_a_spec_silences_codes_with_lint_ignore() -> None:
    report = lint_text("lint: {ignore: [ac104]}\n" + SOFTMAX_END)
    assert report.findings == () and [f.code for f in report.silenced] == ["AC104"]
    assert report.to_dict()["silenced"] == ["AC104"]


def test_the_caller_silences_codes_too() -> None:
    assert lint_text(SOFTMAX_END, ignore=("AC104",)).clean


def test_an_unknown_code_is_a_user_error() -> None:
    with pytest.raises(
        ArchcalcError,
        match=r"lint.ignore expects lint codes .* but gets AC1O1 "
        r"— did you mean `AC101`\?",
    ):
        lint_text("lint: {ignore: [AC1O1]}\n" + SOFTMAX_END)


def test_findings_come_in_execution_order_as_data() -> None:
    report = lint(analyze(load(EXAMPLES / "mnist_cnn.yaml")))
    assert [f.path for f in report.findings] == ["pool2", "fc1"]
    d = report.findings[0].to_dict()
    assert set(d) == {"code", "severity", "path", "message", "loc"}


def test_docs_list_every_code_with_its_severity() -> None:
    docs = (ROOT / "docs" / "lint.md").read_text()
    for rule in RULES:
        assert f"| {rule.code} | {rule.severity} |" in docs
    assert set(CODES) == {r.code for r in RULES}


def test_kernel_larger_than_its_input_on_some_axes_names_them() -> None:
    """AC106 on a 3-D input: a 3×3×3 kernel overhangs a clip of 2 frames on D only."""
    spec = from_dict(
        {"input": [2, 2, 7, 7], "layers": [{"conv3d": {"out": 2, "kernel": 3, "padding": 1}}]}
    )
    report = lint(analyze(spec))
    (finding,) = [f for f in report.findings if f.code == "AC106"]
    assert "3×3×3 (effective) kernel is larger than its 2×7×7 input on D," in finding.message
