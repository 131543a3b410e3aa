"""Run a command and report its wall time and peak memory (max RSS), per process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def archcalc_command() -> list[str]:
    """The installed console script beside this interpreter, as a user runs it."""
    script = Path(sys.executable).parent / "archcalc"
    return [str(script)] if script.exists() else [sys.executable, "-m", "archcalc"]


# As on a user's machine, where Python caches compiled bytecode (pip compiles it at install,
# an editable install writes it on first import). Some sandboxes and CI images set
# PYTHONDONTWRITEBYTECODE, which would make every run recompile archcalc's sources.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(cmd: list[str], cwd: Path = ROOT) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MiB, exit status) of one run of ``cmd``."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode  # ru_maxrss is KiB on Linux
