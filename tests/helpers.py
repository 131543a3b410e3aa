"""Helpers shared by the tests: run the CLI as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m archcalc ARGS`` in a fresh process, as a user runs it.

    Piped output has its natural width unless $COLUMNS asks otherwise; pytest
    imports readline (for pdb), which exports the terminal's COLUMNS to every
    child, so it is dropped here to render as a pipe does.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [sys.executable, "-m", "archcalc", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
        env=env,
    )
