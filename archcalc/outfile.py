"""Writing an output file safely: every command that writes a file goes through here.

archcalc is run by people who type ``-o /dev/null`` to throw a report away, by
CI jobs as root, and on specs downloaded from anywhere. A plain ``os.replace``
onto the target would turn ``/dev/null`` into a regular file, write through a
symbolic link to wherever it points, or replace the spec being read. So an
output path must be either a regular file or a path that does not exist yet;
it is never a link, a folder, a device, a FIFO or a socket, and never one of
the command's inputs. The new contents go to a temporary file in the same
folder, are flushed to disk, and replace the target in one ``os.replace``, so
a reader (or a crash) sees the old file or the new one, never half of one.

Every refusal and every OSError is an ArchcalcError naming the path: one line.
Nothing here imports torch.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

from archcalc.errors import ArchcalcError

StrPath = str | os.PathLike[str]

# Where supported, opening the temporary file never follows a link planted under its name.
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_CREATE |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def check_target(
    path: StrPath, *, inputs: Iterable[StrPath] = (), example: str | None = None
) -> None:
    """Refuse ``path`` as an output unless it is a regular file or a new path in a folder.

    ``inputs`` are the files the command reads (e.g. the spec): writing onto one
    of them (the same file under any name, hard links included) is refused.
    ``example`` is a file name suggested when ``path`` is a folder.
    Raises ArchcalcError, one line naming the path.
    """
    text = os.fspath(path)
    if not text or text.endswith(("/", os.sep)):
        raise _refuse(path, "expects a file name, not a folder path")
    try:
        st = os.lstat(text)
    except FileNotFoundError:
        _check_folder(path)
        return
    except OSError as err:
        raise _refuse(path, err.strerror or type(err).__name__) from None
    if stat.S_ISLNK(st.st_mode):
        raise _refuse(
            path,
            "it is a symbolic link, and archcalc never writes through one",
            hint="remove the link or choose another path",
        )
    if stat.S_ISDIR(st.st_mode):
        raise _refuse(
            path,
            "it is a folder",
            hint=f"name a file in it, e.g. {Path(path) / example}" if example else None,
        )
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(
            path,
            f"it is a {_kind(st.st_mode)}, and archcalc writes only regular files",
            hint="choose a file path",
        )
    for source in inputs:
        with contextlib.suppress(OSError):  # an input that vanished cannot be overwritten
            if os.path.samefile(text, source):
                raise _refuse(
                    path,
                    f"it is the input {os.fspath(source)!r}, which writing would replace",
                    hint="choose another output path",
                )


def write_bytes(path: StrPath, data: bytes, *, inputs: Iterable[StrPath] = ()) -> None:
    """Atomically replace (or create) the regular file ``path`` with ``data``.

    Checks ``path`` with :func:`check_target` first, and again just before the
    rename, so a device or link put there meanwhile is not replaced either.
    The file gets the usual permissions (0666 less the umask). On any failure
    the previous file is left as it was and no temporary file remains.
    Raises ArchcalcError (one line naming ``path`` and the system's reason).
    """
    inputs = tuple(inputs)
    check_target(path, inputs=inputs)
    target = Path(path)
    # Short prefix: a 250-character name plus the suffix must still fit the 255-byte limit.
    tmp = target.with_name(f".{target.name[:64]}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, _CREATE, 0o666)
    except OSError as err:
        raise _refuse(path, err.strerror or type(err).__name__) from None
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        check_target(path, inputs=inputs)
        os.replace(tmp, target)
    except OSError as err:
        _unlink_quietly(tmp)
        raise _refuse(path, err.strerror or type(err).__name__) from None
    except BaseException:  # Ctrl-C, or a refusal from the second check: no temp file left
        _unlink_quietly(tmp)
        raise
    _sync_folder(target.parent)


def write_text(path: StrPath, text: str, *, inputs: Iterable[StrPath] = ()) -> None:
    """:func:`write_bytes` of ``text`` as UTF-8 with ``\\n`` line ends."""
    write_bytes(path, text.encode("utf-8"), inputs=inputs)


def probe_folder(folder: StrPath) -> None:
    """Make ``folder`` (and its parents) and prove a file can be created and removed in it.

    Run before long work (training) whose results would otherwise be lost to a
    read-only or missing folder at the end. Raises ArchcalcError naming the folder.
    """
    where = Path(folder)
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ArchcalcError(
            f"cannot create the folder {os.fspath(folder)!r}: {err.strerror or err}"
        ) from None
    probe = where / f".archcalc-probe.{secrets.token_hex(6)}.tmp"
    try:
        fd = os.open(probe, _CREATE, 0o666)
        try:
            _write_all(fd, b"\0")
        finally:
            os.close(fd)
        os.unlink(probe)
    except OSError as err:
        _unlink_quietly(probe)
        raise ArchcalcError(
            f"cannot write in the folder {os.fspath(folder)!r}: {err.strerror or err}",
            hint="choose a writable folder",
        ) from None


def remove_own(path: StrPath) -> None:
    """Remove ``path`` if it is a regular file (a file archcalc wrote); a missing one is fine.

    Anything else under that name (a link, a folder, a device) is refused, never
    removed: ``--force`` replaces a run, not whatever a folder happens to hold.
    """
    check_target(path)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        raise ArchcalcError(f"cannot remove {os.fspath(path)!r}: {err.strerror or err}") from None


# ---------------------------------------------------------------- helpers


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte (os.write may write fewer than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _check_folder(path: StrPath) -> None:
    parent = Path(path).parent
    if not parent.exists():
        raise _refuse(path, f"the folder {os.fspath(parent)!r} does not exist")
    if not parent.is_dir():
        raise _refuse(path, f"{os.fspath(parent)!r} is not a folder")


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def _refuse(path: StrPath, reason: str, *, hint: str | None = None) -> ArchcalcError:
    return ArchcalcError(f"cannot write {os.fspath(path)!r}: {reason}", hint=hint)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _sync_folder(folder: Path) -> None:
    """Flush the folder entry of the rename too (POSIX); harmless to skip where unsupported."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
