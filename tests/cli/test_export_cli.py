"""``archcalc export PKG.MOD:FACTORY --input SHAPE [-o FILE] [--flat]``, as a user runs it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import archcalc
from archcalc.cli.main import main
from tests.bridge.test_export import SmallNet
from tests.helpers import run_cli

pytest.importorskip("torchvision")

TARGET = "tests.bridge.test_export:SmallNet"


def test_a_users_module_to_stdout_round_trips() -> None:
    result = run_cli("export", TARGET, "--input", "3x32x32", timeout=180)
    assert result.returncode == 0, result.stderr
    spec = archcalc.loads(result.stdout)
    assert spec.input_shape == (3, 32, 32)
    module = SmallNet()
    model = archcalc.build(spec)
    model.load_state_dict(module.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    module.eval()
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(x), module(x), atol=1e-5)


def test_output_file_and_flat(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folded, flat = tmp_path / "net.yaml", tmp_path / "flat.yaml"
    assert main(["export", TARGET, "--input", "3x32x32", "-o", str(folded)]) == 0
    assert main(["export", TARGET, "--input", "3x32x32", "--flat", "-o", str(flat)]) == 0
    assert capsys.readouterr().out.split() == [str(folded), str(flat)]
    a, b = archcalc.analyze(str(folded)), archcalc.analyze(str(flat))
    assert a.totals.params == b.totals.params == sum(p.numel() for p in SmallNet().parameters())
    assert a.totals.macs == b.totals.macs
    assert folded.read_text().startswith("# Exported by `archcalc export` from " + TARGET)


def test_a_refusal_is_one_line_exit_2_and_leaves_the_file_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "vit.yaml"
    out.write_text("keep me\n")
    status = main(["export", "torchvision.models:vit_b_16", "--input", "3x224x224", "-o", str(out)])
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("encoder.layers.encoder_layer_0.self_attention (MultiheadAttention): ")
    assert "attention" in err
    assert out.read_text() == "keep me\n"
    assert os.listdir(tmp_path) == ["vit.yaml"]  # no temporary file left behind either


def test_bad_targets_and_options_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "torchvision.models:no_such_net", "--input", "3x32x32"]) == 2
    assert "has no attribute `no_such_net`" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["export", TARGET])
    assert exit_.value.code == 2
    assert "--input" in capsys.readouterr().err


def test_an_output_path_that_is_a_folder_is_refused_before_tracing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "no.such.module:x", "--input", "3x8x8", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path) in err and "cannot import" not in err


def test_without_torch_export_says_so_in_one_line(tmp_path: Path) -> None:
    from tests.cli.test_without_torch import HIDDEN, INSTALL, run_without

    for name in HIDDEN:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{name}'\", name={name!r})\n"
        )
    out = tmp_path / "never.yaml"
    result = run_without(tmp_path, "export", TARGET, "--input", "3x32x32", "-o", str(out))
    assert result.returncode == 2
    needs = "error: archcalc export needs torch, which is not installed"
    assert result.stderr == f"{needs} — {INSTALL}\n"
    assert not out.exists()


def test_readme_shows_what_export_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.helpers import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Start from an existing model", 1)[1]
    shown = section.split("```yaml\n", 1)[1].split("```", 1)[0].splitlines()
    cut = next(i for i, line in enumerate(shown) if line.strip().startswith("# …"))
    out = tmp_path / "resnet50.yaml"
    assert (
        main(["export", "torchvision.models:resnet50", "--input", "3x224x224", "-o", str(out)]) == 0
    )
    written = out.read_text().splitlines()
    assert written[:cut] == shown[:cut]
    assert written[-(len(shown) - cut - 1) :] == shown[cut + 1 :]
    capsys.readouterr()
    assert main(["export", "torchvision.models:vit_b_16", "--input", "3x224x224"]) == 2
    error = capsys.readouterr().err
    assert (
        f"$ archcalc export torchvision.models:vit_b_16 --input 3x224x224 -o vit.yaml\n{error}"
        in readme
    )
