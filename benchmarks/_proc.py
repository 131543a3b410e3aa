"""Run a command and report its wall time and peak memory (max RSS), per process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
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
    """(wall seconds, peak RSS in MiB, exit status) of one run of ``cmd``.

    The peak comes from GNU time (``/usr/bin/time``), which forks the command
    from its own small process: a child forked from this benchmark would count
    this process's pages in its peak until it execs.
    """
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        status = subprocess.run(
            [GNU_TIME, "-f", "%M", "-o", report.name, *cmd],
            cwd=cwd,
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        ).returncode
        wall = time.perf_counter() - start
        peak_kib = int(report.read().split()[-1])
    return wall, peak_kib / 1024, status


GNU_TIME = shutil.which("time", path="/usr/bin:/bin") or sys.exit(
    "these benchmarks need GNU time: apt-get install time"
)
