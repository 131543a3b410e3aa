"""Body and head, depth and final field: the definitions compare, scale and lint share."""

from __future__ import annotations

import pytest

from archcalc import analyze, load, loads
from archcalc.design.anatomy import anatomy, is_spatial
from tests.helpers import EXAMPLES

ZOO = ["lenet5", "mnist_cnn", "mnist_gap", "alexnet", "vgg16", "resnet18", "googlenet"]


@pytest.mark.parametrize(
    ("name", "depth"),
    [
        ("lenet5", 2 + 3),  # c1, c3; c5, f6, output
        ("mnist_cnn", 2 + 2),  # conv1, conv2; fc1, fc2
        ("mnist_gap", 2 + 1),  # conv1, conv2; fc
        ("alexnet", 5 + 3),  # conv1..conv5; fc6..fc8
        ("vgg16", 13 + 3),  # 2+2+3+3+3 convolutions; fc6..fc8
        ("resnet18", 1 + 8 * 2 + 1),  # conv1, 8 blocks of two 3×3 (shortcuts run beside), fc
        ("googlenet", 3 + 9 * 2 + 1),  # conv1..3, 9 inceptions two deep on their longest branch, fc
    ],
    ids=lambda v: str(v),
)
def test_depth_counts_weight_layers_on_the_longest_path(name: str, depth: int) -> None:
    assert anatomy(analyze(load(EXAMPLES / f"{name}.yaml"))).depth == depth


@pytest.mark.parametrize("name", ZOO)
def test_body_and_head_partition_the_layers_and_their_parameters(name: str) -> None:
    a = analyze(load(EXAMPLES / f"{name}.yaml"))
    anat = anatomy(a)
    assert anat.body + anat.head == a.rows
    assert anat.body_params + anat.head_params == a.totals.params
    assert is_spatial(anat.body[-1].output_shape)
    assert not any(is_spatial(r.output_shape) for r in anat.head)


def test_mnist_cnn_head_is_flatten_and_the_two_dense_layers() -> None:
    anat = anatomy(analyze(load(EXAMPLES / "mnist_cnn.yaml")))
    assert [r.path for r in anat.head] == ["flatten_6", "fc1", "relu_8", "dropout_9", "fc2"]
    assert anat.head_params == (32 * 7 * 7 * 128 + 128) + (128 * 10 + 10)  # 202,122
    assert anat.body_params == (1 * 9 * 16 + 16) + (16 * 9 * 32 + 32)  # 4,800


def test_mnist_gap_head_is_the_pool_and_one_small_layer() -> None:
    anat = anatomy(analyze(load(EXAMPLES / "mnist_gap.yaml")))
    assert [r.path for r in anat.head] == ["gap", "fc"]
    assert anat.head_params == 32 * 10 + 10


def test_a_convolution_as_wide_as_its_input_belongs_to_the_head() -> None:
    a = analyze(
        loads(
            "input: [4, 5, 5]\nlayers:\n  - conv2d: {name: wide, out: 8, kernel: 5}\n"
            "  - flatten\n  - linear: 2\n"
        )
    )
    anat = anatomy(a)
    assert anat.body == ()
    assert anat.head[0].path == "wide"
    assert anat.coverage is None and anat.last_spatial is None


def test_fully_convolutional_network_has_an_empty_head() -> None:
    a = analyze(loads("input: [1, 16, 16]\nlayers: [{conv2d: {out: 4, kernel: 3}}, relu]\n"))
    assert anatomy(a).head == ()


def test_flat_input_has_no_body_and_no_field() -> None:
    anat = anatomy(analyze(loads("input: [784]\nlayers: [{linear: 10}]\n")))
    assert anat.body == () and anat.coverage is None and anat.depth == 1


def test_final_field_is_the_merged_field_of_a_closing_residual() -> None:
    # Two 3×3 convolutions see 5×5; the 1×1 projection, listed last, sees 1×1.
    a = analyze(
        loads(
            "input: [3, 8, 8]\nlayers:\n  - residual:\n      name: block\n      layers:\n"
            "        - conv2d: {out: 4, kernel: 3, padding: 1}\n"
            "        - conv2d: {out: 4, kernel: 3, padding: 1}\n"
            "      shortcut: [{conv2d: {name: proj, out: 4, kernel: 1}}]\n"
        )
    )
    assert a.rows[-1].path == "block.shortcut.proj" and a.rows[-1].receptive_field.size == (1, 1)
    anat = anatomy(a)
    assert anat.last_spatial is not None and anat.last_spatial.path == "block"
    assert anat.coverage is not None and anat.coverage.field == (5, 5)


def test_coverage_is_per_axis_capped_and_area_is_their_product() -> None:
    mnist = anatomy(analyze(load(EXAMPLES / "mnist_cnn.yaml"))).coverage
    assert mnist is not None and mnist.field == (10, 10)  # 3, 4, 8, 10 through pool2
    assert mnist.axes == (10 / 28, 10 / 28) and mnist.area == pytest.approx((10 / 28) ** 2)
    resnet = anatomy(analyze(load(EXAMPLES / "resnet18.yaml"))).coverage
    assert resnet is not None and resnet.field[0] > 224 and resnet.area == 1.0
