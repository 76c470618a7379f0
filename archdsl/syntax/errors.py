"""Syntax errors: Lark's exceptions turned into diagnostics a student can act on.

Contract: `syntax_errors(src, exc, reparse)` returns the diagnostics for a text that failed to
parse: the first error, then (error recovery) further independent ones, found by blanking the
failing line and parsing again while that cannot cause a follow-on error. `syntax_diagnostic`
turns one Lark error into one diagnostic: a stable code, a reason that says what was found and
what was expected, the smallest span (the token, the character, or the unclosed bracket), and a
hint where the fix is known. `check_depth(tree, src)` refuses parse trees nested so deeply that
the later, recursive stages would exhaust Python's stack. Nothing here looks up layer names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from archdsl.diagnostics import ArchError, Diagnostic, Note, suggest
from archdsl.settings import SETTING_KEYS
from archdsl.source import SourceFile, Span

MAX_TREE_DEPTH = 100  # parse-tree levels; the zoo needs under 20
MAX_SYNTAX_ERRORS = 10
RECOVERY_MAX_CHARS = 64_000  # error recovery re-parses; only for files of ordinary size
MAX_NUMBER_DIGITS = 60  # far beyond any layer size (expr.MAX_INT_DIGITS agrees)


_TERMINALS = {
    "NAME": "a layer name", "VGG_TOKEN": "a layer name", "INT": "a number", "FLOAT": "a number",
    "STRING": "a string", "SHAPE": "a shape such as 3x224x224", "MINUS": "'-'", "COMMA": "','",
    "LSQB": "'['", "RSQB": "']'", "LPAR": "'('", "LPAR_ARGS": "'('", "RPAR": "')'",
    "LBRACE": "'{'", "RBRACE": "'}'", "COLON": "':'", "EQUAL": "'='", "STAGE": "a stage label",
    "GROUP_LABEL": "a layer name",  # `- classifier: [...]`: rarely what was meant; kept short
    "SETTING_KEY": "a setting", "REPEAT_X": "'x'", "_NL": "a line break", "$END": "the end",
    "ADD_OP": "an operator", "MUL_OP": "an operator", "PLUS": "'+'", "AS": "'as'",
    "MODEL": "'model'", "BLOCK": "'block'", "USE": "'use'",
    # what may continue an expression reads as one thing, so `expected ')', ',' or an
    # operator` stays short (LALR merges states: `else` is "expected" after any operand)
    "POW_OP": "an operator", "COMP_OP": "an operator", "IF": "an operator",
    "AND": "an operator", "OR": "an operator", "ELSE": "an operator", "NOT": "'not'",
}
_ORDER = ["NAME", "INT", "LSQB", "LPAR", "RPAR", "RSQB", "MINUS", "COMMA", "REPEAT_X", "RBRACE",
          "STRING", "EQUAL", "_NL", "$END"]
_PAIRS = {")": "(", "]": "[", "}": "{"}
_CLOSE = {"(": ")", "[": "]", "{": "}"}

# Characters that look like ones the language uses; users paste them from slides and PDFs.
_LOOKALIKES = {
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\uff0d": "-", "\ufe63": "-", "\u00d7": "x", "\uff08": "(", "\uff09": ")", "\uff3b": "[",
    "\uff3d": "]", "\uff0c": ",", "\uff1a": ":", "\u201c": '"', "\u201d": '"', "\u2018": "'",
    "\u2019": "'", "\uff1d": "=", "\u00a0": " ", "\u3000": " ", "\uff5b": "{", "\uff5d": "}",
    "\u2032": "'", "\u00b4": "'", "\uff0e": ".", "\u2024": ".", "\u02d7": "-",
}
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u200f"}


# --- several errors at once --------------------------------------------------------------------


def syntax_errors(src: SourceFile, exc: UnexpectedInput,
                  reparse: Callable[[str], object]) -> list[Diagnostic]:
    """The first syntax error and, where they are independent, the ones after it.

    Recovery blanks the failing line (keeping every offset) and parses again. It stops at an
    unclosed bracket or the end of input, when the blanked line held unbalanced brackets, or when
    the next error sits right after the blanked line (likely caused by the blanking itself).
    """
    first = syntax_diagnostic(src, exc)
    diags = [first]
    text = src.text
    if len(text) > RECOVERY_MAX_CHARS:
        return diags
    while len(diags) < MAX_SYNTAX_ERRORS:
        if not _recoverable(diags[-1], exc):
            break
        pos = _error_pos(exc, text)
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        end = len(text) if end == -1 else end
        line = text[start:end]
        opened, stray = _scan(line)
        if opened or stray:
            break  # the line opens or closes brackets: blanking it would cause new errors
        text = text[:start] + " " * (end - start) + text[end:]
        try:
            reparse(text)
            break
        except UnexpectedInput as nxt:
            npos = _error_pos(nxt, text)
            if npos < end or not text[end:npos].strip() or isinstance(nxt, UnexpectedEOF) or \
                    getattr(nxt, "token", None) is not None and nxt.token.type == "$END":
                break
            exc = nxt
            diags.append(_rebase(syntax_diagnostic(SourceFile(src.name, text, src.origin), nxt),
                                 src))
        except Exception:  # noqa: BLE001  (recovery is best effort; the first error stands)
            break
    return diags


def _recoverable(diag: Diagnostic, exc: UnexpectedInput) -> bool:
    if diag.code in ("unclosed-bracket", "unterminated-string", "mismatched-bracket"):
        return False
    if "LBRACE" in getattr(exc, "expected", ()):
        return False  # a broken `model`/`block` header: its body would cascade
    return not isinstance(exc, UnexpectedEOF) and not (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END")


def _error_pos(exc: UnexpectedInput, text: str) -> int:
    if isinstance(exc, UnexpectedToken) and exc.token.start_pos is not None:
        return exc.token.start_pos
    return exc.pos_in_stream if exc.pos_in_stream is not None else len(text)


def _rebase(diag: Diagnostic, src: SourceFile) -> Diagnostic:
    """The same diagnostic with its spans in the original (unblanked) source."""
    def move(span: Span | None) -> Span | None:
        return None if span is None else Span(src, span.start, span.end)

    notes = tuple(Note(n.message, move(n.span)) for n in diag.notes)
    return Diagnostic(diag.code, diag.message, move(diag.span), diag.hint, notes, diag.severity)


# --- nesting -----------------------------------------------------------------------------------


def check_depth(tree: Tree, src: SourceFile, limit: int = MAX_TREE_DEPTH) -> None:
    """Refuse a parse tree deeper than `limit` (iteratively, so this check cannot overflow)."""
    stack: list[tuple[Tree, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            meta = node.meta
            start = getattr(meta, "start_pos", 0) if not getattr(meta, "empty", True) else 0
            raise ArchError([too_deep(src.span(start, start + 1))])
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tree))


def too_deep(span: Span | None) -> Diagnostic:
    return Diagnostic("too-deep", "brackets, parentheses or operators nest too deeply here",
                      span, "flatten the nesting: write long chains with '-', not inside "
                      "ever more brackets")


# --- one error ---------------------------------------------------------------------------------


def syntax_diagnostic(src: SourceFile, exc: UnexpectedInput) -> Diagnostic:
    """Turn a Lark error into a diagnostic a student can act on."""
    text = src.text
    if isinstance(exc, UnexpectedCharacters):
        return _bad_character(src, exc.pos_in_stream if exc.pos_in_stream is not None else 0)
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            return _unexpected_end(src, exc)
        start = tok.start_pos if tok.start_pos is not None else len(text)
        end = tok.end_pos if tok.end_pos is not None else start + 1
        if tok.type == "_NL":
            end = start + 1
        if tok.type == "COMP_OP" and tok.value[0] in "<>!" and not _inside_parens(text, start):
            # outside an expression `<`, `>` and `!` are stray characters (`Conv -> ReLU`)
            return _bad_character(src, start)
        bracket = _bracket_problem(src, start, tok)
        if bracket is not None:
            return bracket
        special = _special_token(src, tok, start, end, set(exc.expected))
        if special is not None:
            return special
        span = src.span(start, max(end, start + 1))
        expected = _describe_expected(exc.expected)
        message = f"unexpected {_describe_token(tok)}" + (f"; expected {expected}" if expected
                                                           else "")
        return Diagnostic("syntax-error", message, span, _hint_for_token(src, tok, exc))
    if isinstance(exc, UnexpectedEOF):
        return _unexpected_end(src, exc)
    pos = exc.pos_in_stream or 0
    return Diagnostic("syntax-error", str(exc).splitlines()[0], src.span(pos, pos + 1))


def _bad_character(src: SourceFile, pos: int) -> Diagnostic:
    text = src.text
    ch = text[pos] if pos < len(text) else ""
    if ch in "\"'":
        end = text.find("\n", pos)
        return Diagnostic("unterminated-string", "this string is never closed",
                          src.span(pos, len(text) if end == -1 else end),
                          f"add the closing {ch} on the same line")
    span = src.span(pos, pos + 1)
    name = unicodedata.name(ch, "unknown") if ch else "unknown"
    if ch in _LOOKALIKES:
        good = _LOOKALIKES[ch]
        shown = "' '" if good == " " else f"'{good}'"
        return Diagnostic("lookalike-character",
                          f"'{ch}' ({name}, U+{ord(ch):04X}) looks like {shown} but is not",
                          span, f"type a plain ASCII {shown}")
    if ch in _INVISIBLE or unicodedata.category(ch or "a") in ("Cf", "Cc", "Zs"):
        return Diagnostic("invisible-character", f"an invisible character ({name}, "
                          f"U+{ord(ch):04X}) is here", span,
                          "delete it (it often comes with text copied from a web page)")
    if not ch.isascii() and (ch.isalnum() or ch == "_"):
        return Diagnostic("non-ascii-character", f"'{ch}' ({name}) is not an ASCII letter",
                          span, "names use ASCII letters, digits and '_', since they become "
                          "Python names")
    before = text[:pos].rstrip(" \t")
    if ch == ">" and before.endswith("-"):
        return Diagnostic("unexpected-character", "'->' is not a separator", src.span(
            len(before) - 1, pos + 1), "join layers with '-' alone: `Conv - ReLU`")
    printable = ch if ch.isprintable() else repr(ch)
    return Diagnostic("unexpected-character", f"unexpected character '{printable}'", span,
                      _hint_for_char(ch))


def _hint_for_char(ch: str) -> str | None:
    if ch in ";|>":
        return "join layers with '-'"
    if ch in "@$!?`~^&\\":
        return "names use letters, digits and '_'"
    if ch == ".":
        return "write numbers with a digit before the point (0.5); names cannot contain '.'"
    return None


def _unexpected_end(src: SourceFile, exc: UnexpectedInput) -> Diagnostic:
    text = src.text
    stack, _ = _scan(text)
    end = len(text.rstrip())
    span = src.span(max(0, end - 1), max(1, end))
    if stack:
        pos, ch = stack[-1]
        return Diagnostic("unclosed-bracket", f"'{ch}' is never closed", src.span(pos, pos + 1),
                          f"add '{_CLOSE[ch]}' where the group ends")
    expected = _describe_expected(getattr(exc, "expected", ()) or ())
    tail = text.rstrip()
    hint = None
    if tail.endswith("-"):
        hint = "a chain cannot end with '-': remove it or add a layer after it"
    elif tail.endswith(":"):
        hint = "a label follows the colon directly: `Conv:conv1`"
    elif re.search(r"(^|[\s\])])[x×]$", tail):
        hint = "`x` needs a repeat count: `x 3`"
    elif tail.endswith("as"):
        hint = "`as` needs a name template in quotes: `as \"layer{i}\"`"
    return Diagnostic("syntax-error", "unexpected end of input" +
                      (f"; expected {expected}" if expected else ""), span, hint)


def _scan(text: str) -> tuple[list[tuple[int, str]], list[tuple[int, str, tuple[int, str] | None]]]:
    """(still-open brackets, stray or mismatched closers) outside strings and comments."""
    stack: list[tuple[int, str]] = []
    stray: list[tuple[int, str, tuple[int, str] | None]] = []
    in_comment = False
    quote = None
    for i, ch in enumerate(text):
        if in_comment:
            in_comment = ch != "\n"
            continue
        if quote:
            if ch == quote or ch == "\n":
                quote = None
            continue
        if ch == "#":
            in_comment = True
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            stack.append((i, ch))
        elif ch in ")]}":
            if stack and stack[-1][1] == _PAIRS[ch]:
                stack.pop()
            else:
                stray.append((i, ch, stack[-1] if stack else None))
    return stack, stray


def _bracket_problem(src: SourceFile, start: int, tok: Token) -> Diagnostic | None:
    """An unexpected token explained by a bracket: a stray or mismatched closer, or an opener
    left open on an earlier line."""
    text = src.text
    stack, stray = _scan(text[:start + 1])
    if tok.type in ("RPAR", "RSQB", "RBRACE") and stray and stray[-1][0] == start:
        _, ch, opener = stray[-1]
        if opener is None:
            return Diagnostic("unmatched-bracket", f"this '{ch}' has no matching "
                              f"'{_PAIRS[ch]}'", src.span(start, start + 1),
                              f"remove it, or add '{_PAIRS[ch]}' where the group starts")
        pos, open_ch = opener
        return Diagnostic("mismatched-bracket", f"'{ch}' does not close the '{open_ch}' "
                          f"opened at {src.span(pos, pos + 1).location()}",
                          src.span(start, start + 1), f"close it with '{_CLOSE[open_ch]}'",
                          (Note(f"this '{open_ch}' is still open", src.span(pos, pos + 1)),))
    opened = [(p, ch) for p, ch in stack if p < start]
    if opened and tok.type != "_NL":
        pos, ch = opened[-1]
        if ch in "([" and text.count("\n", pos, start) > 0:
            return Diagnostic("unclosed-bracket", f"'{ch}' is never closed",
                              src.span(pos, pos + 1), f"add '{_CLOSE[ch]}' where the group ends",
                              (Note(f"expected '{_CLOSE[ch]}' before this",
                                    src.span(start, max(start + 1, tok.end_pos or start + 1))),))
    return None


def _special_token(src: SourceFile, tok: Token, start: int, end: int,
                   expected: set[str]) -> Diagnostic | None:
    """Mistakes common enough to deserve their own message."""
    text = src.text
    glued = start > 0 and text[start - 1].isdigit()
    if glued and tok.type in ("NAME", "REPEAT_X", "FLOAT"):
        num_start = start
        while num_start > 0 and (text[num_start - 1].isalnum() or text[num_start - 1] in "._"):
            num_start -= 1
        word = text[num_start:end]
        return Diagnostic("bad-number", f"'{word}' is not a number", src.span(num_start, end),
                          "write whole numbers in decimal (16) and fractions as 0.5 or 1e-4")
    if tok.type == "STAGE":
        word = str(tok)[:-1]
        guess = suggest(word, SETTING_KEYS)
        if guess is not None and guess != word and "NAME" not in expected:
            return Diagnostic("unknown-setting", f"unknown setting '{word}'",
                              src.span(start, end - 1), f"did you mean '{guess}:'?")
    before = text[:start].rstrip(" \t")
    prev_stage = re.search(r"([A-Za-z_][A-Za-z0-9_]*):$", before)
    if tok.type in ("SHAPE", "INT", "FLOAT") and prev_stage and \
            prev_stage.group(1) not in SETTING_KEYS and before.endswith(":") and \
            text[len(before):start]:
        word = prev_stage.group(1)
        guess = suggest(word, SETTING_KEYS)
        return Diagnostic("unknown-setting", f"unknown setting '{word}'",
                          src.span(prev_stage.start(1), prev_stage.end(1)),
                          f"did you mean '{guess}:'?" if guess else
                          "settings are " + ", ".join(SETTING_KEYS))
    return None


def _describe_token(tok: Token) -> str:
    if tok.type == "_NL":
        return "line break"
    if tok.type == "$END":
        return "end of input"
    return f"'{tok.value}'" if tok.value else _TERMINALS.get(tok.type, tok.type)


def _describe_expected(expected) -> str:
    """Up to four things the parser would have accepted, in words; "" when more (noise)."""
    names: list[str] = []
    for term in sorted(expected, key=lambda t: (_ORDER.index(t) if t in _ORDER else 99, t)):
        if term in ("_NL", "$END") and len(expected) > 2:
            continue
        desc = _TERMINALS.get(term, f"'{term.lower()}'" if term.isupper() else term)
        if desc not in names:
            names.append(desc)
    if not names or len(names) > 4:
        return ""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _hint_for_token(src: SourceFile, tok: Token, exc: UnexpectedToken) -> str | None:
    text = src.text
    start = tok.start_pos or 0
    before = text[:start].rstrip(" \t")
    last = before[-1:]
    expected = set(exc.expected)
    kind = tok.type
    if kind == "MINUS" and last == "-":
        return "two '-' in a row: remove one, or put a layer between them"
    if kind == "MINUS" and (last in ("", "\n", "[", ",", "{", "(") or before.endswith(":")):
        return "a chain cannot start with '-': remove it"
    if kind in ("RSQB", "RPAR", "COMMA", "RBRACE", "_NL") and last == "-":
        return "a chain cannot end with '-': remove it or add a layer after it"
    if kind == "RSQB" and last == "[":
        return "brackets need layers inside, e.g. Add[Conv(64, 3, p=1), Id]"
    if kind == "RPAR" and last == "(":
        return "parentheses need a layer inside, e.g. (SM)"
    if kind == "COMMA" and last in "(,":
        return "an argument is missing: remove the extra ','"
    if kind == "RPAR" and last == "=":
        return "give the argument a value, e.g. `s=2`"
    if kind == "EQUAL" and last in "(,":
        return "an argument name goes before '=', e.g. `s=2`"
    keyword = re.search(r"(?<![A-Za-z0-9_])(if|else|and|or|not)$", before)
    if kind == "EQUAL" and keyword:
        return f"'{keyword.group(1)}' is a keyword of expressions; it cannot name an argument"
    if kind == "RPAR" and last == ",":
        return "remove the trailing ','"
    if kind in ("RPAR", "COMMA") and "ELSE" in expected and _open_conditional(text, start):
        return "a conditional needs `else`: `a if condition else b`"
    if before.endswith("(") and len(before) >= 2 and text[len(before) - 2] in " \t":
        # `Conv (64, 3)`: the space makes `(` an optional layer, not the argument list.
        return "write the arguments right after the name, without a space: `Name(...)`"
    if kind == "COMMA" and not _scan(text[:start])[0]:
        return "',' separates branches inside Add[...] or Concat[...]; join layers with '-'"
    if kind == "COLON":
        return "a layer has one label, right after its name: `Conv:conv1(64, 3)`"
    if kind in ("INT", "FLOAT", "NAME", "STRING") and "COMMA" in expected and \
            "RPAR" in expected and _inside_parens(text, start):
        return "separate arguments with ','"
    if kind == "INT" and before.endswith(":"):
        return "a layer label has no space after the colon: `Conv:1`"
    if (kind == "REPEAT_X" or str(tok) in ("x", "×")) and \
            re.search(r"\s[x×]\s*\(?[0-9A-Za-z_)]+$", before):
        return "a repeat cannot be repeated again; group it: `[Conv x 2] x 3`"
    if kind == "FLOAT" and str(tok).startswith(".") and last.isdigit():
        return "a number has at most one '.'"
    if kind in ("NAME", "LSQB", "VGG_TOKEN", "STRING", "INT") and "MINUS" in expected:
        return "separate layers with '-' (or put them on separate lines)"
    if kind == "_NL" and "LBRACE" in expected:
        return "put '{' on the same line as the name: `model Net {`"
    return None


def _open_conditional(text: str, pos: int) -> bool:
    """Whether the innermost parenthesis before `pos` holds an `if` without its `else`."""
    stack, _ = _scan(text[:pos])
    if not stack:
        return False
    inner = text[stack[-1][0] + 1:pos].split(",")[-1]
    return re.search(r"\bif\b", inner) is not None and re.search(r"\belse\b", inner) is None


def _inside_parens(text: str, pos: int) -> bool:
    stack, _ = _scan(text[:pos])
    return bool(stack) and stack[-1][1] == "("


def check_number(tok: Token, src: SourceFile) -> None:
    """Refuse number literals too long to be a size (and too slow to convert)."""
    digits = sum(ch.isdigit() for ch in str(tok))
    if digits > MAX_NUMBER_DIGITS:
        raise ArchError([Diagnostic("bad-number", f"this number has {digits} digits, more than "
                                    f"the {MAX_NUMBER_DIGITS} archdsl accepts",
                                    src.span(tok.start_pos or 0, tok.end_pos or 1),
                                    "no layer needs a size this large")])
