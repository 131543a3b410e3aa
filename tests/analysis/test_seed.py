"""The seed chapter's numbers, and invariants every analysis keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

import archcalc
from archcalc.analysis.result import Row
from tests.helpers import EXAMPLES

ALL_EXAMPLES = sorted(EXAMPLES.glob("*.yaml"))


@pytest.fixture(scope="module")
def seed() -> archcalc.Analysis:
    return archcalc.analyze(archcalc.load(EXAMPLES / "mnist_cnn.yaml"))


def test_seed_shapes_params_and_receptive_fields(seed: archcalc.Analysis) -> None:
    by = {r.path: r for r in seed.rows}
    assert [
        by[p].output_shape for p in ("conv1", "pool1", "conv2", "pool2", "flatten_6", "fc1", "fc2")
    ] == [(16, 28, 28), (16, 14, 14), (32, 14, 14), (32, 7, 7), (1568,), (128,), (10,)]
    assert by["conv1"].params == 16 * (1 * 3 * 3) + 16 == 160
    assert by["conv2"].params == 32 * (16 * 3 * 3) + 32 == 4_640
    assert by["fc1"].params == 1568 * 128 + 128 == 200_832
    assert by["fc2"].params == 128 * 10 + 10 == 1_290
    assert seed.totals.params == 206_922
    # r += (k−1)·cumulative stride: 1+2·1 = 3, 3+1·1 = 4, 4+2·2 = 8, 8+1·2 = 10
    sizes = [by[p].receptive_field.size for p in ("conv1", "pool1", "conv2", "pool2")]  # type: ignore[union-attr]
    assert sizes == [(3, 3), (4, 4), (8, 8), (10, 10)]
    assert by["pool2"].receptive_field.jump == (4, 4)  # type: ignore[union-attr]
    assert seed.totals.macs == 16 * 28 * 28 * 9 + 32 * 14 * 14 * 16 * 9 + 1568 * 128 + 128 * 10
    assert seed.totals.macs == 1_218_048
    assert seed.largest() is by["fc1"]
    assert round(seed.share(by["fc1"]), 3) == 0.971


def test_receptive_field_start_follows_padding(seed: archcalc.Analysis) -> None:
    by = {r.path: r for r in seed.rows}
    # conv1 pads 1: its first unit is centred on pixel 0; pool1 (k=2) on 0.5.
    assert by["conv1"].receptive_field.start == (0.0, 0.0)  # type: ignore[union-attr]
    assert by["pool1"].receptive_field.start == (0.5, 0.5)  # type: ignore[union-attr]
    assert by["pool2"].receptive_field.start == (1.5, 1.5)  # type: ignore[union-attr]


def test_unpadded_non_square_field() -> None:
    spec = archcalc.loads(
        "input: [1, 20, 30]\nlayers:\n  - conv2d: {out: 2, kernel: [3, 5], dilation: [1, 2]}\n"
        "  - maxpool2d: {kernel: [2, 3], stride: [2, 3]}\n"
    )
    a = archcalc.analyze(spec)
    conv, pool = a.rows
    # effective kernel: 3 and 2·(5−1)+1 = 9
    assert conv.output_shape == (2, 18, 22)
    assert conv.receptive_field.size == (3, 9)  # type: ignore[union-attr]
    assert conv.receptive_field.start == (1.0, 4.0)  # type: ignore[union-attr]
    assert pool.output_shape == (2, 9, 7)
    assert pool.receptive_field.size == (3 + 1, 9 + 2)  # type: ignore[union-attr]
    assert pool.receptive_field.jump == (2, 3)  # type: ignore[union-attr]


def _leaves(row: Row) -> list[Row]:
    return [row] if row.is_leaf else [leaf for c in row.children for leaf in _leaves(c)]


@pytest.mark.parametrize("path", ALL_EXAMPLES, ids=lambda p: p.stem)
def test_rows_sum_to_totals(path: Path) -> None:
    a = archcalc.analyze(archcalc.load(path))
    assert sum(r.params for r in a.rows) == a.totals.params
    assert sum(r.macs or 0 for r in a.rows) == a.totals.macs
    assert sum(r.activation_bytes for r in a.rows) == a.totals.activation_bytes
    assert [leaf for top in a.tree for leaf in _leaves(top)] == list(a.rows)
    for depth in (1, 2, 3):
        folded = a.rows_at_depth(depth)
        assert sum(r.params for r in folded) == a.totals.params
        assert sum(r.macs or 0 for r in folded) == a.totals.macs
        assert all(r.depth <= depth for r in folded)


def test_depth_folds_vgg_stages() -> None:
    a = archcalc.analyze(archcalc.load(EXAMPLES / "vgg16.yaml"))
    top = a.rows_at_depth(1)
    assert [r.path for r in top[:5]] == ["stage1", "stage2", "stage3", "stage4", "stage5"]
    # stage1: two 3×3 convs, 3→64 then 64→64
    assert top[0].params == (64 * 3 * 9 + 64) + (64 * 64 * 9 + 64) == 38_720
    assert top[0].output_shape == (64, 112, 112)


@pytest.mark.parametrize(
    ("name", "params", "macs"),
    [
        ("vgg16", 138_357_544, 15_470_264_320),
        ("resnet18", 11_689_512, 1_814_073_344),
        ("alexnet", 61_100_840, 714_188_480),
        ("googlenet", 6_624_904, 1_498_376_192),
    ],
)
def test_zoo_totals(name: str, params: int, macs: int) -> None:
    # Also asserted against the real torchvision models in tests/bridge.
    a = archcalc.analyze(archcalc.load(EXAMPLES / f"{name}.yaml"))
    assert (a.totals.params, a.totals.macs) == (params, macs)


def test_reanalysis_at_another_input_size() -> None:
    spec = archcalc.load(EXAMPLES / "mnist_cnn.yaml")
    a = archcalc.analyze(spec, (1, 224, 224))
    fc1 = next(r for r in a.rows if r.path == "fc1")
    assert fc1.params == 32 * 56 * 56 * 128 + 128 == 12_845_184


def test_batchnorm_statistics_are_buffers_not_parameters() -> None:
    a = archcalc.analyze(archcalc.loads("input: [8, 4, 4]\nlayers: [batchnorm2d]\n"))
    (bn,) = a.rows
    assert (bn.params, bn.buffers) == (2 * 8, 2 * 8 + 1)


def test_residual_and_concat_merge() -> None:
    spec = archcalc.loads(
        "input: [4, 16, 16]\nlayers:\n"
        "  - residual: {name: r, layers: [{conv2d: {out: 4, kernel: 3, padding: 1}}]}\n"
        "  - concat:\n"
        "      name: c\n"
        "      branches:\n"
        "        - [{conv2d: {out: 2, kernel: 1}}]\n"
        "        - [{conv2d: {out: 3, kernel: 5, padding: 2}}]\n"
    )
    a = archcalc.analyze(spec)
    assert a.output_shape == (5, 16, 16)
    assert [r.path for r in a.rows] == ["r.conv2d_0", "c.branch1.conv2d_0", "c.branch2.conv2d_0"]
    concat = a.tree[1]
    assert concat.receptive_field.size == (3 + 4, 3 + 4)  # type: ignore[union-attr]
    assert not a.notes


def test_misaligned_merge_is_reported() -> None:
    spec = archcalc.loads(
        "input: [1, 16, 16]\nlayers:\n  - concat:\n"
        "      - [{conv2d: {out: 1, kernel: 3, padding: 1}}]\n"
        "      - [{conv2d: {out: 1, kernel: 3, padding: [0, 1]}}, {conv2d: {out: 1, kernel: [3, 1],"
        " padding: [1, 0]}}]\n"
    )
    with pytest.raises(archcalc.ArchcalcError, match="spatial sizes"):
        archcalc.analyze(spec)
    spec = archcalc.loads(
        "input: [1, 16, 16]\nlayers:\n  - concat:\n"
        "      - [{conv2d: {out: 1, kernel: 3, padding: 1}}]\n"
        "      - [{conv2d: {out: 1, kernel: 2, padding: same}}]\n"
    )
    a = archcalc.analyze(spec)
    # torch pads the even kernel 0 before, 1 after: its field starts at 0.5, not 0.
    assert a.rows[1].receptive_field.start == (0.5, 0.5)  # type: ignore[union-attr]
    assert a.notes and "misaligned" in a.notes[0]
    # The merged unit sees the union: [−1, 1] ∪ [0, 1] = 3 pixels, centred on 0.
    assert a.tree[0].receptive_field.size == (3, 3)  # type: ignore[union-attr]
    assert a.tree[0].receptive_field.start == (0.0, 0.0)  # type: ignore[union-attr]
