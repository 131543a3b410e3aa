"""``archcalc report -o``: writes only a regular file or a new path, never onto what it reads."""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

import pytest

from archcalc.cli.main import main
from tests.helpers import EXAMPLES


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["report", *args])
    out, err = capsys.readouterr()
    return status, out, err


def assert_refused(result: tuple[int, str, str], pattern: str) -> None:
    status, out, err = result
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert re.search(pattern, err), err


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    copy = tmp_path / "net.yaml"
    shutil.copy(EXAMPLES / "mnist_cnn.yaml", copy)
    return copy


def test_a_symlink_target_is_refused_and_what_it_points_at_kept(
    capsys: pytest.CaptureFixture[str], spec: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    link = tmp_path / "r.html"
    link.symlink_to(victim)
    assert_refused(report(capsys, str(spec), "-o", str(link)), r"it is a symbolic link")
    assert link.is_symlink() and victim.read_text() == "keep"


def test_a_fifo_target_is_refused_and_stays_a_fifo(
    capsys: pytest.CaptureFixture[str], spec: Path, tmp_path: Path
) -> None:
    # The device case, safely: /dev/null itself is only ever given to the check (test_outfile).
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert_refused(
        report(capsys, str(spec), "-o", str(fifo)),
        r"^error: cannot write '.*pipe': it is a FIFO \(named pipe\), and archcalc writes only "
        r"regular files",
    )
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_the_spec_itself_is_refused(
    capsys: pytest.CaptureFixture[str], spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = spec.read_bytes()
    assert_refused(report(capsys, str(spec), "-o", str(spec)), r"it is the input '.*net\.yaml'")
    monkeypatch.chdir(tmp_path)
    assert_refused(report(capsys, "net.yaml", "-o", "./net.yaml"), r"it is the input 'net\.yaml'")
    assert spec.read_bytes() == before


def test_a_folder_target_is_refused(
    capsys: pytest.CaptureFixture[str], spec: Path, tmp_path: Path
) -> None:
    assert_refused(report(capsys, str(spec), "-o", str(tmp_path)), r"it is a folder")


def test_a_regular_file_is_replaced_atomically(
    capsys: pytest.CaptureFixture[str], spec: Path, tmp_path: Path
) -> None:
    target = tmp_path / "r.html"
    target.write_text("old")
    status, out, err = report(capsys, str(spec), "-o", str(target))
    assert (status, out.strip(), err) == (0, str(target), "")
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.yaml", "r.html"]
