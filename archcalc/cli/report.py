"""``archcalc report SPEC``: write one self-contained HTML page (no network needed to view it)."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from archcalc.analysis import analyze
from archcalc.cli.common import input_shape, resolve_input
from archcalc.errors import ArchcalcError
from archcalc.report.html import lint_findings, render_report
from archcalc.spec.load import load


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="a YAML spec (see examples/)")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write the page (default: SPEC_STEM.report.html here)",
    )
    p.add_argument(
        "--input",
        type=input_shape,
        metavar="CxHxW",
        help="analyse at another input size, e.g. 3x224x224",
    )


def run(args: argparse.Namespace) -> int:
    spec = load(args.spec)
    analysis = analyze(spec, resolve_input(args.input, spec.input_shape))
    findings = lint_findings(analysis, spec.lint_ignore)
    page = render_report(analysis, findings, source=Path(args.spec).name)
    target = Path(args.output) if args.output else Path(f"{Path(args.spec).stem}.report.html")
    write_atomically(target, page)
    print(target)
    return 0


def write_atomically(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` so that a reader never sees half a page."""
    if target.is_dir():
        raise ArchcalcError(
            f"-o expects a file, but {str(target)!r} is a folder",
            hint=f"e.g. -o {target / 'report.html'}",
        )
    folder = target.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise ArchcalcError(f"cannot write {str(target)!r}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; a report is an ordinary file
        os.replace(tmp, target)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise ArchcalcError(f"cannot write {str(target)!r}: {err.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
