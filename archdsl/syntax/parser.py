"""Parse .arch text into the AST.

Contract: `parse_text(text, name)` returns a `Program` or raises `ArchError` with a syntax
diagnostic (file:line:col, caret, a reason and, where one is known, a hint). It does not look up
layer names, evaluate arguments or read imported files.

One parser: the grammar `grammars/archdsl.lark` (shipped inside the package as
`archdsl/grammars/`; its setting keys are filled in from archdsl/settings.py's table when it is
loaded) read by Lark's LALR(1) parser, with a contextual lexer and the `LineBreaks` post-lexer.
The AST is built during the parse: Lark calls `_Build`'s method for a rule each time it reduces
one (an inline transformer), so no parse tree is made. Every token is kept (`keep_all_tokens`)
and a node's span runs from its first token to its last, worked out from the tokens and the
spans below it, as Lark's `propagate_positions` would give it without its cost; `(expr)` and
`+expr` give the inner expression, with its own span, to the node around them. What the methods
find wrong (`bad-number`, `setting-in-block`, `unknown-function`) waits until the parse ends, so
a syntax error anywhere comes first, and a text nested deeper than `errors.MAX_TREE_DEPTH`
parse-tree levels (counted as the parse goes) comes next: only then is it parsed again into a
Lark tree, for the `too-deep` diagnostic's position.

Caching, so that no text is parsed twice and the parser is not rebuilt at every start:
- `parse_source` asks the AST cache first (archdsl/syntax/cache.py): a text parsed before, by
  this process or an earlier one (the zoo, the prelude, the block libraries, a user's unchanged
  file), is read back from the user's cache directory, and Lark is not even imported;
- otherwise Lark's analysis of the grammar (the LALR table and the lexer) is loaded from the
  same directory (`_lark`), about 10 ms instead of about 0.3 s to build it.
benchmarks/results/parser.md has the figures behind these choices.
"""

from __future__ import annotations

import functools
import gc
import threading
from pathlib import Path

from archdsl.diagnostics import ArchError, Diagnostic, Note
from archdsl.expr_functions import FUNCTIONS
from archdsl.source import SourceFile, Span
from archdsl.syntax import ast, cache
from archdsl.syntax.grammar import SETTING_KEYS_SLOT, grammar_text  # noqa: F401  (re-exported)

__all__ = ["grammar_text", "parse_source", "parse_text",
           "syntax_diagnostic"]  # noqa: F822  (syntax_diagnostic: see __getattr__)

MAX_TREE_DEPTH = 100  # errors.MAX_TREE_DEPTH (errors.py imports Lark's exceptions)
MAX_DIGITS = 60  # errors.MAX_NUMBER_DIGITS: a longer number token is checked there
_OPTIONS = {"parser": "lalr", "lexer": "contextual", "maybe_placeholders": False}


def __getattr__(name: str):
    if name == "syntax_diagnostic":  # re-exported lazily: errors.py imports Lark
        from archdsl.syntax.errors import syntax_diagnostic

        return syntax_diagnostic
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_text(text: str, name: str = "<string>", origin=None) -> ast.Program:
    """Parse a whole .arch program (or a bare layer string, which is an implicit model)."""
    return parse_source(SourceFile(name, text, origin))


def parse_source(source: SourceFile) -> ast.Program:
    return cache.cached("arch", source, _parse)


# --- the parser --------------------------------------------------------------------------------

_LOCK = threading.Lock()  # one `_Build` serves every parse: one parse at a time


def _lark():
    """The parser, built once per process (its tables loaded from the cache directory)."""
    return _load_lark("inline", transformer=_BUILD, keep_all_tokens=True)


def _tree_lark():
    """A parser that builds Lark's tree with `propagate_positions`: only for `too-deep`."""
    return _load_lark("tree", propagate_positions=True)


@functools.cache
def _load_lark(kind: str, **options):
    from lark import Lark

    from archdsl.syntax.lexer import LineBreaks

    # Lark's `cache` pickles its analysis of the grammar (keyed inside the file by the grammar,
    # the options and Lark's version) and unpickles it on the next start: only from a file of
    # the user's in the user's own cache directory (cache.py).
    folder = cache.directory()
    path = folder / f"grammar-{kind}.lark.cache" if folder is not None else None
    return Lark(grammar_text(), **_OPTIONS, **options, postlex=LineBreaks(),
                cache=str(path) if path is not None and cache.owned(path) else False)


def _parse(source: SourceFile) -> ast.Program:
    from lark.exceptions import UnexpectedInput

    try:
        items, error, deep = _run(source)
    except UnexpectedInput as exc:
        from archdsl.syntax.errors import syntax_errors

        def reparse(text: str) -> None:  # error recovery: does this text parse?
            _run(SourceFile(source.name, text, source.origin))

        raise ArchError(syntax_errors(source, exc, reparse)) from None
    if deep:
        _too_deep(source)
    if error is not None:
        raise error
    return _program(source, items)


def _run(source: SourceFile):
    """(top-level items, the first error found while building, nested too deep?)."""
    parser = _lark()
    with _LOCK:
        # Python's cyclic collector off: a parse makes thousands of objects (tokens, the nodes
        # kept) and no cycles, and each full collection would walk all of them again (a
        # quarter of a 10,000-layer load; benchmarks/scaling_bench.py)
        collecting = gc.isenabled()
        gc.disable()
        _BUILD.begin(source)
        try:
            items = parser.parse(source.text)
        finally:
            error, deep = _BUILD.end()
            if collecting:
                gc.enable()
    return items, error, deep


def _too_deep(source: SourceFile) -> None:
    """Raise `too-deep` where check_depth finds it in Lark's tree of the text."""
    from archdsl.syntax.errors import check_depth, too_deep

    check_depth(_tree_lark().parse(source.text), source, MAX_TREE_DEPTH)
    raise ArchError([too_deep(source.span(0, 1))])  # not reached: `_Build` counts alike


# --- building the AST --------------------------------------------------------------------------


class _Paren:
    """`(expr)` or `+expr`: the expression, and the extent of the text around it."""

    __slots__ = ("node", "start", "end")

    def __init__(self, node, start: int, end: int):
        self.node, self.start, self.end = node, start, end


class _Args:
    """`(a, b=1)`: the arguments, and where the parentheses are."""

    __slots__ = ("items", "start", "end")

    def __init__(self, items: tuple, start: int, end: int):
        self.items, self.start, self.end = items, start, end


def _expr(x) -> tuple:
    """(expression, start, end of the text it covers, parentheses and `+` included)."""
    if type(x) is _Paren:
        return x.node, x.start, x.end
    return x, x.span.start, x.span.end


def _unquote(tok: str) -> str:
    return tok[1:-1]


def _values(c: list) -> list:
    """The children that are not tokens (Lark's tokens are strings; nothing else is)."""
    return [x for x in c if not isinstance(x, str)]


class _Build:
    """Lark's inline transformer: one method per grammar rule, called with the rule's children
    (every token, and what the methods returned for the rules below) when the parser reduces it.

    Per parse, `heights` holds the parse-tree height of each value not yet used by a rule above
    it, as Lark's tree would have it (a rule is a level; `?rule`s that pass one child through
    and `+expr` are not), for the depth limit; `error` is the first diagnostic found, raised
    once the parse is over. Methods never raise, so error recovery can parse again through
    them.
    """

    def begin(self, source: SourceFile) -> None:
        self.src = source
        self.heights: list[int] = []
        self.error: ArchError | None = None
        self.deep = False

    def end(self) -> tuple[ArchError | None, bool]:
        error, deep = self.error, self.deep
        self.src = self.heights = self.error = None  # type: ignore[assignment]
        return error, deep

    def _level(self, c: list, step: int = 1) -> None:
        """Record the height of the rule being reduced from its children's."""
        heights = self.heights
        k = 0
        for x in c:
            if not isinstance(x, str):
                k += 1
        top = 0
        if k:
            top = max(heights[-k:]) if k > 1 else heights[-1]
            del heights[-k:]
        top += step
        if top > MAX_TREE_DEPTH:
            self.deep = True
        heights.append(top)

    def _fail(self, err: ArchError) -> None:
        if self.error is None:
            self.error = err

    def _long(self, tok) -> bool:
        """A number token with too many digits: noted (`bad-number`), True."""
        from archdsl.syntax.errors import check_number  # errors.py imports Lark

        try:
            check_number(tok, self.src)
        except ArchError as err:
            self._fail(err)
            return True
        return False

    def _span(self, start: int, end: int) -> Span:
        return Span(self.src, start, end)

    def _tok(self, tok) -> Span:
        return Span(self.src, tok.start_pos, tok.end_pos)

    # expressions
    def int(self, c):
        self.heights.append(1)
        tok = c[0]
        value = 0 if len(tok) > MAX_DIGITS and self._long(tok) else int(tok)
        return ast.Num(value, self._tok(tok))

    def float(self, c):
        self.heights.append(1)
        tok = c[0]
        value = 0.0 if len(tok) > MAX_DIGITS and self._long(tok) else float(tok)
        return ast.Num(value, self._tok(tok))

    def string(self, c):
        self.heights.append(1)
        return ast.Str(_unquote(c[0]), self._tok(c[0]))

    def name(self, c):
        self.heights.append(1)
        return ast.Name(str(c[0]), self._tok(c[0]))

    def binop(self, c):
        self._level(c)
        left, start, _ = _expr(c[0])
        right, _, end = _expr(c[2])
        return ast.BinOp(str(c[1]), left, right, self._span(start, end))

    def neg(self, c):  # `- x`
        self._level(c)
        operand, _, end = _expr(c[1])
        return ast.Neg(operand, self._span(c[0].start_pos, end))

    def call(self, c):  # `max(a, b)`: NAME, the parenthesis, the arguments, `)`
        self._level(c)
        name = c[0]
        args = tuple(_expr(x)[0] for x in c[2:-1] if not isinstance(x, str))
        node = ast.Call(str(name), args, self._span(name.start_pos, c[-1].end_pos))
        if node.func not in FUNCTIONS:  # refused where written, even in a default never used:
            from archdsl.expr import unknown_function  # generated code may print defaults

            self._fail(ArchError([unknown_function(node)]))
        return node

    def ifelse(self, c):  # `then if cond else other`
        self._level(c)
        then, start, _ = _expr(c[0])
        other, _, end = _expr(c[4])
        return ast.IfElse(then, _expr(c[2])[0], other, self._span(start, end))

    def compare(self, c):  # `a < b <= c`: operands and COMP_OP tokens alternate
        self._level(c)
        first, start, _ = _expr(c[0])
        rest = tuple(_expr(x)[0] for x in c[2::2])
        end = _expr(c[-1])[2]
        return ast.Compare(first, tuple(str(t) for t in c[1::2]), rest, self._span(start, end))

    def _boolop(self, op: str, c: list):
        self._level(c)
        left, start, _ = _expr(c[0])
        right, _, end = _expr(c[2])
        return ast.BoolOp(op, left, right, self._span(start, end))

    def or_(self, c):
        return self._boolop("or", c)

    def and_(self, c):
        return self._boolop("and", c)

    def not_(self, c):  # `not x`
        self._level(c)
        operand, _, end = _expr(c[1])
        return ast.Not(operand, self._span(c[0].start_pos, end))

    def unary(self, c):  # `+ x`: x itself, not a level of the tree
        self._level(c, step=0)
        operand, _, end = _expr(c[1])
        return _Paren(operand, c[0].start_pos, end)

    def atom(self, c):  # `( expr )`
        self._level(c)
        return _Paren(_expr(c[1])[0], c[0].start_pos, c[-1].end_pos)

    def tuple(self, c):
        self._level(c)
        items = tuple(_expr(x)[0] for x in c if not isinstance(x, str))
        return ast.TupleExpr(items, self._span(c[0].start_pos, c[-1].end_pos))

    def signed_number(self, c):
        self.heights.append(1)
        tok = c[-1]
        if len(tok) > MAX_DIGITS and self._long(tok):
            value: int | float = 0
        else:
            value = float(tok) if tok.type == "FLOAT" else int(tok)
        negative = c[0].type == "MINUS"
        return ast.Num(-value if negative else value, self._span(c[0].start_pos, tok.end_pos))

    def shape_value(self, c):
        self.heights.append(1)
        tok = c[0]
        text = str(tok).replace("×", "x")
        parts = text.replace(" ", "").replace("\t", "").split("x")
        if any(len(part) > MAX_DIGITS for part in parts) and self._long(tok):
            return ast.Shape((), self._tok(tok))
        return ast.Shape(tuple(int(p) for p in parts), self._tok(tok))

    # layers and chains
    def label(self, c):  # `: 1`, `: name`, `: "template"`
        self.heights.append(1)
        tok = c[-1]
        if tok.type == "STRING":
            return ast.Label(_unquote(tok), False, True, self._tok(tok))
        if tok.type == "INT" and len(tok) > MAX_DIGITS:
            self._long(tok)
        return ast.Label(str(tok), tok.type == "INT", False, self._tok(tok))

    def args(self, c):
        self._level(c)
        return _Args(tuple(_values(c)), c[0].start_pos, c[-1].end_pos)

    def arg(self, c):
        self._level(c)
        if len(c) == 3:  # key = value
            value, _, end = _expr(c[2])
            return ast.Arg(str(c[0]), value, self._span(c[0].start_pos, end))
        x = c[0]
        if type(x) is _Paren:
            return ast.Arg(None, x.node, self._span(x.start, x.end))
        return ast.Arg(None, x, x.span)  # one span object for both: fewer objects per layer

    def _head(self, c: list, stop: int) -> tuple:
        """(label, arguments) among the children c[1:stop] after a layer name."""
        label = args = None
        for x in c[1:stop]:
            if type(x) is ast.Label:
                label = x
            elif type(x) is _Args:
                args = x
        return label, args

    def layer(self, c):
        self._level(c)
        name = c[0]
        label, args = self._head(c, len(c))
        end = args.end if args is not None else label.span.end if label is not None \
            else name.end_pos
        return ast.Layer(str(name), label, args.items if args is not None else None,
                         self._span(name.start_pos, end))

    def group(self, c):
        self._level(c)
        first = c[0]
        head = None
        if first.type != "LSQB":
            at = next(i for i, x in enumerate(c) if isinstance(x, str) and x.type == "LSQB")
            label, args = self._head(c, at)
            # the head's span ends after its label, or one past its last argument
            ends = [first.end_pos] + ([label.span.end] if label is not None else []) + \
                [a.span.end + 1 for a in (args.items[-1:] if args is not None else ())]
            head = ast.Layer(str(first), label, args.items if args is not None else None,
                             self.src.span(first.start_pos, max(ends)))
        branches = tuple(x for x in c if type(x) is ast.Branch)
        return ast.Group(head, branches, self._span(first.start_pos, c[-1].end_pos))

    def optional(self, c):  # `( chain )`
        self._level(c)
        return ast.Optional_(c[1], self._span(c[0].start_pos, c[-1].end_pos))

    def trailing(self, c):  # `FC-FC (SM)`
        self._level(c)
        span = self._span(c[0].start_pos, c[-1].end_pos)
        return ast.Element(ast.Optional_(c[1], span), None, span)

    def string_unit(self, c):
        self.heights.append(1)
        return ast.StringUnit(_unquote(c[0]), self._tok(c[0]))

    def repeat(self, c):  # `x 3`, `x n`, `x (n + 1)`, then `as "name{i}"`
        self._level(c)
        tok = c[1]
        if tok.type == "LPAR":
            count, rest = _expr(c[2])[0], 4
        else:
            if tok.type == "INT" and len(tok) > MAX_DIGITS and self._long(tok):
                count = ast.Num(0, self._tok(tok))
            else:
                count = ast.Num(int(tok), self._tok(tok)) if tok.type == "INT" \
                    else ast.Name(str(tok), self._tok(tok))
            rest = 2
        template = None
        if len(c) > rest:
            tok = c[-1]
            template = ast.Label(_unquote(tok), False, True, self._tok(tok))
        return ast.Repeat(count, template, self._span(c[0].start_pos, c[-1].end_pos))

    def element(self, c):
        self._level(c)
        unit = c[0]
        if len(c) == 1:  # the unit's span object serves the element too
            return ast.Element(unit, None, unit.span)
        return ast.Element(unit, c[1], self._span(unit.span.start, c[1].span.end))

    def chain(self, c):
        self._level(c)
        elements = tuple(_values(c))
        return ast.Chain(elements, self._span(elements[0].span.start, elements[-1].span.end))

    def named_group(self, c):  # `- name: [ ... ]`, read as `- [ name: [ ... ] ]`
        self._level(c, step=2)
        tok, _, branch, close = c
        span = self._span(tok.start_pos, close.end_pos)
        label_span = self.src.span(tok.start_pos, tok.end_pos - 1)
        bracket = ast.Group(None, (branch,), self._span(_.start_pos, close.end_pos))
        inner = ast.Chain((ast.Element(bracket, None, bracket.span),), bracket.span)
        stage = ast.Stage(str(tok)[:-1], inner, span, label_span)
        outer = ast.Group(None, (ast.Branch((stage,), span),), span)
        return ast.Element(outer, None, span)

    def stage(self, c):
        self._level(c)
        tok, chain = c
        return ast.Stage(str(tok)[:-1], chain, self._span(tok.start_pos, chain.span.end),
                         self.src.span(tok.start_pos, tok.end_pos - 1))

    def branch(self, c):
        self._level(c)
        statements = tuple(_values(c))
        return ast.Branch(statements, self._span(statements[0].span.start,
                                                 statements[-1].span.end))

    # settings and definitions
    def setting(self, c):
        self._level(c)
        tok, value = c
        key = str(tok).split(":")[0].strip()
        return ast.Setting(key, value, self._span(tok.start_pos, value.span.end),
                           self.src.span(tok.start_pos, tok.start_pos + len(key)))

    def param(self, c):
        self._level(c)
        name = c[0]
        if len(c) == 1:
            return ast.Param(str(name), None, self._tok(name))
        default, _, end = _expr(c[2])
        return ast.Param(str(name), default, self._span(name.start_pos, end))

    def params(self, c):
        self._level(c)
        return tuple(_values(c))

    def model(self, c):
        self._level(c)
        items = _values(c)
        settings = tuple(x for x in items if type(x) is ast.Setting)
        body = tuple(x for x in items if type(x) is not ast.Setting)
        return ast.ModelDef(str(c[1]), settings, body, self._span(c[0].start_pos, c[-1].end_pos),
                            self._tok(c[1]))

    def block(self, c):
        self._level(c)
        items = _values(c)
        params = next((x for x in items if type(x) is tuple), ())
        body = tuple(x for x in items if type(x) is not tuple)
        settings = [x for x in body if type(x) is ast.Setting]
        if settings:
            self._fail(ArchError([Diagnostic(
                "setting-in-block", f"a block cannot have settings ('{settings[0].key}:')",
                settings[0].key_span, "move the setting into the model that uses the block")]))
        return ast.BlockDef(str(c[1]), params, body, self._span(c[0].start_pos, c[-1].end_pos),
                            self._tok(c[1]))

    def use(self, c):
        self.heights.append(1)
        return ast.Use(_unquote(c[1]), self._span(c[0].start_pos, c[1].end_pos))

    def start(self, c):
        self._level(c)
        return _values(c)


_BUILD = _Build()


def _program(src: SourceFile, items: list) -> ast.Program:
    """The program from its top-level items: duplicate models, mixed top levels and the implicit
    model of statements written at the top level."""
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
        models.append(ast.ModelDef(_implicit_name(src.name), settings, body, span,
                                   loose[0].span, implicit=True))
    return ast.Program(src, tuple(uses), tuple(blocks), tuple(models))


@functools.lru_cache(maxsize=256)  # each layer string of a YAML file asks again; pathlib is slow
def _implicit_name(source_name: str) -> str:
    stem = Path(source_name).stem if not source_name.startswith("<") else "Net"
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in stem)
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "Net" + cleaned
    return cleaned
