"""``--input`` at any rank: F, C×L, C×H×W, C×D×H×W, for specs and for ``--module``."""

from __future__ import annotations

import argparse
import json

import pytest

from archcalc.cli.common import input_shape, resolve_input
from tests.helpers import run_cli


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("784", (784,)),
        ("1x16000", (1, 16000)),
        ("3x224x224", (3, 224, 224)),
        ("3x16x112x112", (3, 16, 112, 112)),
    ],
)
def test_every_rank_parses(text: str, shape: tuple[int, ...]) -> None:
    assert input_shape(text) == shape


@pytest.mark.parametrize("text", ["1x2x3x4x5", "3x0x8", "3xbig"])
def test_bad_sizes_say_what_is_expected(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="expects"):
        input_shape(text)


def test_a_spec_input_less_its_channels_keeps_them() -> None:
    assert resolve_input((56, 56), (1, 28, 28)) == (1, 56, 56)
    assert resolve_input((8, 56, 56), (3, 16, 112, 112)) == (3, 8, 56, 56)
    assert resolve_input((1, 16000), (1, 8000)) == (1, 16000)  # C×L for a C×L spec


def test_a_waveform_spec_at_another_length() -> None:
    r = run_cli("summary", "examples/m5.yaml", "--input", "1x16000", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["input_shape"] == [1, 16000]
    default = json.loads(run_cli("summary", "examples/m5.yaml", "--json").stdout)
    assert data["totals"]["params"] == default["totals"]["params"]
    assert data["totals"]["macs"] > default["totals"]["macs"]


def test_a_video_module_summarises_with_conv3d_rows() -> None:
    pytest.importorskip("torchvision")
    r = run_cli(
        "summary",
        "--module",
        "torchvision.models.video:r3d_18",
        "--input",
        "3x16x112x112",
        "--json",
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    import torchvision

    weights = torchvision.models.video.R3D_18_Weights.KINETICS400_V1
    assert data["totals"]["params"] == weights.meta["num_params"]
    assert round(data["totals"]["macs"] / 1e9, 2) == round(weights.meta["_ops"], 2)
    kinds = {layer["kind"] for layer in data["layers"]}
    assert "conv3d" in kinds  # Conv3DSimple: an nn.Conv3d subclass keeping its forward
    assert "uncounted" not in data["totals"]
