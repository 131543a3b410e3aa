"""archcalc.outfile: outputs go only to a regular file or a new path, atomically."""

from __future__ import annotations

import errno
import os
import socket
import stat
from pathlib import Path

import pytest

from archcalc import outfile
from archcalc.errors import ArchcalcError


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_writes_a_new_file_and_replaces_a_regular_one(tmp_path: Path) -> None:
    target = tmp_path / "out.html"
    outfile.write_text(target, "first\n")
    assert target.read_text() == "first\n"
    outfile.write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert names(tmp_path) == ["out.html"]  # no temporary file left behind
    # The usual permissions (umask applies), not mkstemp's private 0600.
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_a_symlink_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    link = tmp_path / "link.html"
    link.symlink_to(victim)
    with pytest.raises(ArchcalcError, match=r"link\.html': it is a symbolic link"):
        outfile.write_text(link, "page")
    assert link.is_symlink() and victim.read_text() == "keep"
    # A dangling link is a link too: writing would create the file it points at.
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ArchcalcError, match="symbolic link"):
        outfile.write_text(dangling, "page")
    assert not (tmp_path / "elsewhere").exists()


def test_a_fifo_is_refused_and_stays_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ArchcalcError, match=r"pipe': it is a FIFO \(named pipe\)"):
        outfile.write_text(fifo, "page")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert names(tmp_path) == ["pipe"]


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(ArchcalcError, match="it is a socket"):
            outfile.check_target(path)


def test_dev_null_is_refused_by_the_check_alone() -> None:
    # Only the check runs here, never a writer: a wrong answer must not be able to harm /dev/null.
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null on this system")
    with pytest.raises(ArchcalcError, match=r"'/dev/null': it is a character device"):
        outfile.check_target("/dev/null")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_folder_is_refused_with_an_example(tmp_path: Path) -> None:
    with pytest.raises(
        ArchcalcError, match=r"it is a folder — name a file in it, e\.g\. .*r\.html"
    ):
        outfile.check_target(tmp_path, example="r.html")
    with pytest.raises(ArchcalcError, match="expects a file name, not a folder path"):
        outfile.check_target(f"{tmp_path}/new/")


def test_the_input_is_refused_under_any_name(tmp_path: Path) -> None:
    spec = tmp_path / "net.yaml"
    spec.write_text("name: x\n")
    other = tmp_path / "hard.yaml"
    os.link(spec, other)
    for target in (spec, other, tmp_path / "." / "net.yaml"):
        with pytest.raises(ArchcalcError, match=r"it is the input '.*net\.yaml'"):
            outfile.write_text(target, "page", inputs=[spec])
    assert spec.read_text() == "name: x\n"


def test_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ArchcalcError, match=r"the folder '.*missing' does not exist"):
        outfile.write_text(tmp_path / "missing" / "r.html", "page")


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.html"
    target.write_text("old")

    def full(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(outfile, "_write_all", full)
    with pytest.raises(ArchcalcError, match=r"cannot write '.*r\.html': No space left on device"):
        outfile.write_text(target, "new")
    assert target.read_text() == "old"
    assert names(tmp_path) == ["r.html"]


def test_a_device_put_there_after_the_check_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check runs again just before the rename: a FIFO made meanwhile survives.
    target = tmp_path / "r.html"
    real = outfile._write_all

    def then_a_fifo_appears(fd: int, data: bytes) -> None:
        real(fd, data)
        os.mkfifo(target)

    monkeypatch.setattr(outfile, "_write_all", then_a_fifo_appears)
    with pytest.raises(ArchcalcError, match="FIFO"):
        outfile.write_text(target, "page")
    assert stat.S_ISFIFO(os.lstat(target).st_mode)
    assert names(tmp_path) == ["r.html"]


def test_probe_folder_creates_it_and_leaves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    outfile.probe_folder(folder)
    assert folder.is_dir() and names(folder) == []
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ArchcalcError, match=r"cannot create the folder '.*file/sub'"):
        outfile.probe_folder(blocker / "sub")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_probe_folder_refuses_a_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ArchcalcError, match=r"cannot write in the folder '.*ro': Permission"):
            outfile.probe_folder(folder)
    finally:
        folder.chmod(0o755)


def test_remove_own_removes_files_only(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    link = tmp_path / "checkpoint.pt"
    link.symlink_to(victim)
    with pytest.raises(ArchcalcError, match="symbolic link"):
        outfile.remove_own(link)
    assert link.is_symlink() and victim.read_text() == "keep"
    mine = tmp_path / "metrics.json"
    mine.write_text("{}")
    outfile.remove_own(mine)
    outfile.remove_own(mine)  # already gone: fine
    assert not mine.exists()
