"""scale(): figures at growing S×S inputs; a size a network cannot take is data, not a crash."""

from __future__ import annotations

import pytest

from archcalc import ArchcalcError, load, loads
from archcalc.design.scale import ScaleSeries, scale
from tests.helpers import EXAMPLES

SIZES = [28, 56, 112, 224]


def series(name: str, sizes: list[int]) -> ScaleSeries:
    return scale([(name, load(EXAMPLES / f"{name}.yaml"))], sizes).series[0]


@pytest.mark.parametrize(
    ("size", "fc1"),
    [
        (28, 32 * 7 * 7 * 128 + 128),  # 200,832
        (56, 32 * 14 * 14 * 128 + 128),  # 802,944
        (112, 32 * 28 * 28 * 128 + 128),  # 3,211,392
        (224, 32 * 56 * 56 * 128 + 128),  # 12,845,184: FC1 alone exceeds 12 M at 224×224
    ],
    ids=lambda v: str(v),
)
def test_the_flatten_head_grows_with_the_image(size: int, fc1: int) -> None:
    point = next(p for p in series("mnist_cnn", SIZES).points if p.size == size)
    assert point.figures is not None
    assert point.figures.largest_path == "fc1" and point.figures.largest_params == fc1
    assert point.figures.params == 160 + 4640 + fc1 + 1290


def test_the_gap_head_stays_constant() -> None:
    s = series("mnist_gap", SIZES)
    assert [p.figures.params for p in s.points if p.figures] == [5130] * 4
    assert s.growth("params") == 1.0 and s.growth("head_params") == 1.0
    assert s.growth("macs") == pytest.approx(65_028_416 / 1_016_384)  # the body grows with area


def test_growth_is_largest_over_smallest_working_size() -> None:
    s = series("mnist_cnn", [2, 28, 224])  # 2×2 collapses, so growth runs 28 → 224
    assert s.growth("params") == pytest.approx(12_851_274 / 206_922)


@pytest.mark.parametrize(
    ("size", "layer"),
    [
        (1, "pool1"),  # conv1 keeps 1×1; pool1's 2×2 window does not fit
        (2, "pool2"),  # 2 → pool1 → 1; pool2 does not fit
        (3, "pool2"),  # 3 → pool1 → 1 (floor); pool2 does not fit
    ],
    ids=lambda v: str(v),
)
def test_a_collapse_names_the_layer(size: int, layer: str) -> None:
    (point,) = series("mnist_cnn", [size]).points
    assert point.figures is None and point.failure is not None
    assert point.failure.kind == "collapse" and point.failure.path == layer
    assert point.failure.text == f"collapses at {layer}"


def test_another_refusal_is_n_a_with_its_reason() -> None:
    # A strided conv and a pool agree at even sizes only: at 7, 4×4 meets 3×3.
    spec = loads(
        "name: branchy\ninput: [1, 8, 8]\nlayers:\n  - concat:\n      name: join\n"
        "      branches:\n"
        "        - [{conv2d: {out: 2, kernel: 3, stride: 2, padding: 1}}]\n"
        "        - [{maxpool2d: 2}]\n"
    )
    s = scale([("branchy", spec)], [7, 8]).series[0]
    bad, good = s.points
    assert good.figures is not None and bad.failure is not None
    assert bad.failure.kind == "n/a" and bad.failure.path == "join"
    assert bad.failure.text.startswith("n/a: join: concat branches must agree in spatial sizes")


def test_sizes_are_sorted_and_deduplicated() -> None:
    result = scale([("m", load(EXAMPLES / "mnist_gap.yaml"))], [56, 28, 56])
    assert result.sizes == (28, 56)
    assert [p.input_shape for p in result.series[0].points] == [(1, 28, 28), (1, 56, 56)]


def test_a_flat_input_cannot_scale() -> None:
    with pytest.raises(
        ArchcalcError,
        match=r"scale needs a feature-map input \(C×L, C×H×W, C×D×H×W\), but spec takes 784",
    ):
        scale([("mlp", loads("input: [784]\nlayers: [{linear: 10}]\n"))], SIZES)
