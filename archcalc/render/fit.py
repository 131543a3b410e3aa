"""Fitting tables and prose into a terminal's width without ever cutting a number.

A number tool that prints ``118,013,…`` has failed at its one job. Text
(layer paths, operations, labels, prose) may wrap, or fold inside a word; a
number, a shape (``64×112×112``), a percentage or a size with its unit
(``173.04 KiB``) is an atom that is never split across lines, and nothing is
ever ellipsised. Where the atoms alone do not fit, the callers drop columns
(saying so) or change layout instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from archcalc.errors import printable

# A number with thousands separators or decimals, a shape (3×224×224), a percentage.
_ATOM = re.compile(r"\d+(?:[,.×]\d+)*%?")
# Words that belong to the word before them: units and the compare/scale marks (and
# the summary's "◀" belongs to the word after it).
_GLUE_PREVIOUS = frozenset({"B", "KiB", "MiB", "GiB", "TiB", "✓", "✗"})
# Where a folded word reads best when it must break: after a dot or comma, else after
# another separator.
_BREAKS = (frozenset(".,"), frozenset("_(/-=+"))


def available_width(console: Console) -> int | None:
    """The columns output may use, or None for no limit.

    A terminal gives its width (rich honours ``$COLUMNS`` there). Piped
    output has no width of its own: tables keep their natural width so the
    text stays whole and greppable, unless a width was asked for, through
    ``$COLUMNS`` or ``Console(width=...)``, both of which rich keeps as the
    console's explicit width.
    """
    if console.is_terminal:
        return max(1, console.width)
    explicit = getattr(console, "_width", None)
    return explicit if isinstance(explicit, int) and explicit > 0 else None


def text_width(text: str) -> int:
    """rich's ``cell_len(text)``: the length of printable ASCII text (almost every cell), fast."""
    return len(text) if text.isascii() and text.isprintable() else cell_len(text)


def column_width(cells: Sequence[str]) -> int:
    """The widest cell's width; one C pass when every cell is printable ASCII."""
    joined = "".join(cells)
    if joined.isascii() and joined.isprintable():
        return max(map(len, cells), default=0)
    return max(map(text_width, cells), default=0)


def words(text: str) -> list[str]:
    """Space-separated words, a unit or mark kept with the word before it."""
    out: list[str] = []
    for word in text.split(" "):
        if not word:
            continue
        if out and (word in _GLUE_PREVIOUS or out[-1] == "◀"):
            out[-1] += " " + word
        else:
            out.append(word)
    return out


def _atoms(word: str) -> list[tuple[int, int]]:
    return [m.span() for m in _ATOM.finditer(word)]


def min_width(text: str, fold: bool) -> int:
    """The narrowest column that shows ``text`` whole: its longest word, or atom when folding."""
    if not fold:
        return max((text_width(w) for w in words(text)), default=0)
    longest_atom = max(
        (text_width(word[a:b]) for word in words(text) for a, b in _atoms(word)), default=0
    )
    return max(1, longest_atom)


def _fold(word: str, width: int) -> list[str]:
    """Split one word into pieces of at most ``width``, never inside an atom.

    Each piece scans at most ``width`` characters past its start (plus an atom
    too wide to fit), so folding is linear in the word's length: a hostile
    10,000-character spec name costs milliseconds, not seconds.
    """
    inside: set[int] = set()  # cut positions that would split an atom
    for a, b in _atoms(word):
        inside.update(range(a + 1, b))
    pieces = []
    start, n = 0, len(word)
    plain = word.isascii() and word.isprintable()  # every character one column wide
    while True:
        used, i, allowed = 0, start, []
        while i < n:
            used += 1 if plain else cell_len(word[i])
            if used > width:
                break
            i += 1
            if i < n and i not in inside:
                allowed.append(i)
        if i >= n:  # the rest fits
            break
        if not allowed:  # an atom wider than the column: keep it whole, let the line run over
            end = next((j for j in range(start + 1, n) if j not in inside), n)
        else:
            end = allowed[-1]
            for breaks in _BREAKS:
                soft = [
                    j for j in allowed if word[j - 1] in breaks and 2 * (j - start) >= end - start
                ]
                if soft:
                    end = soft[-1]
                    break
        pieces.append(word[start:end])
        start = end
        if start >= n:
            break
    rest = word[start:]
    return [*pieces, rest] if rest else pieces


def wrap(text: str, width: int, fold: bool = True, indent: str = "") -> list[str]:
    """Word-wrap ``text`` to ``width`` columns; atoms are never split.

    With ``fold`` a word wider than the line is folded (a path at its dots,
    an operation at its commas); without it the word keeps its own line.
    Leading spaces stay on the first line; ``indent`` starts every later
    line (a hanging indent).
    """
    if cell_len(text) <= width:
        return [text]
    body = text.lstrip(" ")
    lead = text[: len(text) - len(body)]
    lines: list[str] = []
    line = ""

    def room() -> int:
        return max(1, width - cell_len(indent if lines else lead))

    for word in words(body):
        candidate = f"{line} {word}" if line else word
        if cell_len(candidate) <= room():
            line = candidate
            continue
        if line:
            lines.append(line)
        pieces = _fold(word, room()) if fold and cell_len(word) > room() else [word]
        for piece in pieces[:-1]:
            lines.append(piece)
        line = pieces[-1]
    lines.append(line)
    return [lead + lines[0], *(indent + rest for rest in lines[1:])]


def _floors(
    columns: Sequence[Sequence[str]], fold: Sequence[bool], floors: Sequence[int]
) -> list[int]:
    """Per column, the narrowest width that keeps its widest word or atom whole."""
    out = []
    for col, f, floor in zip(columns, fold, floors, strict=True):
        # Each distinct text once: a 10,000-row column holds few (shapes, counts, kinds).
        widest = max((min_width(c, f) for c in set(col)), default=0)
        out.append(min(column_width(col), max(floor, widest)))
    return out


def minimum_width(
    columns: Sequence[Sequence[str]], fold: Sequence[bool], floors: Sequence[int]
) -> int:
    """The narrowest total width (box rules included) at which these columns fit."""
    return sum(_floors(columns, fold, floors)) + 3 * len(columns) + 1


def fit_widths(
    columns: Sequence[Sequence[str]],
    fold: Sequence[bool],
    floors: Sequence[int],
    width: int | None,
) -> list[int] | None:
    """Widths for columns of cells (header first) within ``width`` (box rules included).

    Each column starts at its natural width; while the table is too wide the
    widest column that can still give way loses one character, so text
    columns share the cut. A column never goes below the widest word or atom
    it must keep whole, nor below its floor (a readable minimum for wrapped
    text); when even that is too wide the answer is None. With no limit, or
    when the natural widths fit, no cell is measured twice.
    """
    natural = [column_width(col) for col in columns]
    rules = 3 * len(columns) + 1
    if width is None or sum(natural) + rules <= width:
        return natural
    mins = _floors(columns, fold, floors)
    if sum(mins) + rules > width:
        return None
    widths = list(natural)
    excess = sum(widths) + rules - width
    while excess > 0:
        i = max((i for i in range(len(widths)) if widths[i] > mins[i]), key=lambda i: widths[i])
        widths[i] -= 1
        excess -= 1
    return widths


def print_wrapped(
    console: Console,
    text: str,
    width: int | None,
    style: str | None = None,
    indent: str = "  ",
    prefix: str = "",
    prefix_style: str = "bold",
) -> None:
    """One line of prose: whole when there is no limit, else word-wrapped with a hanging indent.

    ``prefix`` (the start of ``text``) is drawn in ``prefix_style``. Control
    characters (a spec's name may hold terminal escapes) are shown escaped.
    """
    text = printable(text)
    lines = [text] if width is None else wrap(text, width, indent=indent)
    for i, line in enumerate(lines):
        if i == 0 and prefix and line.startswith(prefix):
            shown = Text.assemble((prefix, prefix_style), line[len(prefix) :], style=style or "")
        else:
            shown = Text(line, style=style or "")
        console.print(shown, highlight=False, soft_wrap=True)


def chunks(n: int, size: int) -> list[range]:
    """``range(n)`` in consecutive, evenly sized pieces of at most ``size``."""
    count = -(-n // size)
    base, extra = divmod(n, count)
    out, start = [], 0
    for i in range(count):
        stop = start + base + (1 if i < extra else 0)
        out.append(range(start, stop))
        start = stop
    return out


def inert(text: str) -> str:
    """Multi-line output (Markdown) with every control character escaped but its line breaks.

    >>> inert("### a\\x1bb\\n| x |")
    '### a\\\\x1bb\\n| x |'
    """
    return "\n".join(printable(line) for line in text.split("\n"))
