"""The one exception type archcalc raises for a user's mistake.

Inner code raises short, exact messages; the place that knows where the
mistake sits in the spec (file, line, column, layer path) attaches it, once.
The CLI prints ``str(error)`` (one line) and exits with status 2.
"""

from __future__ import annotations

import difflib
import heapq
from collections.abc import Iterable
from typing import NamedTuple


def _escapes() -> dict[int, str]:
    """What replaces each character a terminal would act on rather than show.

    C0 controls (line breaks and tabs included: the message is one line), DEL,
    C1 controls, the line and paragraph separators, and the bidi overrides and
    isolates ("Trojan Source"): a spec's own text is echoed in messages, and an
    ``\\x1b[2J`` in a kind's name must not clear the user's screen.
    """
    table = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
    table.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})
    for c in [
        0x061C,
        0x200E,
        0x200F,
        0x2028,
        0x2029,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    ]:
        table[c] = f"\\u{c:04x}"
    return table


# str.translate with a table: one pass in C, whatever the message's length.
_ESCAPES = _escapes()


def printable(text: str) -> str:
    """``text`` with every control, bidi-override and line-break character escaped.

    >>> printable("a\\x1b[2Jb\\u202ec\\n")
    'a\\\\x1b[2Jb\\\\u202ec\\\\n'
    """
    # Almost every string is already printable: one C scan decides, and only the rest
    # pay for the per-character table lookup (a 10,000-row table draws 70,000 cells).
    # str.isprintable is False for every character in _ESCAPES (categories Cc, Cf, Zl, Zp).
    return text if text.isprintable() else text.translate(_ESCAPES)


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

    ``str(err)`` is the one-line form documented in docs/spec.md ("Errors")::

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
        # One line of inert text, always: every part (the file name included) may hold a
        # spec's own text, with line breaks or terminal escape sequences in it.
        return printable(f"{prefix}{where}{self.message}{hint}")


# difflib's ratio costs up to the product of the two lengths (minutes for two hostile
# 100,000-character names), so only names a person types are compared, against a
# bounded list: the cost of a suggestion is then linear in the number of choices.
SUGGEST_MAX_CHARS = 64
SUGGEST_MAX_CHOICES = 1000


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The nearest valid name to ``word``, phrased as a hint, or None.

    Words or choices longer than SUGGEST_MAX_CHARS get no suggestion; of many
    choices, the SUGGEST_MAX_CHOICES closest in length are compared.

    >>> suggest("kernal", ["kernel", "stride"])
    'did you mean `kernel`?'
    """
    if len(word) > SUGGEST_MAX_CHARS:
        return None
    pool = [c for c in choices if len(c) <= SUGGEST_MAX_CHARS]
    if len(pool) > SUGGEST_MAX_CHOICES:
        pool = heapq.nsmallest(SUGGEST_MAX_CHOICES, pool, key=lambda c: abs(len(c) - len(word)))
    found = difflib.get_close_matches(word, sorted(pool), n=1, cutoff=0.6)
    return f"did you mean `{found[0]}`?" if found else None
