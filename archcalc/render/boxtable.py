"""A table of known column widths, drawn line by line in rich's HEAVY_HEAD style.

Rich's Table measures and wraps every cell through several layers of
renderables: for VGG-16's 40 rows that was a quarter of `archcalc summary`'s
whole run, and a start-up time users feel is part of the job. Once the widths
are known (every cell is one line of plain text), drawing the box is simple
string work. Cells are plain text, never console markup: spec names are
untrusted and `[red]` in one must print as written, and a terminal escape
sequence in one is shown escaped (``\\x1b``), never acted on. A column narrower than
its cells wraps them (``fit.wrap``: numbers are never split), so a narrow
terminal gets taller rows, never a cut number.
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from archcalc.errors import printable
from archcalc.render.fit import text_width, wrap

Cell = tuple[str, Style | None]


class BoxTable:
    """Header, rows and an optional footer, each cell one line; ``add_row`` as rich's Table."""

    def __init__(
        self,
        title: str,
        headers: list[str],
        widths: list[int],
        justify: list[str],
        footer: list[str] | None = None,
        fold: list[bool] | None = None,
    ) -> None:
        self.title = printable(title)
        self.headers = [printable(h) for h in headers]
        self.widths = widths
        self.justify = justify
        self.footer = None if footer is None else [printable(f) for f in footer]
        # Per column: may a word be folded (text), or only wrapped at spaces (numbers)?
        self.fold = fold or [False] * len(widths)
        self.rows: list[tuple[list[Cell], Style | None]] = []

    @property
    def width(self) -> int:
        return sum(self.widths) + 3 * len(self.widths) + 1

    def add_row(self, *cells: str | Text, style: str | None = None) -> None:
        parsed = [
            (
                printable(c.plain),
                Style.parse(c.style) if isinstance(c.style, str) and c.style else None,
            )
            if isinstance(c, Text)
            else (printable(c), None)
            for c in cells
        ]
        self.rows.append((parsed, Style.parse(style) if style else None))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.width, self.width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        bold = Style(bold=True)
        for title in wrap(self.title, self.width) if self.title else []:
            free = self.width - cell_len(title)
            yield Segment(" " * (free // 2))
            yield Segment(title, bold)
            yield Segment(" " * (free - free // 2))
            yield Segment.line()
        yield from self._rule("┏", "━", "┳", "┓")
        yield from self._line("┃", [(h, None) for h in self.headers], bold)
        yield from self._rule("┡", "━", "╇", "┩")
        # Runs of unstyled rows go out as one segment, drawn column by column: a
        # 10,000-layer summary is then a few segments for rich, not 20,000.
        run: list[list[Cell]] = []
        for cells, style in self.rows:
            if style is None and all(s is None for _, s in cells):
                run.append(cells)
                continue
            if run:
                yield Segment("\n".join(self._plain_run(run)))
                yield Segment.line()
                run = []
            yield from self._line("│", cells, style)
        if run:
            yield Segment("\n".join(self._plain_run(run)))
            yield Segment.line()
        if self.footer is not None:
            yield from self._rule("├", "─", "┼", "┤")
            yield from self._line("│", [(f, None) for f in self.footer], bold)
        yield from self._rule("└", "─", "┴", "┘")

    def _rule(self, left: str, fill: str, cross: str, right: str) -> Iterator[Segment]:
        yield Segment(left + cross.join(fill * (w + 2) for w in self.widths) + right)
        yield Segment.line()

    def _plain_run(self, run: list[list[Cell]]) -> list[str]:
        """The lines of consecutive unstyled rows.

        Each column is padded in one pass; where all its text is printable ASCII
        (nearly always) a cell's width is simply its length. A row with a cell
        wider than its column is wrapped, on lines of its own.
        """
        overflow: set[int] = set()
        columns = []
        for j, (width, justify) in enumerate(zip(self.widths, self.justify, strict=True)):
            texts = [cells[j][0] for cells in run]
            joined = "".join(texts)
            sizes = (
                list(map(len, texts))
                if joined.isascii() and joined.isprintable()
                else list(map(text_width, texts))
            )
            if max(sizes, default=0) > width:
                overflow.update(i for i, size in enumerate(sizes) if size > width)
            pairs = zip(texts, sizes, strict=True)
            if justify == "right":
                columns.append([" " * (width - size) + text for text, size in pairs])
            else:
                columns.append([text + " " * (width - size) for text, size in pairs])
        lines = ["│ " + " │ ".join(row) + " │" for row in zip(*columns, strict=True)]
        if not overflow:
            return lines
        out: list[str] = []
        # Rows repeat their texts (an operation, a shape): each is wrapped once.
        seen: dict[tuple[int, str], list[str]] = {}
        for i, line in enumerate(lines):
            if i in overflow:
                out.extend(self._lines("│", run[i], seen))
            else:
                out.append(line)
        return out

    def _bodies(self, cells: list[Cell], seen: dict[tuple[int, str], list[str]]) -> list[list[str]]:
        """Per cell, its lines wrapped to the column and padded (`` text ``); each text once."""
        out = []
        for j, (text, _) in enumerate(cells):
            bodies = seen.get((j, text))
            if bodies is None:
                width, right = self.widths[j], self.justify[j] == "right"
                lines = wrap(text, width, self.fold[j]) if text_width(text) > width else [text]
                bodies = []
                for line in lines:
                    gap = " " * max(0, width - text_width(line))
                    bodies.append(f" {gap}{line} " if right else f" {line}{gap} ")
                seen[(j, text)] = bodies
            out.append(bodies)
        return out

    def _lines(
        self, edge: str, cells: list[Cell], seen: dict[tuple[int, str], list[str]] | None = None
    ) -> list[str]:
        """A row's lines of text, its cells wrapped to the column widths."""
        bodies = self._bodies(cells, {} if seen is None else seen)
        blank = [" " * (w + 2) for w in self.widths]
        return [
            edge + edge.join(b[n] if n < len(b) else blank[j] for j, b in enumerate(bodies)) + edge
            for n in range(max(len(b) for b in bodies))
        ]

    def _line(self, edge: str, cells: list[Cell], row_style: Style | None) -> Iterator[Segment]:
        if row_style is None and all(style is None for _, style in cells):
            for line in self._lines(edge, cells):
                yield Segment(line)
                yield Segment.line()
            return
        bodies = self._bodies(cells, {})
        for n in range(max(len(b) for b in bodies)):
            yield Segment(edge)
            for (_, cell_style), lines, width in zip(cells, bodies, self.widths, strict=True):
                body = lines[n] if n < len(lines) else " " * (width + 2)
                style = (
                    row_style + cell_style if row_style and cell_style else row_style or cell_style
                )
                yield Segment(body, style)
                yield Segment(edge)
            yield Segment.line()
