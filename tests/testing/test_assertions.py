"""archcalc.testing: the assertions users put in their own tests, and the fixture.

A failure must show the whole comparison as a table (every requested layer,
mismatches marked, unknown names with suggestions), so these tests compare
the message verbatim.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from typing import Any

import pytest

import archcalc
from archcalc.testing import (
    Checker,
    analysis_of,
    assert_params,
    assert_receptive_field,
    assert_shapes,
)
from tests.helpers import EXAMPLES, ROOT

MNIST = EXAMPLES / "mnist_cnn.yaml"
TINY = {
    "name": "tiny",
    "input": [1, 8, 8],
    "layers": [
        {"conv2d": {"name": "conv", "out": 2, "kernel": 3}},
        "flatten",
        {"linear": {"name": "fc", "out": 3}},
    ],
}


def exactly(text: str) -> str:
    """A ``match=`` pattern for the whole message."""
    return "^" + re.escape(text) + "$"


# -- passing checks, every kind of input ----------------------------------------


@pytest.mark.parametrize(
    "given",
    [
        pytest.param(MNIST, id="path"),
        pytest.param(str(MNIST), id="str"),
        pytest.param(archcalc.load(MNIST), id="spec"),
        pytest.param(archcalc.analyze(archcalc.load(MNIST)), id="analysis"),
    ],
)
def test_passing_checks_return_the_analysis(given: Any) -> None:
    a = assert_shapes(given, {"conv1": (16, 28, 28), "pool2": [32, 7, 7], "fc2": 10})
    assert a.totals.params == 206922
    assert_params(given, {"conv1": 160, "fc1": 200832})
    assert_params(given, 206922)
    assert_receptive_field(given, {"pool1": 4, "pool2": (10, 10), "fc1": "all", "fc2": 28})


def test_spec_dict_and_input_override() -> None:
    assert_shapes(TINY, {"conv": (2, 6, 6), "fc": (3,)})
    assert_shapes(TINY, {"conv": (2, 8, 8)}, input_shape=(1, 10, 10))
    assert_params(TINY, {"conv": 20, "fc": 72 * 3 + 3})
    assert_params(TINY, 128 * 3 + 3 + 20, input_shape=(1, 10, 10))


def test_composites_count_everything_beneath() -> None:
    resnet = EXAMPLES / "resnet18.yaml"
    assert_params(resnet, {"layer1_0": 73984, "layer1_0.res": 73984, "layer2_0": 230144})
    assert_shapes(resnet, {"layer2_0": (128, 28, 28)})


# -- failures show a table -------------------------------------------------------


def test_shape_failure_table_marks_mismatches_and_suggests_names() -> None:
    with pytest.raises(
        AssertionError,
        match=exactly(
            "archcalc: 2 of 3 layer shapes differ (mnist-cnn, input 1×28×28)\n"
            "  layer  expected  actual\n"
            "  conv1  16×28×28  16×28×28\n"
            "✗ pool1  16×28×28  16×14×14\n"
            "✗ conv9  3         no such layer\n"
            "no layer `conv9` — did you mean `conv2`, `conv1`?"
        ),
    ):
        assert_shapes(MNIST, {"conv1": (16, 28, 28), "pool1": (16, 28, 28), "conv9": 3})


def test_params_failure_tables() -> None:
    with pytest.raises(
        AssertionError,
        match=exactly(
            "archcalc: total parameters differ (mnist-cnn, input 1×28×28)\n"
            "  layer  expected  actual\n"
            "✗ total  206,000   206,922"
        ),
    ):
        assert_params(MNIST, 206000)
    with pytest.raises(
        AssertionError,
        match=exactly(
            "archcalc: 2 of 3 parameter counts differ (mnist-cnn, input 1×28×28)\n"
            "  layer  expected  actual\n"
            "✗ fc1    200,000   200,832\n"
            "  fc2    1,290     1,290\n"
            "✗ zzz    1         no such layer\n"
            "no layer `zzz` — layers are `conv1`, `relu_1`, `pool1`, `conv2`, `relu_4`, `pool2`, "
            "`flatten_6`, `fc1`, …"
        ),
    ):
        assert_params(MNIST, {"fc1": 200000, "fc2": 1290, "zzz": 1})


def test_receptive_field_failure_table() -> None:
    with pytest.raises(
        AssertionError,
        match=exactly(
            "archcalc: 2 of 4 receptive fields differ (mnist-cnn, input 1×28×28)\n"
            "  layer  expected  actual\n"
            "  pool2  10        10\n"
            "✗ conv2  7×8       8\n"
            "  fc1    all       all (28)\n"
            "✗ conv1  all       3"
        ),
    ):
        assert_receptive_field(MNIST, {"pool2": 10, "conv2": (7, 8), "fc1": "all", "conv1": "all"})


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: assert_shapes(42, {"a": 1}), "expects a Spec, a path to a YAML spec"),
        (lambda: assert_shapes(MNIST, {}), "expects a non-empty mapping"),
        (lambda: assert_shapes(MNIST, {"conv1": "big"}), "an expected shape is an int"),
        (lambda: assert_params(MNIST, {"fc1": 1.5}), "an expected parameter count is an int"),
        (lambda: assert_params(MNIST, True), "an expected parameter count is an int"),
        (
            lambda: assert_receptive_field(MNIST, {"conv1": (1, 2, 3)}),
            "an expected receptive field",
        ),
        (lambda: assert_shapes(EXAMPLES / "nope.yaml", {"a": 1}), "nope.yaml: no such file"),
    ],
)
def test_mistakes_in_the_check_itself_are_archcalc_errors(call: Any, message: str) -> None:
    with pytest.raises(archcalc.ArchcalcError, match=re.escape(message)):
        call()


# -- torch modules ------------------------------------------------------------------


@pytest.fixture(scope="module")
def net() -> Any:
    torch = pytest.importorskip("torch")
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Sequential(nn.Conv2d(4, 8, 3), nn.ReLU()),
        nn.Flatten(),
        nn.Linear(8 * 5 * 5, 10),
    )


def test_module_checks(net: Any) -> None:
    assert_shapes(
        net,
        {"0": (4, 14, 14), "2": (4, 7, 7), "3": (8, 5, 5), "3.0": (8, 5, 5), "5": 10},
        input_shape=(1, 14, 14),
    )
    assert_params(net, {"0": 40, "3": 4 * 8 * 9 + 8, "5": 2010}, input_shape=(1, 14, 14))
    assert_params(net, sum(p.numel() for p in net.parameters()), input_shape=(1, 14, 14))
    assert_receptive_field(net, {"0": 3, "2": 4, "3.0": 8, "5": "all"}, input_shape=(1, 14, 14))


def test_module_failure_table(net: Any) -> None:
    with pytest.raises(
        AssertionError,
        match=exactly(
            "archcalc: 2 of 2 layer shapes differ (Sequential, input 1×14×14)\n"
            "  layer  expected  actual\n"
            "✗ 3.0    8×6×6     8×5×5\n"
            "✗ 3.3    1         no such layer\n"
            "no layer `3.3` — did you mean `3.1`, `3.0`, `3`?"
        ),
    ):
        assert_shapes(net, {"3.0": (8, 6, 6), "3.3": 1}, input_shape=(1, 14, 14))


def test_module_needs_an_input_shape(net: Any) -> None:
    with pytest.raises(
        archcalc.ArchcalcError, match=r"checking a torch module \(Sequential\) needs input_shape"
    ):
        assert_params(net, {"0": 40})


# -- the pytest plugin ----------------------------------------------------------------


def test_fixture_comes_from_the_installed_plugin(archcalc_check: Any) -> None:
    assert isinstance(archcalc_check, Checker)
    archcalc_check.shapes(MNIST, {"fc1": 128})
    archcalc_check.params(MNIST, 206922)
    archcalc_check.receptive_field(MNIST, {"pool2": 10})
    assert archcalc_check.analysis(TINY).totals == analysis_of(TINY).totals
    with pytest.raises(AssertionError, match=r"✗ fc1    1         128"):
        archcalc_check.shapes(MNIST, {"fc1": 1})


def test_importing_the_plugin_and_package_stays_light() -> None:
    code = (
        "import sys, archcalc.testing, archcalc.testing.plugin; "
        "print(sorted({'torch', 'hypothesis'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_every_assertion_takes_target_expected_then_input_shape_by_keyword() -> None:
    for check in (assert_shapes, assert_params, assert_receptive_field):
        names = list(inspect.signature(check).parameters)
        assert names[:2] == ["target", "expected"]
        assert (
            inspect.signature(check).parameters["input_shape"].kind
            is inspect.Parameter.KEYWORD_ONLY
        )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: assert_shapes(MNIST, (1, 56, 56), {"pool2": (32, 14, 14)}),
            r"assert_shapes\(target, input_shape, expected\) is deprecated",
        ),
        (
            lambda: assert_shapes(MNIST, None, {"pool2": (32, 7, 7)}),
            r"assert_shapes\(target, input_shape, expected\) is deprecated",
        ),
        (
            lambda: assert_params(MNIST, {"fc1": 32 * 14 * 14 * 128 + 128}, (1, 56, 56)),
            r"assert_params\(target, expected, input_shape\) with input_shape by position",
        ),
        (
            lambda: assert_receptive_field(MNIST, {"pool2": 10}, (1, 56, 56)),
            r"write assert_receptive_field\(target, expected, input_shape=\.\.\.\)",
        ),
        (
            lambda: Checker().shapes(MNIST, (1, 56, 56), {"pool2": (32, 14, 14)}),
            r"shapes\(target, input_shape, expected\) is deprecated",
        ),
    ],
)
def test_the_0_1_call_forms_still_work_with_a_deprecation_warning(call: Any, match: str) -> None:
    with pytest.warns(DeprecationWarning, match=match) as caught:
        analysis = call()
    assert analysis.input_shape in ((1, 28, 28), (1, 56, 56))
    assert caught[0].filename == __file__  # the warning points at the caller's line


def test_the_old_form_still_checks_what_it_is_given() -> None:
    with pytest.warns(DeprecationWarning), pytest.raises(AssertionError, match="pool2"):
        assert_shapes(MNIST, (1, 56, 56), {"pool2": (32, 7, 7)})


def test_too_many_positional_arguments_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"takes \(target, expected, \*, input_shape=None\)"):
        assert_params(MNIST, 1, (1, 28, 28), (1, 28, 28))  # type: ignore[misc]
