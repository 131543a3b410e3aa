"""The one exception type archcalc raises for a user's mistake.

Inner code raises short, exact messages; the place that knows where the
mistake sits in the spec (file, line, column, layer path) attaches it, once.
The CLI prints ``str(error)`` (one line) and exits with status 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import NamedTuple


class Loc(NamedTuple):
    """A position in a spec file; line and column are 1-based.

    Immutable like the frozen dataclasses elsewhere, but a NamedTuple: one is
    made for every YAML value, and a frozen dataclass's __init__ is several
    times slower — the difference between a hostile 1 MiB spec refused in
    0.9 s or well under.
    """

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class ArchcalcError(Exception):
    """A user's mistake, with where it is and what would fix it.

    ``str(err)`` is the one-line form of DESIGN.md::

        examples/bad.yaml:7:5: layers[4] (linear fc1): expects a flat input,
        but gets 32×7×7 — add `flatten` before it
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        col: int | None = None,
        where: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.col = col
        self.where = where
        self.hint = hint

    @classmethod
    def at(
        cls, loc: Loc | None, message: str, *, where: str | None = None, hint: str | None = None
    ) -> ArchcalcError:
        """Build an error located at ``loc`` (which may be unknown)."""
        if loc is None:
            return cls(message, where=where, hint=hint)
        return cls(message, file=loc.file, line=loc.line, col=loc.col, where=where, hint=hint)

    def located(self, loc: Loc | None, where: str | None = None) -> ArchcalcError:
        """Return this error with a location and layer path filled in where still missing."""
        if self.file is None and loc is not None:
            self.file, self.line, self.col = loc.file, loc.line, loc.col
        if self.where is None:
            self.where = where
        return self

    def __str__(self) -> str:
        prefix = ""
        if self.file is not None:
            prefix = self.file
            if self.line is not None:
                prefix += f":{self.line}:{self.col or 1}"
            prefix += ": "
        where = f"{self.where}: " if self.where else ""
        hint = f" — {self.hint}" if self.hint else ""
        # One line, always: a spec's own text (a key, a name) may hold line breaks.
        text = f"{prefix}{where}{self.message}{hint}"
        return text.replace("\r", "\\r").replace("\n", "\\n")


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The nearest valid name to ``word``, phrased as a hint, or None."""
    found = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean `{found[0]}`?" if found else None
