"""Torch child names (`0`, `block1-0`) as layer names, and `from:` on block calls.

Both exist so that `archcalc export` can write any module's paths exactly: a
Sequential names its children by number, RegNet with a dash, and a container's
child often reads a tensor other than the one before it.
"""

from __future__ import annotations

import pytest

import archcalc
from archcalc.errors import ArchcalcError
from archcalc.graph import lower

SEQ = """
input: [3, 8, 8]
blocks:
  cbr:
    params: [c]
    layers:
      - conv2d: {name: 0, out: $c, kernel: 3, padding: 1}
      - batchnorm2d: {name: 1}
      - relu: {name: 2}
layers:
  - cbr: {name: 0, c: 4}
  - cbr: {name: block1-0, c: 4}
  - cbr: {name: proj, from: 0, c: 4}
  - add: {name: sum, from: [block1-0, proj]}
"""


def test_digit_and_dash_names_make_torch_paths() -> None:
    spec = archcalc.loads(SEQ)
    paths = [leaf.path for leaf in spec.leaves()]
    assert paths[:3] == ["0.0", "0.1", "0.2"]
    assert "block1-0.0" in paths
    assert archcalc.analyze(spec).output_shape == (4, 8, 8)


def test_a_block_call_reads_its_from() -> None:
    graph = lower(archcalc.loads(SEQ))
    proj = graph.scopes["proj"]
    assert proj.input == graph.scopes["0"].output  # not block1-0's output, the one before it


def test_unknown_from_on_a_block_call_is_located() -> None:
    text = SEQ.replace("from: 0, c: 4", "from: nothere, c: 4")
    with pytest.raises(ArchcalcError, match=r"no tensor named `nothere`") as err:
        archcalc.loads(text)
    assert err.value.line is not None


@pytest.mark.parametrize("bad", ["a..b", "a.-x", "-x", "'x y'", "1.5", "true"])
def test_other_names_are_still_refused(bad: str) -> None:
    with pytest.raises(ArchcalcError, match=r"`name` expects an identifier"):
        archcalc.loads(f"input: [1, 8, 8]\nlayers:\n  - relu: {{name: {bad}}}\n")
