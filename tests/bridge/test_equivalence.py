"""The zoo against torchvision: same weights in, same logits out; same parameters and MACs.

Nothing is downloaded: torchvision's models are randomly initialised (seeded),
their weights loaded into ``archcalc.build``'s module through the shipped
mappings, and both run on one fixed input.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import archcalc
from archcalc.bridge.mapping import (
    available,
    load_mapping,
    load_torchvision_weights,
    torchvision_state_dict,
)
from tests.helpers import EXAMPLES


def randomise_batchnorm(model: nn.Module) -> None:
    """Fresh batch norms are the identity (γ=1, β=0, mean 0, var 1); swapped ones would pass."""
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            assert module.running_mean is not None and module.running_var is not None
            with torch.no_grad():
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)


@pytest.mark.parametrize("name", ["resnet18", "vgg16", "alexnet"])
def test_build_with_torchvision_weights_gives_torchvision_logits(name: str) -> None:
    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)().eval()
    randomise_batchnorm(reference)
    model = archcalc.build(archcalc.load(EXAMPLES / f"{name}.yaml")).eval()
    load_torchvision_weights(model, name, reference)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = reference(x)
        got = model(x)
    assert got.shape == (1, 1000)
    assert expected.std() > 1e-3  # logits that differ from class to class: a real check
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_every_shipped_mapping_has_its_test() -> None:
    from tests.bridge.test_zoo import ZOO  # here: test_zoo imports this module

    # Here, test_zoo's logits test (ZOO) and test_fcn's segmentation test.
    assert set(available()) == {"alexnet", "resnet18", "vgg16", "fcn_resnet50", *ZOO}


ZOO_MACS = {  # fvcore's MACs for one 224×224 image, as FlopCounterMode measures them below
    "vgg16": 15_470_264_320,
    "resnet18": 1_814_073_344,
    "alexnet": 714_188_480,
    "googlenet": 1_498_376_192,
}


@pytest.mark.parametrize("name", sorted(ZOO_MACS))
def test_zoo_totals_are_the_real_torchvision_models(name: str) -> None:
    kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    with torch.device("meta"):  # shapes only: no weights to initialise, no arithmetic
        real = getattr(torchvision.models, name)(**kwargs).eval()
        x = torch.empty(1, 3, 224, 224)
    with FlopCounterMode(display=False) as counter:
        real(x)
    measured_macs = counter.get_total_flops() // 2  # a multiply-add is two FLOPs
    analysis = archcalc.analyze(archcalc.load(EXAMPLES / f"{name}.yaml"))

    assert analysis.totals.params == sum(p.numel() for p in real.parameters())
    assert analysis.totals.buffers == sum(b.numel() for b in real.buffers())
    assert measured_macs == ZOO_MACS[name]
    assert analysis.totals.macs == measured_macs


# ---------------------------------------------------------------- mapping mistakes


@pytest.fixture(scope="module")
def alexnet_meta() -> tuple[nn.Module, nn.Module]:
    """archcalc's and torchvision's AlexNet without memory: the checks run before loading."""
    with torch.device("meta"):
        model = archcalc.build(archcalc.load(EXAMPLES / "alexnet.yaml"))
        return model, torchvision.models.alexnet()


def test_keys_are_renamed_by_the_rules() -> None:
    resnet = load_mapping("resnet18")
    assert resnet.target("layer3.0.downsample.1.running_var") == (
        "layer3_0.res.shortcut.bn.running_var"
    )
    assert resnet.target("layer1.1.conv2.weight") == "layer1_1.res.conv2.weight"
    assert load_mapping("vgg16").target("features.28.bias") == "stage5.convs.2.conv.bias"


def test_a_key_no_rule_knows_is_named(alexnet_meta: tuple[nn.Module, nn.Module]) -> None:
    model, reference = alexnet_meta
    tensors = {**reference.state_dict(), "features.1.weight": torch.empty(3)}
    with pytest.raises(archcalc.ArchcalcError, match=re.escape("`features.1.weight` matches no")):
        load_torchvision_weights(model, "alexnet", tensors)


def test_a_missing_weight_is_named(alexnet_meta: tuple[nn.Module, nn.Module]) -> None:
    model, reference = alexnet_meta
    tensors = {k: v for k, v in reference.state_dict().items() if k != "classifier.4.bias"}
    message = "the model expects `fc7.bias`, but no torchvision key maps to it"
    with pytest.raises(archcalc.ArchcalcError, match=re.escape(message)):
        load_torchvision_weights(model, "alexnet", tensors)


def test_a_weight_the_model_lacks_is_named(alexnet_meta: tuple[nn.Module, nn.Module]) -> None:
    _, reference = alexnet_meta
    spec = archcalc.load(EXAMPLES / "alexnet.yaml")
    with torch.device("meta"):
        model = archcalc.build(spec)
        del model.fc8  # e.g. a spec with its last layer cut off
    with pytest.raises(archcalc.ArchcalcError, match=r"`classifier.6.\w+` maps to `fc8"):
        load_torchvision_weights(model, "alexnet", reference)


def test_a_shape_mismatch_is_named(alexnet_meta: tuple[nn.Module, nn.Module]) -> None:
    _, reference = alexnet_meta
    spec = archcalc.loads((EXAMPLES / "alexnet.yaml").read_text().replace("out: 1000", "out: 10"))
    with torch.device("meta"):
        model = archcalc.build(spec)
    with pytest.raises(
        archcalc.ArchcalcError,
        match=re.escape(
            "`fc8.weight` expects shape 10×4096, but torchvision key `classifier.6.weight` has "
            "1000×4096"
        ),
    ):
        load_torchvision_weights(model, "alexnet", reference)


def test_an_unknown_mapping_suggests_the_nearest() -> None:
    message = "no mapping called `resnet81` — did you mean `resnet18`?"
    with pytest.raises(archcalc.ArchcalcError, match=re.escape(message)):
        load_mapping("resnet81")


def test_a_mapping_of_ones_own(tmp_path: Path, alexnet_meta: tuple[nn.Module, nn.Module]) -> None:
    _, reference = alexnet_meta
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps(
            {
                "modules": [
                    ["features.{i}", "conv.{i}"],
                    ["classifier.{i}", "fc.{i}"],
                ]
            }
        )
    )
    renamed = torchvision_state_dict(path, reference)
    assert "conv.10.weight" in renamed and "fc.6.bias" in renamed
    path.write_text(json.dumps({"modules": [["features.{i}", "conv.{j}"]]}))
    with pytest.raises(archcalc.ArchcalcError, match=r"uses \{j\}, which .* does not define"):
        load_mapping(path)
    path.write_text(json.dumps({"modules": [["features.{i}", "x"], ["features.0", "y"]]}))
    with pytest.raises(archcalc.ArchcalcError, match="matches two rules"):
        torchvision_state_dict(path, reference)
