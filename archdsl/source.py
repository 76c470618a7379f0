"""Source text and spans.

Contract: a `SourceFile` holds the text of one spec (a file, a YAML scalar or a command-line
string) and converts character offsets to 1-based line and column numbers. A `Span` is a
half-open character range in one `SourceFile`. Every AST and IR node carries a span so that any
stage can point a diagnostic at the text the user wrote.

A layer string embedded in a YAML file is its own `SourceFile` whose `origin` maps its lines
back into the YAML file, so diagnostics show the YAML file's line and column.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

TAB_WIDTH = 4


@dataclass(frozen=True)
class Origin:
    """Where an embedded source sits in an outer file: per line, (outer line, outer col offset)."""

    outer: SourceFile
    lines: tuple[tuple[int, int], ...]


@dataclass(eq=False, repr=False)
class SourceFile:
    """The text of one spec, with an offset -> (line, column) index."""

    name: str
    text: str
    origin: Origin | None = None
    _starts: list[int] | None = field(default=None, repr=False)

    @property
    def _line_starts(self) -> list[int]:
        """Offsets where lines start, built on first use (most sources never need it)."""
        if self._starts is None:
            starts = [0]
            text = self.text
            i = text.find("\n")
            while i != -1:
                starts.append(i + 1)
                i = text.find("\n", i + 1)
            self._starts = starts
        return self._starts

    def __repr__(self) -> str:
        return f"SourceFile({self.name!r})"

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset; columns count characters, tabs as one."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its line break."""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start : end if end != -1 else len(self.text)].rstrip("\r")

    @property
    def line_count(self) -> int:
        return len(self._line_starts)

    def span(self, start: int, end: int) -> Span:
        """A span, clamped to the text (an error "at the end" still points inside it)."""
        size = len(self.text)
        start = max(0, min(start, size))
        return Span(self, start, max(start, min(end, size)))

    def whole(self) -> Span:
        return Span(self, 0, len(self.text))


@dataclass(frozen=True, eq=False, slots=True)
class Span:
    """A half-open range [start, end) of characters in a `SourceFile`."""

    file: SourceFile
    start: int
    end: int

    def located(self) -> tuple[SourceFile, int, int, int]:
        """(file, line, column, width) resolved through embedding, for display."""
        line, col = self.file.line_col(self.start)
        end_line, end_col = self.file.line_col(max(self.start, self.end))
        width = (end_col - col) if end_line == line else len(self.file.line_text(line)) - col + 1
        width = max(1, width)
        origin = self.file.origin
        if origin is not None and line - 1 < len(origin.lines):
            outer_line, col_offset = origin.lines[line - 1]
            return origin.outer, outer_line, col + col_offset, width
        return self.file, line, col, width

    def __repr__(self) -> str:
        return f"Span({self.location()})"

    def __reduce__(self):  # a call, not field by field: the AST cache reads back many spans
        return Span, (self.file, self.start, self.end)

    def location(self) -> str:
        """`file:line:col`, as shown in diagnostics."""
        file, line, col, _ = self.located()
        return f"{file.name}:{line}:{col}"

    @property
    def text(self) -> str:
        return self.file.text[self.start : self.end]

    def to(self, other: Span) -> Span:
        """The span from the start of this one to the end of another in the same file."""
        if other.file is not self.file:
            return self
        return Span(self.file, min(self.start, other.start), max(self.end, other.end))


def display_columns(line: str, col: int) -> int:
    """The display column (0-based) of a 1-based character column, with tabs expanded."""
    return len(line[: col - 1].expandtabs(TAB_WIDTH))
