"""Diagnostics: user errors that point at source.

Contract: every mistake in a spec becomes a `Diagnostic` with a stable kebab-case `code`, a
one-line `message` in the user's terms, the primary `span`, an optional `hint` saying what to
type, and optional `notes` pointing at other places (the block definition behind a call, the
other branch of an Add). Stages collect diagnostics in a `Reporter` and raise one `ArchError`
holding all of them, so independent mistakes are reported together. `ArchError` is the only
exception a user's input may cause; anything else is a bug (`InternalError`).

Rendering (`render_text`) looks like a compiler's:

    spec.arch:3:11: error: unknown layer 'Poool' [unknown-layer]
        3 | Conv-ReLU-Poool-FC
          |           ^^^^^
      hint: did you mean 'Pool'?
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from archdsl.source import Span, display_columns

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Note:
    """A secondary location: `---` under it and a message beside it."""

    message: str
    span: Span | None = None


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span | None = None
    hint: str | None = None
    notes: tuple[Note, ...] = ()
    severity: str = "error"

    def with_note(self, message: str, span: Span | None) -> Diagnostic:
        return Diagnostic(self.code, self.message, self.span, self.hint,
                          (*self.notes, Note(message, span)), self.severity)

    def to_json(self) -> dict:
        out: dict = {"severity": self.severity, "code": self.code, "message": self.message}
        out.update(_span_json(self.span))
        out["hint"] = self.hint
        out["notes"] = [{"message": n.message, **_span_json(n.span)} for n in self.notes]
        return out


def _span_json(span: Span | None) -> dict:
    if span is None:
        return {"file": None, "line": None, "column": None, "end_line": None, "end_column": None}
    file, line, col, width = span.located()
    return {"file": file.name, "line": line, "column": col, "end_line": line,
            "end_column": col + width}


class ArchError(Exception):
    """A spec is invalid: one or more diagnostics. The only exception bad input may raise."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = merge_repeats(diagnostics)
        super().__init__(self.diagnostics[0].message if self.diagnostics else "invalid spec")

    def __str__(self) -> str:
        return render_text(self.diagnostics, color=False)


def _key(diag: Diagnostic) -> tuple:
    span = diag.span
    where = None if span is None else (span.file.name, span.start, span.end)
    return diag.code, diag.message, where


def merge_repeats(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Each mistake once: a diagnostic repeated at the same place with the same message (a
    mistake inside a block, reached by every call of the block) is kept at its first report,
    whose note names the first call that reached it, plus a note counting the others."""
    first: dict[tuple, int] = {}
    out: list[Diagnostic] = []
    repeats: dict[int, int] = {}
    for diag in diagnostics:
        key = _key(diag)
        if key in first:
            repeats[first[key]] = repeats.get(first[key], 0) + 1
            continue
        first[key] = len(out)
        out.append(diag)
    for index, count in repeats.items():
        out[index] = out[index].with_note(f"the same mistake is reached {count} more "
                                          f"time{'s' if count > 1 else ''} (by other calls or "
                                          "copies; reported once)", None)
    return out


class InternalError(Exception):
    """A bug in archdsl, never the user's fault."""


class BackendError(Exception):
    """The environment lacks something or a backend failed (no Graphviz `dot`, an export
    error). The message says what to do; the CLI exits with 3."""


@dataclass
class Reporter:
    """Collects diagnostics during a stage; `raise_if_errors` ends the stage."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    limit: int = 50
    _seen: set = field(default_factory=set, repr=False)

    def error(self, code: str, message: str, span: Span | None, hint: str | None = None,
              notes: Iterable[Note] = ()) -> Diagnostic:
        diag = Diagnostic(code, message, span, hint, tuple(notes))
        self.add(diag)
        return diag

    def add(self, diag: Diagnostic) -> None:
        key = _key(diag)
        if key not in self._seen:  # a repeat (ArchError merges it) does not count to the limit
            if len(self._seen) >= self.limit:
                raise ArchError(self.diagnostics)
            self._seen.add(key)
        self.diagnostics.append(diag)

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        for d in diags:
            self.add(d)

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise ArchError(self.diagnostics)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.diagnostics)


# --- rendering ------------------------------------------------------------------------------

_COLORS = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "note": "\x1b[1;36m",
           "hint": "\x1b[1;32m", "bold": "\x1b[1m", "dim": "\x1b[2m", "reset": "\x1b[0m"}


def render_text(diagnostics: Iterable[Diagnostic], color: bool = False) -> str:
    """All diagnostics as text, each followed by a blank line."""
    return "".join(render_one(d, color) + "\n" for d in diagnostics)


def escaped(text: str) -> str:
    """Text from a spec as a message may show it: every control character (ESC, BEL, CR, NUL,
    the bidirectional overrides...) escaped as Python writes it, so a spec cannot retitle,
    clear or rewrite the terminal it is checked in (issue 16), as generated code's comments."""
    return text if text.isprintable() else \
        "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _shown_line(text: str) -> str:
    """A source line for the snippet: tabs expanded (4), every other control character shown
    as one U+FFFD, so the caret's columns still line up."""
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() or ch == "\t" else "\ufffd" for ch in text)
    return text.expandtabs(4)


def render_one(diag: Diagnostic, color: bool = False) -> str:
    """One diagnostic as text; everything that came from the spec is `escaped`."""
    c = _COLORS if color else dict.fromkeys(_COLORS, "")
    diag = Diagnostic(diag.code, escaped(diag.message), diag.span,
                      escaped(diag.hint) if diag.hint else diag.hint,
                      tuple(Note(escaped(n.message), n.span) for n in diag.notes), diag.severity)
    lines = []
    where = f"{escaped(diag.span.location())}: " if diag.span is not None else ""
    sev = f"{c[diag.severity]}{diag.severity}{c['reset']}"
    lines.append(f"{c['bold']}{where}{c['reset']}{sev}: {c['bold']}{diag.message}{c['reset']}"
                 f" {c['dim']}[{diag.code}]{c['reset']}")
    if diag.span is not None:
        lines.extend(_snippet(diag.span, "^", "", c, c[diag.severity]))
    for note in diag.notes:
        if note.span is None:
            lines.append(f"  {c['note']}note{c['reset']}: {note.message}")
            continue
        lines.append(f"  {c['note']}note{c['reset']}: {escaped(note.span.location())}: "
                     f"{note.message}")
        lines.extend(_snippet(note.span, "-", "", c, c["note"]))
    if diag.hint:
        lines.append(f"  {c['hint']}hint{c['reset']}: {diag.hint}")
    return "\n".join(lines)


def _snippet(span: Span, mark: str, label: str, c: dict, tint: str) -> list[str]:
    file, line, col, width = span.located()
    if line > file.line_count:
        return []
    text = file.line_text(line)
    shown = _shown_line(text)
    start = display_columns(text, col)
    end = display_columns(text, min(col + width, len(text) + 1))
    width_shown = max(1, end - start)
    gutter = f"{line:>5}"
    pad = " " * len(gutter)
    underline = " " * start + tint + mark * width_shown + c["reset"]
    out = [f"{c['dim']}{gutter} |{c['reset']} {shown}",
           f"{c['dim']}{pad} |{c['reset']} {underline}" + (f" {label}" if label else "")]
    return out


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt word, or None when nothing is close."""
    import difflib

    pool = sorted(set(candidates))
    lower = {cand.lower(): cand for cand in pool}
    if word.lower() in lower:
        return lower[word.lower()]
    match = difflib.get_close_matches(word.lower(), list(lower), n=1, cutoff=0.6)
    return lower[match[0]] if match else None


def is_typo(word: str, guess: str) -> bool:
    """Whether `guess` is `word` mistyped (a letter dropped, doubled, swapped: `Poool`, `Convv`)
    rather than another name that shares letters with it (`ReLU6` and `ReLU`, `Hardtanh` and
    `Tanh`, `SELU` and `ELU`): following the hint for those changes what the network computes,
    so the hint must say so (issue 16)."""
    a, b = word.lower(), guess.lower()
    if a == b:
        return True
    if _distance(a, b) > 2:
        return False
    if a.startswith(b) or a.endswith(b):  # the word is the guess and more
        extra = a[len(b):] if a.startswith(b) else a[:-len(b)]
        # a name with a word or number added is another name (`ReLU6`), a doubled letter a typo
        return len(set(extra)) == 1 and extra[0] in b[-1:] + b[:1]
    return True


def _distance(a: str, b: str) -> int:
    """Levenshtein distance with adjacent swaps (small strings: names)."""
    previous2, previous = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
            if previous2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            row.append(cost)
        previous2, previous = previous, row
    return previous[-1]


def did_you_mean(word: str, guess: str, what: str = "layer") -> str:
    """The hint for a misspelt name: a plain did-you-mean for a typo; for another name that
    only looks close, a warning that it is a different thing."""
    if is_typo(word, guess):
        return f"did you mean '{guess}'?"
    return (f"the closest {what} is '{guess}', a different one: it computes something else, "
            f"so check it is what you mean")

