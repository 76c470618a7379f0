"""Parse .arch text into the AST.

Contract: `parse_text(text, name)` returns a `Program` or raises `ArchError` with a syntax
diagnostic (file:line:col, caret, a reason and, where one is known, a hint). It does not look up
layer names, evaluate arguments or read imported files. The grammar lives in
`grammars/archdsl.lark` (shipped inside the package as `archdsl/grammars/`); the parser is LALR(1)
with a contextual lexer and the `LineBreaks` post-lexer, and the AST is built while parsing.
"""

from __future__ import annotations

import functools
import os
import tempfile
import unicodedata
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from archdsl.diagnostics import ArchError, Diagnostic, Note
from archdsl.source import SourceFile, Span
from archdsl.syntax import ast
from archdsl.syntax.lexer import LineBreaks

GRAMMAR_FILE = "archdsl.lark"


def grammar_text() -> str:
    """The grammar, from the installed package or, in a source checkout, from `grammars/`."""
    try:
        return resources.files("archdsl.grammars").joinpath(GRAMMAR_FILE).read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        here = Path(__file__).resolve().parents[2] / "grammars" / GRAMMAR_FILE
        return here.read_text("utf-8")


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    cache_dir = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "archdsl"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        cache: str | bool = str(cache_dir / "grammar.lark.cache")
    except OSError:
        cache = os.path.join(tempfile.gettempdir(), "archdsl-grammar.lark.cache")
    return Lark(grammar_text(), parser="lalr", lexer="contextual", postlex=LineBreaks(),
                propagate_positions=True, maybe_placeholders=False, cache=cache)


def parse_text(text: str, name: str = "<string>", origin=None) -> ast.Program:
    """Parse a whole .arch program (or a bare layer string, which is an implicit model)."""
    source = SourceFile(name, text, origin)
    return parse_source(source)


def parse_source(source: SourceFile) -> ast.Program:
    try:
        tree = _lark().parse(source.text)
    except UnexpectedInput as exc:
        raise ArchError([syntax_diagnostic(source, exc)]) from None
    except RecursionError:
        raise ArchError([Diagnostic("too-deep", "the spec nests too deeply to parse",
                                    source.span(0, 1), "flatten the nested brackets")]) from None
    return _Builder(source).build(tree)


# --- building the AST --------------------------------------------------------------------------


def _unquote(tok: str) -> str:
    return tok[1:-1]


@v_args(meta=True)
class _ToAst(Transformer):
    """One method per grammar rule; each returns the AST node for it."""

    def __init__(self, source: SourceFile):
        super().__init__(visit_tokens=False)
        self.src = source

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return self.src.span(0, 0)
        return self.src.span(meta.start_pos, meta.end_pos)

    def _tok(self, tok: Token) -> Span:
        return self.src.span(tok.start_pos, tok.end_pos)

    # expressions
    def int(self, meta, c):
        return ast.Num(int(c[0]), self._tok(c[0]))

    def float(self, meta, c):
        return ast.Num(float(c[0]), self._tok(c[0]))

    def string(self, meta, c):
        return ast.Str(_unquote(c[0]), self._tok(c[0]))

    def name(self, meta, c):
        return ast.Name(str(c[0]), self._tok(c[0]))

    def binop(self, meta, c):
        return ast.BinOp(str(c[1]), c[0], c[2], self._span(meta))

    def neg(self, meta, c):
        return ast.Neg(c[0], self._span(meta))

    def tuple(self, meta, c):
        return ast.TupleExpr(tuple(x for x in c if not isinstance(x, Token)), self._span(meta))

    def atom(self, meta, c):  # `( expr )`
        return c[1]

    def signed_number(self, meta, c):
        tok = c[-1]
        value = float(tok) if tok.type == "FLOAT" else int(tok)
        negative = self.src.text[meta.start_pos] == "-"
        return ast.Num(-value if negative else value, self._span(meta))

    def shape_value(self, meta, c):
        text = str(c[0]).replace("×", "x")
        dims = tuple(int(p) for p in text.replace(" ", "").replace("\t", "").split("x"))
        return ast.Shape(dims, self._tok(c[0]))

    # layers and chains
    def label(self, meta, c):
        tok = c[0]
        if tok.type == "STRING":
            return ast.Label(_unquote(tok), False, True, self._tok(tok))
        return ast.Label(str(tok), tok.type == "INT", False, self._tok(tok))

    def args(self, meta, c):
        return tuple(c[1:])

    def arg(self, meta, c):
        if len(c) == 2:
            return ast.Arg(str(c[0]), c[1], self._span(meta), self._tok(c[0]))
        return ast.Arg(None, c[0], self._span(meta))

    def layer(self, meta, c):
        name_tok = c[0]
        label = next((x for x in c[1:] if isinstance(x, ast.Label)), None)
        args = next((x for x in c[1:] if isinstance(x, tuple)), None)
        return ast.Layer(str(name_tok), label, args, self._span(meta), self._tok(name_tok))

    def group(self, meta, c):
        head = None
        if c and isinstance(c[0], Token):
            label = next((x for x in c[1:] if isinstance(x, ast.Label)), None)
            args = next((x for x in c[1:] if isinstance(x, tuple)), None)
            head_end = max([self._tok(c[0]).end] + [x.span.end for x in c[1:3]
                                                   if isinstance(x, ast.Label)] +
                           [a.span.end + 1 for x in c[1:3] if isinstance(x, tuple) for a in x[-1:]])
            head = ast.Layer(str(c[0]), label, args, self.src.span(c[0].start_pos, head_end),
                             self._tok(c[0]))
        branches = tuple(x for x in c if isinstance(x, ast.Branch))
        return ast.Group(head, branches, self._span(meta))

    def optional(self, meta, c):
        return ast.Optional_(c[1], self._span(meta))

    def trailing(self, meta, c):
        return ast.Element(ast.Optional_(c[1], self._span(meta)), None, self._span(meta))

    def string_unit(self, meta, c):
        return ast.StringUnit(_unquote(c[0]), self._tok(c[0]))

    def repeat(self, meta, c):
        rest = c[1:]
        if rest and isinstance(rest[0], Token) and rest[0].type == "LPAR":
            count, rest = rest[1], rest[2:]
        else:
            tok = rest[0]
            count = (ast.Num(int(tok), self._tok(tok)) if tok.type == "INT"
                     else ast.Name(str(tok), self._tok(tok)))
            rest = rest[1:]
        template = None
        if rest:
            tok = rest[-1]
            template = ast.Label(_unquote(tok), False, True, self._tok(tok))
        return ast.Repeat(count, template, self._span(meta))

    def element(self, meta, c):
        return ast.Element(c[0], c[1] if len(c) > 1 else None, self._span(meta))

    def chain(self, meta, c):
        return ast.Chain(tuple(c), self._span(meta))

    def stage(self, meta, c):
        tok = c[0]
        label = str(tok)[:-1]
        return ast.Stage(label, c[1], self._span(meta), self.src.span(tok.start_pos,
                                                                       tok.end_pos - 1))

    def branch(self, meta, c):
        return ast.Branch(tuple(c), self._span(meta))

    # settings and definitions
    def setting(self, meta, c):
        tok = c[0]
        key = str(tok).split(":")[0].strip()
        return ast.Setting(key, c[1], self._span(meta), self.src.span(tok.start_pos,
                                                                      tok.start_pos + len(key)))

    def param(self, meta, c):
        return ast.Param(str(c[0]), c[1] if len(c) > 1 else None, self._span(meta))

    def params(self, meta, c):
        return tuple(x for x in c if isinstance(x, ast.Param))

    def model(self, meta, c):
        settings = tuple(x for x in c[1:] if isinstance(x, ast.Setting))
        body = tuple(x for x in c[1:] if not isinstance(x, ast.Setting))
        return ast.ModelDef(str(c[0]), settings, body, self._span(meta), self._tok(c[0]))

    def block(self, meta, c):
        params = next((x for x in c[1:] if isinstance(x, tuple)), ())
        body = tuple(x for x in c[1:] if not isinstance(x, tuple))
        settings = [x for x in body if isinstance(x, ast.Setting)]
        if settings:
            raise ArchError([Diagnostic(
                "setting-in-block", f"a block cannot have settings ('{settings[0].key}:')",
                settings[0].key_span, "move the setting into the model that uses the block")])
        return ast.BlockDef(str(c[0]), params, body, self._span(meta), self._tok(c[0]))

    def use(self, meta, c):
        return ast.Use(_unquote(c[0]), self._span(meta))

    def start(self, meta, c):
        return list(c)


class _Builder:
    def __init__(self, source: SourceFile):
        self.src = source

    def build(self, tree) -> ast.Program:
        items = _ToAst(self.src).transform(tree)
        uses = tuple(x for x in items if isinstance(x, ast.Use))
        blocks = tuple(x for x in items if isinstance(x, ast.BlockDef))
        models = [x for x in items if isinstance(x, ast.ModelDef)]
        loose = [x for x in items if not isinstance(x, (ast.Use, ast.BlockDef, ast.ModelDef))]
        if loose:
            if models:
                first = loose[0]
                raise ArchError([Diagnostic(
                    "mixed-top-level", "layers and settings at the top level cannot be mixed "
                    "with `model` definitions", first.span,
                    f"move them into a model, e.g. `model {models[0].name} {{ ... }}`",
                    (Note("the file defines this model", models[0].name_span),))])
            settings = tuple(x for x in loose if isinstance(x, ast.Setting))
            body = tuple(x for x in loose if not isinstance(x, ast.Setting))
            span = loose[0].span.to(loose[-1].span)
            models.append(ast.ModelDef(_implicit_name(self.src.name), settings, body, span,
                                       loose[0].span, implicit=True))
        return ast.Program(self.src, uses, blocks, tuple(models))


def _implicit_name(source_name: str) -> str:
    stem = Path(source_name).stem if not source_name.startswith("<") else "Net"
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in stem)
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "Net" + cleaned
    return cleaned


# --- syntax errors -----------------------------------------------------------------------------

_TERMINALS = {
    "NAME": "a layer name", "VGG_TOKEN": "a layer name", "INT": "a number", "FLOAT": "a number",
    "STRING": "a string", "SHAPE": "a shape such as 3x224x224", "MINUS": "'-'", "COMMA": "','",
    "LSQB": "'['", "RSQB": "']'", "LPAR": "'('", "LPAR_ARGS": "'('", "RPAR": "')'",
    "LBRACE": "'{'", "RBRACE": "'}'", "COLON": "':'", "EQUAL": "'='", "STAGE": "a stage label",
    "SETTING_KEY": "a setting", "REPEAT_X": "'x'", "_NL": "a line break", "$END": "the end",
    "ADD_OP": "an operator", "MUL_OP": "an operator", "PLUS": "'+'", "AS": "'as'",
    "MODEL": "'model'", "BLOCK": "'block'", "USE": "'use'",
}
_ORDER = ["NAME", "INT", "LSQB", "LPAR", "RPAR", "RSQB", "MINUS", "COMMA", "REPEAT_X", "RBRACE",
          "STRING", "EQUAL", "_NL", "$END"]

# Characters that look like ones the language uses; users paste them from slides and PDFs.
_LOOKALIKES = {
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\uff0d": "-", "\ufe63": "-", "\u00d7": "x", "\uff08": "(", "\uff09": ")", "\uff3b": "[",
    "\uff3d": "]", "\uff0c": ",", "\uff1a": ":", "\u201c": '"', "\u201d": '"', "\u2018": "'",
    "\u2019": "'", "\uff1d": "=", "\u00a0": " ", "\u3000": " ", "\uff5b": "{", "\uff5d": "}",
}


def _describe_token(tok: Token) -> str:
    if tok.type in ("_NL",):
        return "line break"
    if tok.type == "$END":
        return "end of input"
    return f"'{tok.value}'" if tok.value else _TERMINALS.get(tok.type, tok.type)


def _describe_expected(expected) -> str:
    names = []
    for term in sorted(expected, key=lambda t: (_ORDER.index(t) if t in _ORDER else 99, t)):
        desc = _TERMINALS.get(term, f"'{term.lower()}'" if term.isupper() else term)
        if desc not in names:
            names.append(desc)
    if not names:
        return ""
    if len(names) > 5:
        names = names[:5] + ["..."]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def syntax_diagnostic(src: SourceFile, exc: UnexpectedInput) -> Diagnostic:
    """Turn a Lark error into a diagnostic a student can act on."""
    text = src.text
    pos = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
    if isinstance(exc, UnexpectedCharacters):
        ch = text[pos] if pos < len(text) else ""
        if ch in "\"'":
            return Diagnostic("unterminated-string", "this string is never closed",
                              src.span(pos, len(text.split("\n", 1)[0]) if "\n" not in text[pos:]
                                       else text.index("\n", pos)),
                              f"add the closing {ch} on the same line")
        span = src.span(pos, pos + 1)
        if ch in _LOOKALIKES:
            name = unicodedata.name(ch, "unknown")
            good = _LOOKALIKES[ch]
            return Diagnostic("lookalike-character",
                              f"'{ch}' ({name}, U+{ord(ch):04X}) looks like '{good}' but is not",
                              span, f"type a plain ASCII '{good}'")
        printable = ch if ch.isprintable() else repr(ch)
        return Diagnostic("unexpected-character", f"unexpected character '{printable}'", span,
                          _hint_for_char(ch))
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            return _unexpected_end(src, exc)
        start = tok.start_pos if tok.start_pos is not None else pos
        end = tok.end_pos if tok.end_pos is not None else start + 1
        if tok.type == "_NL":
            start, end = start, start + 1
        span = src.span(start, max(end, start + 1))
        expected = _describe_expected(exc.expected)
        message = f"unexpected {_describe_token(tok)}" + (f"; expected {expected}" if expected
                                                           else "")
        return Diagnostic("syntax-error", message, span, _hint_for_token(src, tok, exc))
    if isinstance(exc, UnexpectedEOF):
        return _unexpected_end(src, exc)
    return Diagnostic("syntax-error", str(exc).splitlines()[0], src.span(pos, pos + 1))


def _unexpected_end(src: SourceFile, exc: UnexpectedInput) -> Diagnostic:
    text = src.text
    opener = _unclosed_bracket(text)
    end = len(text.rstrip())
    span = src.span(max(0, end - 1), max(1, end))
    expected = _describe_expected(getattr(exc, "expected", ()) or ())
    if opener is not None:
        pos, ch = opener
        close = {"[": "]", "(": ")", "{": "}"}[ch]
        return Diagnostic("unclosed-bracket", f"'{ch}' is never closed", src.span(pos, pos + 1),
                          f"add '{close}' where the group ends")
    return Diagnostic("syntax-error", "unexpected end of input" +
                      (f"; expected {expected}" if expected else ""), span,
                      "a chain cannot end with '-'" if text.rstrip().endswith("-") else None)


def _unclosed_bracket(text: str) -> tuple[int, str] | None:
    stack: list[tuple[int, str]] = []
    pairs = {")": "(", "]": "[", "}": "{"}
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
            if stack and stack[-1][1] == pairs[ch]:
                stack.pop()
    return stack[-1] if stack else None


def _hint_for_char(ch: str) -> str | None:
    if ch == "\t":
        return None
    if ch in ";|":
        return "separate layers with '-'"
    if ch in "@$!?`~^&":
        return "names use letters, digits and '_'"
    return None


def _hint_for_token(src: SourceFile, tok: Token, exc: UnexpectedToken) -> str | None:
    text = src.text
    start = tok.start_pos or 0
    before = text[:start].rstrip(" \t")
    expected = set(exc.expected)
    if tok.type == "MINUS" and before.endswith("-"):
        return "two '-' in a row: remove one, or put a layer between them"
    if tok.type in ("RSQB", "RPAR", "COMMA") and before.endswith("-"):
        return "a chain cannot end with '-'"
    if before.endswith("(") and len(before) >= 2 and text[len(before) - 2] in " \t":
        # `Conv (64, 3)`: the space makes `(` an optional layer, not the argument list.
        return "write the arguments right after the name, without a space: `Name(...)`"
    if tok.type == "INT" and before.endswith(":"):
        return "a layer label has no space after the colon: `Conv:1`"
    if tok.type in ("NAME", "LSQB", "VGG_TOKEN") and "MINUS" in expected:
        return "separate layers with '-' (or put them on separate lines)"
    if tok.type == "RSQB" and _unclosed_bracket(text[:start]) is None:
        return "this ']' has no matching '['"
    if tok.type == "RPAR":
        return "this ')' has no matching '('" if _unclosed_bracket(text[:start]) is None else None
    if tok.type == "RBRACE" and "{" not in text[:start]:
        return "this '}' has no matching '{'"
    return None
