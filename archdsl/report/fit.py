"""Tables that fit the terminal without lying: columns are chosen and condensed, never cut.

Contract: `fit_lines(columns, rows, width)` lays a table out in at most `width` characters
(None: no limit) and returns its lines as rich `Text`, plus the headers of the columns it had to
hide. To fit, in this order: number columns switch to their compact form (`25,557,032` ->
`25.6M`; one column at a time, the widest saving first), text columns that may be hidden
shorten with an ellipsis down to their `min_width`, columns are hidden, lowest `keep` first (a
column with `keep >= ESSENTIAL` or chosen by `--columns` is never hidden), and last the
essential text columns (layer names) shorten. A number or a shape is never
cut: if even the essential columns do not fit, the line is longer than `width` (the terminal
wraps it) rather than wrong. `table_width(stream)` is the width to fit: `COLUMNS` if set, the
terminal's on a terminal, else no limit (a file or a pipe gets the exact table).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

ESSENTIAL = 100
GAP = "  "
ELLIPSIS = "…"


@dataclass(frozen=True)
class Col:
    header: str
    kind: str = "text"  # "text": may shorten with …; "fixed": never cut; "number": right-aligned
    keep: int = 50  # hide order when space is short: lowest first; >= ESSENTIAL never
    min_width: int = 8  # a text column shortens no further
    cut: str = "end"  # where a text column's ellipsis goes: "end" or "middle"


@dataclass(frozen=True)
class Cell:
    text: str
    compact: str | None = None  # the short form of a number (`25.6M`)
    style: str | None = None


@dataclass
class Line:
    cells: list  # Cell or str, one per column
    style: str | None = None
    rule: bool = False  # a horizontal rule (between the body and the totals)


def compact(n: int | float) -> str:
    """`25557032` -> `25.6M`, `4089184256` -> `4.1G`, `512` -> `512`; 3 significant digits at
    most, so the column stays narrow; the exact figure is one `--columns`/wider terminal away."""
    if n == 0:
        return ""
    sign = "-" if n < 0 else ""
    n = abs(n)
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size * 0.9995:
            v = n / size
            return f"{sign}{v:.1f}{unit}" if v < 99.95 else f"{sign}{v:.0f}{unit}"
    return f"{sign}{n:g}" if isinstance(n, float) else f"{sign}{n}"


def number_cell(n: int, suffix: str = "") -> Cell:
    """An exact count (`1,234,567`) with its compact form (`1.2M`); empty for 0."""
    if not n:
        return Cell("")
    return Cell(f"{n:,}{suffix}", compact(n) + suffix)


def table_width(stream=None) -> int | None:
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if stream is not None and hasattr(stream, "isatty") and stream.isatty():
        return shutil.get_terminal_size().columns
    return None


def _cell(c) -> Cell:
    return c if isinstance(c, Cell) else Cell(str(c))


def shorten(text: str, width: int, cut: str = "end") -> str:
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    if cut == "middle":
        head = (width - 1) // 2
        tail = width - 1 - head
        return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")
    return text[:width - 1] + ELLIPSIS


def choose_columns(columns: list[Col], wanted: str | None) -> list[int]:
    """The indexes `--columns a,b,c` names (headers, case-insensitive, in the given order);
    ValueError naming the choices for an unknown one."""
    if not wanted:
        return list(range(len(columns)))
    by_name = {c.header.lower(): i for i, c in enumerate(columns) if c.header}
    out = []
    for name in (w.strip().lower() for w in wanted.split(",")):
        if not name:
            continue
        if name not in by_name:
            choices = ", ".join(c.header for c in columns if c.header)
            raise ValueError(f"unknown column {name!r}; choose from: {choices}")
        out.append(by_name[name])
    return out


@dataclass
class Layout:
    shown: list[int]  # column indexes, in order
    widths: dict[int, int]
    compacted: set[int]
    hidden: list[str]


def layout(columns: list[Col], lines: list[Line], width: int | None,
           chosen: list[int] | None = None, pinned: bool = False) -> Layout:
    shown = list(chosen if chosen is not None else range(len(columns)))
    body = [[_cell(c) for c in line.cells] for line in lines if not line.rule]
    compacted: set[int] = set()

    def natural(i: int) -> int:
        texts = [columns[i].header] + [
            (row[i].compact if i in compacted and row[i].compact is not None else row[i].text)
            for row in body]
        return max(len(t) for t in texts)

    widths = {i: natural(i) for i in range(len(columns))}

    def total() -> int:
        return sum(widths[i] for i in shown) + len(GAP) * max(len(shown) - 1, 0)

    hidden: list[str] = []
    if width is None or total() <= width:
        return Layout(shown, widths, compacted, hidden)
    # 1. numbers in their compact form, the widest saving first
    numbers = [i for i in shown if columns[i].kind == "number"]
    savings = []
    for i in numbers:
        before = widths[i]
        compacted.add(i)
        savings.append((before - natural(i), i))
        compacted.discard(i)
    for _, i in sorted(savings, reverse=True):
        compacted.add(i)
        widths[i] = natural(i)
        if total() <= width:
            return Layout(shown, widths, compacted, hidden)
    # 2. text columns shorten, the widest first, down to their minimum: first those that may
    # be hidden, 3. then columns are hidden, the least needed first, 4. then the essential
    # text columns (layer names) shorten
    def shorten_texts(essential: bool) -> None:
        while total() > width:
            texts = [i for i in shown if columns[i].kind == "text"
                     and (columns[i].keep >= ESSENTIAL or pinned) == essential
                     and widths[i] > max(columns[i].min_width, len(columns[i].header))]
            if not texts:
                return
            i = max(texts, key=lambda j: widths[j] - columns[j].min_width)
            floor = max(columns[i].min_width, len(columns[i].header))
            widths[i] = max(floor, widths[i] - (total() - width))

    shorten_texts(False)
    while total() > width and not pinned:
        candidates = [i for i in shown if columns[i].keep < ESSENTIAL]
        if not candidates:
            break
        i = min(candidates, key=lambda j: (columns[j].keep, -j))
        shown.remove(i)
        hidden.append(columns[i].header)
        for j in shown:  # a text column shortened earlier may have room again
            if columns[j].kind == "text":
                widths[j] = min(natural(j), widths[j] + max(0, width - total()))
    shorten_texts(True)
    return Layout(shown, widths, compacted, hidden)


def render(columns: list[Col], lines: list[Line], lay: Layout, header_style: str = "bold"):
    """The table's lines as rich `Text` (header, body, rules), laid out by `lay`."""
    from rich.text import Text

    def one(cells: list[Cell], row_style: str | None, style_cells: bool = True) -> Text:
        out = Text(style=row_style or "")
        for n, i in enumerate(lay.shown):
            col, cell, w = columns[i], cells[i], lay.widths[i]
            text = cell.compact if i in lay.compacted and cell.compact is not None else cell.text
            if col.kind == "text":
                text = shorten(text, w, col.cut)
            text = text.rjust(w) if col.kind == "number" else text.ljust(w)
            if n == len(lay.shown) - 1:
                text = text.rstrip()
            if n:
                out.append(GAP)
            out.append(text, style=cell.style if style_cells else None)
        out.rstrip()
        return out

    header = one([Cell(c.header) for c in columns], header_style)
    full = sum(lay.widths[i] for i in lay.shown) + len(GAP) * max(len(lay.shown) - 1, 0)
    out = [header, Text("─" * full, style="dim")]
    for line in lines:
        if line.rule:
            out.append(Text("─" * full, style="dim"))
        else:
            out.append(one([_cell(c) for c in line.cells], line.style))
    return out


def print_table(console, columns: list[Col], lines: list[Line], width: int | None,
                title: str | None = None, chosen: list[int] | None = None) -> Layout:
    """Lay out, print (with the title above and a note naming hidden columns under it)."""
    from rich.text import Text

    lay = layout(columns, lines, width, chosen, pinned=chosen is not None)
    if title:
        console.print(Text(title, style="bold"), soft_wrap=True)
    for text in render(columns, lines, lay):
        console.print(text, soft_wrap=True)
    notes = []
    if lay.compacted:
        notes.append("K/M/G = 10^3/10^6/10^9")
    if lay.hidden:
        notes.append(f"hidden to fit {width} columns: {', '.join(lay.hidden)}")
    if notes:
        import textwrap

        note = "(" + "; ".join(notes) + "; see --columns)"
        for part in textwrap.wrap(note, width) if width else [note]:
            console.print(Text(part, style="dim"), soft_wrap=True)
    return lay
