"""Parse .arch text into the AST.

Contract: `parse_text(text, name)` returns a `Program` or raises `ArchError` with a syntax
diagnostic (file:line:col, caret, a reason and, where one is known, a hint). It does not look up
layer names, evaluate arguments or read imported files. The grammar lives in
`grammars/archdsl.lark` (shipped inside the package as `archdsl/grammars/`); the parser is LALR(1)
with a contextual lexer and the `LineBreaks` post-lexer; a transformer turns its tree into the AST.

A fast path and the reference: `parse_source` first tries `fastparse`, a hand-written lexer and
recursive-descent parser for the same grammar (6-7x faster than Lark on the zoo). It is only a
shortcut: whenever it is unsure (any syntax error, an unusual token, deep nesting) it gives up and
the text goes to Lark, the reference, which also produces every syntax diagnostic. Both paths
feed the same post-processing (`_Builder.program`), and tests/test_fastparse.py checks that they
build the same AST, spans included, and that the fast parser never accepts text Lark rejects.
`parse_source_lark` forces the Lark path. Lark is imported only when the fast parser gives up,
which keeps its import and grammar load out of the start-up of commands that read valid specs.
"""

from __future__ import annotations

import functools
import os
import tempfile
from importlib import resources
from pathlib import Path

from archdsl.diagnostics import ArchError, Diagnostic, Note
from archdsl.expr_functions import FUNCTIONS
from archdsl.source import SourceFile, Span
from archdsl.syntax import ast, fastparse

__all__ = ["grammar_text", "parse_source", "parse_source_lark", "parse_text",
           "syntax_diagnostic"]  # noqa: F822  (syntax_diagnostic: see __getattr__)

GRAMMAR_FILE = "archdsl.lark"


def __getattr__(name: str):
    if name == "syntax_diagnostic":  # re-exported lazily: errors.py imports Lark
        from archdsl.syntax.errors import syntax_diagnostic

        return syntax_diagnostic
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def grammar_text() -> str:
    """The grammar, from the installed package or, in a source checkout, from `grammars/`."""
    try:
        return resources.files("archdsl.grammars").joinpath(GRAMMAR_FILE).read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        here = Path(__file__).resolve().parents[2] / "grammars" / GRAMMAR_FILE
        return here.read_text("utf-8")


@functools.lru_cache(maxsize=1)
def _lark():
    from lark import Lark

    from archdsl.syntax.lexer import LineBreaks

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
    items = fastparse.parse_items(source)
    if items is None:  # the fast parser is not sure: the reference decides (and reports)
        return parse_source_lark(source)
    return _Builder(source).program(items)


def parse_source_lark(source: SourceFile) -> ast.Program:
    """Parse with Lark only (the reference; `parse_source` falls back to it)."""
    from lark.exceptions import UnexpectedInput

    from archdsl.syntax.errors import check_depth, syntax_errors, too_deep

    parser = _lark()
    try:
        tree = parser.parse(source.text)
    except UnexpectedInput as exc:
        raise ArchError(syntax_errors(source, exc, parser.parse)) from None
    except RecursionError:
        raise ArchError([too_deep(source.span(0, 1))]) from None
    check_depth(tree, source)
    try:
        return _Builder(source).build(tree)
    except RecursionError:
        raise ArchError([too_deep(source.span(0, 1))]) from None


# --- building the AST --------------------------------------------------------------------------


def _unquote(tok: str) -> str:
    return tok[1:-1]


def _is_token(child) -> bool:
    return isinstance(child, str)  # Lark's tokens are strings; AST nodes and tuples are not


def _check_number(tok, src: SourceFile) -> None:
    from archdsl.syntax.errors import check_number  # errors.py imports Lark

    check_number(tok, src)


class _ToAst:
    """One method per grammar rule; each returns the AST node for it.

    `transform` walks the tree bottom-up as Lark's `Transformer` with `v_args(meta=True)` would,
    calling `rule(meta, children)`; written out so that this module does not import Lark, and a
    rule without a method is an AttributeError instead of a silent `__default__`.
    """

    def __init__(self, source: SourceFile):
        self.src = source

    def transform(self, tree):
        children = [c if _is_token(c) else self.transform(c) for c in tree.children]
        return getattr(self, tree.data)(tree.meta, children)

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return self.src.span(0, 0)
        return self.src.span(meta.start_pos, meta.end_pos)

    def _tok(self, tok) -> Span:
        return self.src.span(tok.start_pos, tok.end_pos)

    # expressions
    def int(self, meta, c):
        _check_number(c[0], self.src)
        return ast.Num(int(c[0]), self._tok(c[0]))

    def float(self, meta, c):
        _check_number(c[0], self.src)
        return ast.Num(float(c[0]), self._tok(c[0]))

    def string(self, meta, c):
        return ast.Str(_unquote(c[0]), self._tok(c[0]))

    def name(self, meta, c):
        return ast.Name(str(c[0]), self._tok(c[0]))

    def binop(self, meta, c):
        return ast.BinOp(str(c[1]), c[0], c[2], self._span(meta))

    def neg(self, meta, c):
        return ast.Neg(c[0], self._span(meta))

    def call(self, meta, c):  # NAME, the parenthesis, the arguments
        node = ast.Call(str(c[0]), tuple(c[2:]), self._span(meta))
        if node.func not in FUNCTIONS:  # refused where written, even in a default never used:
            from archdsl.expr import unknown_function  # generated code may print defaults

            raise ArchError([unknown_function(node)])
        return node

    def ifelse(self, meta, c):
        return ast.IfElse(c[0], c[1], c[2], self._span(meta))

    def compare(self, meta, c):
        return ast.Compare(c[0], tuple(str(t) for t in c[1::2]), tuple(c[2::2]),
                           self._span(meta))

    def or_(self, meta, c):
        return ast.BoolOp("or", c[0], c[1], self._span(meta))

    def and_(self, meta, c):
        return ast.BoolOp("and", c[0], c[1], self._span(meta))

    def not_(self, meta, c):
        return ast.Not(c[0], self._span(meta))

    def tuple(self, meta, c):
        return ast.TupleExpr(tuple(x for x in c if not _is_token(x)), self._span(meta))

    def atom(self, meta, c):  # `( expr )`
        return c[1]

    def signed_number(self, meta, c):
        tok = c[-1]
        _check_number(tok, self.src)
        value = float(tok) if tok.type == "FLOAT" else int(tok)
        negative = self.src.text[meta.start_pos] == "-"
        return ast.Num(-value if negative else value, self._span(meta))

    def shape_value(self, meta, c):
        text = str(c[0]).replace("×", "x")
        parts = text.replace(" ", "").replace("\t", "").split("x")
        for part in parts:
            if len(part) > 60:
                _check_number(c[0], self.src)
        dims = tuple(int(p) for p in parts)
        return ast.Shape(dims, self._tok(c[0]))

    # layers and chains
    def label(self, meta, c):
        tok = c[0]
        if tok.type == "STRING":
            return ast.Label(_unquote(tok), False, True, self._tok(tok))
        if tok.type == "INT":
            _check_number(tok, self.src)
        return ast.Label(str(tok), tok.type == "INT", False, self._tok(tok))

    def args(self, meta, c):
        return tuple(c[1:])

    def arg(self, meta, c):
        if len(c) == 2:
            return ast.Arg(str(c[0]), c[1], self._span(meta))
        return ast.Arg(None, c[0], self._span(meta))

    def layer(self, meta, c):
        name_tok = c[0]
        label = next((x for x in c[1:] if isinstance(x, ast.Label)), None)
        args = next((x for x in c[1:] if isinstance(x, tuple)), None)
        return ast.Layer(str(name_tok), label, args, self._span(meta))

    def group(self, meta, c):
        head = None
        if c and _is_token(c[0]):
            label = next((x for x in c[1:] if isinstance(x, ast.Label)), None)
            args = next((x for x in c[1:] if isinstance(x, tuple)), None)
            head_end = max([self._tok(c[0]).end] + [x.span.end for x in c[1:3]
                                                   if isinstance(x, ast.Label)] +
                           [a.span.end + 1 for x in c[1:3] if isinstance(x, tuple) for a in x[-1:]])
            head = ast.Layer(str(c[0]), label, args, self.src.span(c[0].start_pos, head_end))
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
        if rest and _is_token(rest[0]) and rest[0].type == "LPAR":
            count, rest = rest[1], rest[2:]
        else:
            tok = rest[0]
            if tok.type == "INT":
                _check_number(tok, self.src)
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
        """The program from Lark's parse tree."""
        return self.program(_ToAst(self.src).transform(tree))

    def program(self, items: list) -> ast.Program:
        """The program from its top-level items (from either parser): checks and the implicit
        model."""
        uses, blocks, models, loose = [], [], [], []  # loose: statements and settings
        kinds = {ast.Use: uses, ast.BlockDef: blocks, ast.ModelDef: models}
        for x in items:
            kinds.get(type(x), loose).append(x)
        seen: dict[str, ast.ModelDef] = {}
        for m in models:
            if m.name in seen:
                raise ArchError([Diagnostic("duplicate-model", f"model {m.name} is defined twice",
                                            m.name_span, "rename one of them (`--model NAME` "
                                            "picks a model by name)",
                                            (Note("first defined here", seen[m.name].name_span),))])
            seen[m.name] = m
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
        return ast.Program(self.src, tuple(uses), tuple(blocks), tuple(models))


@functools.lru_cache(maxsize=256)  # each layer string of a YAML file asks again; pathlib is slow
def _implicit_name(source_name: str) -> str:
    stem = Path(source_name).stem if not source_name.startswith("<") else "Net"
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in stem)
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "Net" + cleaned
    return cleaned
