"""Torch's argument names get archcalc's word; an H, W, C input gets the C, H, W order."""

from __future__ import annotations

import pytest

import archcalc
from archcalc.kinds.base import check_input_order, input_order_error, torch_name_hint
from archcalc.spec.tree import from_python


def _load(layer: str, input_: str = "[8, 6, 6]") -> archcalc.Spec:
    return archcalc.loads(f"input: {input_}\nlayers:\n  - {layer}\n", filename="k.yaml")


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        (
            "conv2d: {out_channels: 4, kernel: 3}",
            r"conv2d has no argument `out_channels` — .*`out`",
        ),
        (
            "conv2d: {out: 4, kernel_size: 3}",
            r"no argument `kernel_size` — .*archcalc writes `kernel`",
        ),
        (
            "conv2d: {in_channels: 8, out: 4, kernel: 3}",
            r"no argument `in_channels` — `in_channels` is inferred from the input shape, never",
        ),
        ("maxpool2d: {kernel_size: 2}", r"maxpool2d has no argument `kernel_size` — .*`kernel`"),
        ("adaptive_avg_pool2d: {output_size: 2}", r"no argument `output_size` — .*`output`"),
        ("batchnorm2d: {num_features: 8}", r"`num_features` is inferred from the input shape"),
        ("prelu: {num_parameters: 8}", r"no argument `num_parameters` — .*`per_channel: true`"),
        ("relu: {inplace: true}", r"no argument `inplace` — `inplace` is torch's; archcalc builds"),
        ("softmax: {dim: -1}", r"no argument `dim` — .*always runs over channels"),
        ("elu: {alpha: 1.0, inplace: true}", r"no argument `inplace`"),
    ],
)
def test_torch_argument_names_point_to_archcalc_words(layer: str, message: str) -> None:
    with pytest.raises(archcalc.ArchcalcError, match=message) as err:
        _load(layer)
    assert str(err.value).startswith("k.yaml:3:")


def test_linear_out_features_is_named_in_a_flat_spec() -> None:
    with pytest.raises(archcalc.ArchcalcError, match=r"no argument `out_features` — .*`out`"):
        _load("linear: {out_features: 10}", "[12]")


def test_a_torch_word_is_offered_only_where_the_kind_takes_it() -> None:
    assert torch_name_hint("maxpool2d", "out_channels", ["kernel", "stride"]) is None
    assert torch_name_hint("conv2d", "out_channels", ["out", "kernel"]) is not None
    assert torch_name_hint("relu", "dim", []) is None  # dim is softmax's word only
    assert torch_name_hint("conv2d", "stride", ["out", "stride"]) is None


@pytest.mark.parametrize("dims", [(28, 28, 1), (32, 32, 3), (224, 224, 3)])
def test_an_input_in_h_w_c_order_is_named(dims: tuple[int, int, int]) -> None:
    error = input_order_error(from_python(list(dims)), dims)
    assert error is not None
    h, w, c = dims
    assert "looks like H, W, C" in error.message
    assert f"write `input: [{c}, {h}, {w}]`" in str(error)
    with pytest.raises(archcalc.ArchcalcError, match=r"`input` expects \[C, H, W\], but gets"):
        check_input_order(from_python(list(dims)), dims)


@pytest.mark.parametrize(
    "dims", [(1, 28, 28), (3, 224, 224), (64, 128, 1), (4, 4, 3), (3, 3, 3), (784,), (8, 8, 2)]
)
def test_c_h_w_inputs_and_signals_are_left_alone(dims: tuple[int, ...]) -> None:
    assert input_order_error(from_python(list(dims)), dims) is None
