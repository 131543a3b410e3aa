"""The top-level Python API: ``archcalc.analyze`` takes a Spec or a path, and says so."""

from __future__ import annotations

from pathlib import Path

import pytest

import archcalc
from tests.helpers import EXAMPLES


@pytest.mark.parametrize(
    "given",
    [
        str(EXAMPLES / "mnist_cnn.yaml"),
        EXAMPLES / "mnist_cnn.yaml",
        archcalc.load(EXAMPLES / "mnist_cnn.yaml"),
    ],
    ids=["str", "Path", "Spec"],
)
def test_analyze_takes_a_spec_or_a_path(given: object) -> None:
    result = archcalc.analyze(given)  # type: ignore[arg-type]
    assert result.totals.params == 206922
    assert archcalc.analyze(given, (1, 56, 56)).rows[7].params == 32 * 14 * 14 * 128 + 128  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "match"),
    [
        (
            {"input": [1, 28, 28], "layers": ["flatten"]},
            r"gets dict — for a dict, analyze\(archcalc\.from_dict",
        ),
        (b"examples/mnist_cnn.yaml", r"gets bytes"),
        ("input: [1, 28, 28]\nlayers: [flatten]\n", r"gets YAML text — analyze\(archcalc\.loads"),
        (42, r"expects a Spec or a path to a YAML spec, but gets int$"),
        (None, r"but gets NoneType$"),
    ],
)
def test_analyze_refuses_anything_else_with_a_type_error(given: object, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        archcalc.analyze(given)  # type: ignore[arg-type]


def test_a_missing_path_is_the_usual_archcalc_error(tmp_path: Path) -> None:
    with pytest.raises(archcalc.ArchcalcError, match="no such file"):
        archcalc.analyze(tmp_path / "nope.yaml")
