"""``archcalc COMMAND ...``: dispatch to one command module, turning user mistakes into one line.

Only the invoked command's module is imported, so ``archcalc summary`` never
pays for (or imports) torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from archcalc.cli.common import missing
from archcalc.errors import ArchcalcError
from archcalc.gcpause import paused_gc

# command → (module, one-line help). Each module has add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "summary": (
        "archcalc.cli.summary",
        "layer-by-layer shapes, params, receptive field, MACs, memory",
    ),
    "check": ("archcalc.cli.check", "validate specs (exit 0 when all are valid, 2 otherwise)"),
    "kinds": ("archcalc.cli.kinds", "list the layer kinds a spec can use"),
    "compare": ("archcalc.cli.compare", "compare designs side by side"),
    "scale": ("archcalc.cli.scale", "params, MACs and memory as the input grows"),
    "fit": (
        "archcalc.cli.fit",
        "the largest batch that trains (and infers) within a memory budget",
    ),
    "lint": ("archcalc.cli.lint", "flag design smells"),
    "report": ("archcalc.cli.report", "a self-contained HTML report"),
    "export": ("archcalc.cli.export", "write an existing torch module as a spec (needs torch)"),
    "train": ("archcalc.train.cli", "train a spec on MNIST-format data (needs torch)"),
}


# Commands that read specs and print: short-lived, and what they build (a spec, its
# analysis, the rows of a table) is acyclic, so reference counting frees it. The cyclic
# collector would only walk those hundreds of thousands of objects again at every
# generation-2 pass, tens of milliseconds each on a 10,000-layer spec; `train` runs
# for hours and keeps it.
_WITHOUT_GC = frozenset({"summary", "check", "kinds", "compare", "scale", "lint", "report"})

# Packages of the extras: a command that needs one when it is missing says how to install it.
_EXTRAS = {"torch": "torch", "torchvision": "torch", "matplotlib": "torch"}


class _Parser(argparse.ArgumentParser):
    """argparse with mistakes as one line, like every other archcalc error."""

    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage block first; `--help` is one flag away.
        self.exit(2, f"{self.prog}: error: {message} — see `{self.prog} --help`\n")


def _parser(command: str | None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="archcalc",
        description="Analyse convolutional network architectures before they run.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module).add_arguments(p)
    return parser


def _version() -> str:
    from archcalc import __version__

    return f"archcalc {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 findings, 2 user error)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if not a.startswith("-")), None)
    try:
        parser = _parser(command if command in COMMANDS else None)
        args = parser.parse_args(args_list)
        module = importlib.import_module(COMMANDS[args.command][0])
        if args.command in _WITHOUT_GC:
            with paused_gc():
                return int(module.run(args))
        return int(module.run(args))
    except ModuleNotFoundError as err:
        # `pip install archcalc` has no torch; `train` (and `--module`) need it.
        extra = next((_EXTRAS[p] for p in _EXTRAS if missing(err, p)), None)
        if extra is None:
            raise
        package = (err.name or "").split(".")[0]
        print(
            f"error: archcalc {command} needs {package}, which is not installed — "
            f"pip install 'archcalc[{extra}]'",
            file=sys.stderr,
        )
        return 2
    except ArchcalcError as err:
        print(
            f"error: {err}" if err.file is None and err.where is None else str(err), file=sys.stderr
        )
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `archcalc summary ... | head`
        return 0
