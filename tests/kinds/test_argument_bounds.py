"""Every numeric argument is bounded to what torch accepts and what is sane, at its value."""

from __future__ import annotations

import pytest

import archcalc


def _load(layer: str, input_: str = "[8, 4, 4]") -> archcalc.Spec:
    return archcalc.loads(f"input: {input_}\nlayers:\n  - {layer}\n", filename="k.yaml")


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ("leaky_relu: 1.0e+300", r"`negative_slope` expects a finite number .*, but gets 1e\+300"),
        ("leaky_relu: .inf", r"`negative_slope` expects a finite number .*, but gets \.inf — "),
        ("leaky_relu: -.inf", r"`negative_slope` expects a finite number .*, but gets -\.inf — "),
        ("leaky_relu: " + "9" * 400, r"expects a finite number .*, but gets an integer of 400 "),
        ("leaky_relu: 101", r"`negative_slope` expects a number in \[-100, 100\], but gets 101 — "),
        ("leaky_relu: {negative_slope: -250.5}", r"in \[-100, 100\], but gets -250\.5 — "),
        ("leaky_relu: .nan", r"`negative_slope` expects a number, but gets `nan`"),
        ("local_response_norm: 2147483647", r"`size` expects at most 1024, but gets 2147483647"),
        ("local_response_norm: 1025", r"`size` expects at most 1024, but gets 1025"),
        ("local_response_norm: {size: 5, alpha: -1.0}", r"`alpha` expects a number in \[0, ∞\)"),
        ("local_response_norm: {size: 5, beta: -0.5}", r"`beta` expects a number in \[0, ∞\)"),
        ("local_response_norm: {size: 5, k: 0}", r"`k` expects a number in \(0, ∞\), but gets 0"),
        ("local_response_norm: {size: 5, k: .inf}", r"`k` expects a finite number"),
        ("batchnorm2d: {eps: .inf}", r"`eps` expects a finite number"),
        ("batchnorm2d: {eps: 0}", r"`eps` expects a number in \(0, ∞\), but gets 0"),
        ("batchnorm2d: {momentum: 1.5}", r"`momentum` expects a number in \[0, 1\], but gets 1\.5"),
        ("dropout: -0.1", r"`p` expects a number in \[0, 1\], but gets -0\.1"),
        ("dropout: .nan", r"`p` expects a number, but gets `nan`"),
        ("dropout: 3.0e+38", r"`p` expects a number in \[0, 1\]"),
        ("dropout: 4.0e+38", r"`p` expects a finite number \(within ±3\.4e38"),
        ("dropout2d: 1.5", r"`p` expects a number in \[0, 1\], but gets 1\.5"),
        ("elu: -0.5", r"`alpha` expects a number in \[0, 100\], but gets -0\.5"),
        ("elu: {alpha: .inf}", r"`alpha` expects a finite number"),
        ("softplus: 0", r"`beta` expects a number in \(0, ∞\), but gets 0"),
        ("softplus: {beta: -1.0}", r"`beta` expects a number in \(0, ∞\), but gets -1 "),
        ("softplus: {threshold: .inf}", r"`threshold` expects a finite number"),
        ("softplus: {threshold: .nan}", r"`threshold` expects a number, but gets `nan`"),
        ("prelu: {per_channel: 8}", r"`per_channel` expects true or false, but gets"),
    ],
)
def test_out_of_range_arguments_are_located_errors(layer: str, message: str) -> None:
    with pytest.raises(archcalc.ArchcalcError, match=message) as err:
        _load(layer)
    assert str(err.value).startswith("k.yaml:3:")
    if "per_channel" not in layer:  # a boolean's type is its own hint
        assert " — " in str(err.value)  # every refusal carries a hint


@pytest.mark.parametrize(
    "layer",
    [
        "leaky_relu: 100",
        "leaky_relu: -100",
        "leaky_relu: 0.2",
        "local_response_norm: 1024",
        "local_response_norm: {size: 5, alpha: 0, beta: 0, k: 1.0e-9}",
        "batchnorm2d: {eps: 1.0e+30, momentum: 0}",
        "dropout: 1",
        "dropout2d: 0",
        "elu: 100",
        "elu: {alpha: 0}",
        "softplus: {beta: 1.0e-30, threshold: -3.0e+38}",
        "prelu: {per_channel: true}",
        "relu6",
        "selu",
    ],
)
def test_arguments_at_the_bounds_are_accepted(layer: str) -> None:
    a = archcalc.analyze(_load(layer))
    assert a.output_shape == (8, 4, 4)
