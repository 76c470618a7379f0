"""A hand-written parser for .arch text: a shortcut in front of the Lark parser.

Contract: `parse_items(source)` returns the top-level items of a program (`Use`, `BlockDef`,
`ModelDef` and loose `Stage`, `Chain` and `Setting` nodes, in source order): the same nodes,
values and spans that the Lark path's transformer builds for the grammar's `start` rule. When it
is not sure it returns None ("bail") and the caller parses with Lark, the reference, which also
reports every syntax error. So this module never reports errors and must never accept text that
Lark rejects; tests/test_fastparse.py compares the two parsers on the zoo and on random text.

It bails on: any syntax error; a character or token it does not expect (function calls,
comparisons, `**`, conditionals and the words `if`, `else`, `and`, `or`, `not` in expressions
among them); a number longer than
`MAX_DIGITS` (Lark's path refuses those with `bad-number`); nesting (brackets, parentheses, signs,
operators) deeper than `MAX_NEST` (Lark's path refuses deep trees with `too-deep`); a setting
inside a block (`setting-in-block`).

How it mirrors Lark (grammars/archdsl.lark: LALR(1), contextual lexer):
- The contextual lexer only tries the terminals that the parser state accepts, highest priority
  first, as one alternation. Each method here matches only those, in that order (the `_state`
  alternations below are built the same way): a setting key before a stage label
  before a name at the start of a statement; `x`/`×` after a unit is always the repeat sign (no
  state there accepts a name), so `Conv x3` repeats and `x3` elsewhere is a name; `as` is a
  keyword only after a repeat count; `model`, `block` and `use` are keywords only at the start of
  a top-level item (elsewhere they are names); `(` right after a name, label or quote opens
  arguments, after a space it opens an optional layer (`FC-FC (SM)`); shapes and bare numbers
  exist only as setting values.
- Line breaks follow the `LineBreaks` post-lexer (lexer.py) and the `_CONT` terminal: a break
  followed by `-`, `,`, `]`, `)` or `}` is whitespace; one inside parentheses, at the start, right
  after another break or after a token that continues the line (`-`, `,`, `[`, `(`, `{`, `=`, `:`,
  stage and setting keys, operators) is whitespace; any other break separates statements.
- A node's span runs from its first token to its last, as Lark's `propagate_positions` gives it;
  `(expr)` and `+expr` give the inner expression (with its own span) to the node around them.
"""

from __future__ import annotations

import re

from archdsl.source import SourceFile, Span
from archdsl.syntax import ast

MAX_NEST = 12  # far below the Lark path's 100 tree levels (each level here is at most 5 there)
MAX_DIGITS = 60  # errors.MAX_NUMBER_DIGITS (errors.py imports Lark, so it is not imported here)

# The grammar's terminals, copied verbatim (tests/test_fastparse.py checks they still agree).
SETTING_KEY = re.compile(r"(input|classes|init|seed|freeze|head|outputs|transform_input)[ \t]*:")
STAGE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*:(?=[ \t\r\n])")
VGG_TOKEN = re.compile(r"conv[0-9]+-[0-9]+(?![A-Za-z0-9_])|fc-[0-9]+(?![A-Za-z0-9_])"
                       r"|soft-max(?![A-Za-z0-9_])", re.IGNORECASE)
SHAPE = re.compile(r"[0-9]+([ \t]*[x×][ \t]*[0-9]+)+")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
INT = re.compile(r"[0-9]+")
FLOAT = re.compile(r"[0-9]+\.[0-9]*([eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+"
                   r"|\.[0-9]+([eE][-+]?[0-9]+)?")
STRING = re.compile(r'"[^"\n]*"|' r"'[^'\n]*'")
NL = re.compile(r"(\r?\n[ \t\f]*(#[^\n]*(?=\r?\n|$))?)+")


def _state(*terminals: str) -> re.Pattern:
    """The terminals one parser state accepts, tried in order as Lark's lexer does (one
    alternation); a match's `lastgroup` names the terminal."""
    def group(name: str) -> str:
        pattern = globals()[name]
        body = f"(?i:{pattern.pattern})" if pattern.flags & re.IGNORECASE else pattern.pattern
        return f"(?P<{name}>{body})"
    return re.compile("|".join(group(name) for name in terminals))


BODY_START = _state("SETTING_KEY", "VGG_TOKEN", "STAGE", "NAME")  # a model or top-level item
BRANCH_START = _state("VGG_TOKEN", "STAGE", "NAME")  # a statement in brackets
LAYER_NAME = _state("VGG_TOKEN", "NAME")  # an element after `-`, in parentheses, after a key
SETTING_NUMBER = _state("FLOAT", "SHAPE", "INT")
NUMBER = _state("FLOAT", "INT")  # in expressions and after a setting's `-`

_WORD_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_DIGITS = frozenset("0123456789")
_NUMBER_START = _DIGITS | {"."}
_QUOTES = frozenset("\"'")
_REPEAT_X = frozenset("x×")
_MUL_START = frozenset("*/%")  # MUL_OP: `//`, `*`, `/`, `%`
_ARGS_AFTER = _WORD_START | _DIGITS | _QUOTES  # LPAR_ARGS's look-behind
_SPACE = frozenset(" \t\f\r")  # WS (a `\r` before `\n` belongs to the line break; same effect)
_TRIVIA = _SPACE | {"#", "\n"}
_CONT_NEXT = frozenset("-,])}")  # `_CONT`: a line break before these is whitespace
_KEYWORDS = ("model", "block", "use")
# Keywords of expressions (Lark's contextual lexer makes `not` one where an expression starts)
# and calls are left to Lark: this parser gives up on them, as on comparisons and `**`.
_EXPR_KEYWORDS = frozenset(("if", "else", "and", "or", "not"))


def _value(number: re.Match) -> int | float:
    return float(number.group()) if number.lastgroup == "FLOAT" else int(number.group())


class _Bail(Exception):
    """Not sure: let Lark parse this text."""


def parse_items(source: SourceFile) -> list | None:
    """The top-level items of `source`, or None when Lark must parse it (see the module doc)."""
    try:
        return _Parser(source).program()
    except (_Bail, RecursionError):
        return None


class _Parser:
    """Recursive descent over the text; `ch` is the next significant character ("" at the end,
    "\\n" for a line break that separates statements)."""

    def __init__(self, source: SourceFile):
        self.src = source
        self.text = source.text
        self.n = len(self.text)
        self.pos = 0
        self.end = 0  # end of the last token taken: where the node being built ends
        self.depth = 0  # open parentheses (LineBreaks's count)
        self.nest = 0
        self.line_continues = True  # a line break now is whitespace (LineBreaks's `prev`)
        self.nl_end = 0
        self.ch = ""
        self._skip()

    # --- tokens --------------------------------------------------------------------------------

    def _skip(self) -> None:
        """Move past whitespace, comments and line breaks that are whitespace."""
        text, pos, n = self.text, self.pos, self.n
        while pos < n:
            c = text[pos]
            if c in _SPACE:
                pos += 1
            elif c == "#":  # COMMENT, to the end of the line
                pos = text.find("\n", pos)
                if pos < 0:
                    pos = n
            elif c == "\n":
                end = NL.match(text, pos).end()
                if (end < n and text[end] in _CONT_NEXT) or self.depth or self.line_continues:
                    pos = end
                else:
                    self.pos, self.nl_end, self.ch = pos, end, "\n"
                    return
            else:
                break
        self.pos = pos
        self.ch = text[pos] if pos < n else ""

    def _take(self, end: int, continues: bool = False) -> None:
        """Consume the token ending at `end`; `continues`: a line break after it is whitespace."""
        self.pos = self.end = end
        self.line_continues = continues
        ch = self.text[end] if end < self.n else ""
        if ch in _TRIVIA:
            self._skip()
        else:
            self.ch = ch

    def _expect(self, char: str, continues: bool = False) -> None:
        if self.ch != char:
            raise _Bail
        self._take(self.pos + 1, continues)

    def _match(self, pattern: re.Pattern) -> re.Match:
        """The token `pattern` matches here (not yet taken)."""
        m = pattern.match(self.text, self.pos)
        if m is None:
            raise _Bail
        return m

    def _span_from(self, start: int, inner: Span) -> Span:
        """The span from `start` to here: `inner` itself when it covers exactly that, so an
        element and its layer (or an argument and its value) share one object."""
        if inner.start == start and inner.end == self.end:
            return inner
        return Span(self.src, start, self.end)

    def _newline(self) -> None:
        """Consume a statement-separating line break (the grammar's `_NL`)."""
        self.pos = self.nl_end
        self.line_continues = True  # LineBreaks drops a break right after another
        self._skip()

    def _enter(self) -> None:
        self.nest += 1
        if self.nest > MAX_NEST:
            raise _Bail

    def _open(self) -> None:
        """`(`, LPAR or LPAR_ARGS: line breaks are whitespace until the matching `)`."""
        self._enter()
        self.depth += 1
        self._expect("(", continues=True)

    def _close(self) -> None:
        if self.ch != ")":
            raise _Bail
        self.depth -= 1
        self.nest -= 1
        self._take(self.pos + 1)

    def _string(self) -> tuple[str, Span]:
        if self.ch not in _QUOTES:
            raise _Bail
        m = self._match(STRING)
        self._take(m.end())
        return m.group()[1:-1], Span(self.src, m.start(), m.end())

    def _number(self, pattern: re.Pattern) -> re.Match:
        m = pattern.match(self.text, self.pos)
        if m is None or m.end() - self.pos > MAX_DIGITS:
            raise _Bail
        self._take(m.end())
        return m

    # --- items and definitions -----------------------------------------------------------------

    def program(self) -> list:
        items = []
        while self.ch:
            items.append(self._item(top=True))
            if self.ch == "\n":
                self._newline()
            elif self.ch:
                raise _Bail
        return items

    def _item(self, top: bool):
        """A top-level item (`top`) or an item of a model or block body."""
        if self.ch not in _WORD_START:
            return self._chain()
        m = BODY_START.match(self.text, self.pos)
        kind = m.lastgroup
        if kind == "SETTING_KEY":
            return self._setting(m)
        if kind == "STAGE":
            return self._stage(m)
        if top and kind == "NAME" and m.group() in _KEYWORDS:
            start = self.pos
            self._take(m.end())
            if m.group() == "use":
                path, _ = self._string()
                return ast.Use(path, Span(self.src, start, self.end))
            return self._definition(m.group(), start)
        return self._chain(m)

    def _definition(self, keyword: str, start: int):
        if self.ch not in _WORD_START:
            raise _Bail
        name = self._match(NAME)
        self._take(name.end())
        name_span = Span(self.src, name.start(), name.end())
        params: tuple[ast.Param, ...] = ()
        if keyword == "block" and self.ch == "(":
            params = self._params()
        self._expect("{", continues=True)
        items = []
        if self.ch != "}":
            items.append(self._item(top=False))
            while self.ch == "\n":
                self._newline()
                if self.ch == "}":
                    break
                items.append(self._item(top=False))
        self._expect("}")
        settings = tuple(x for x in items if isinstance(x, ast.Setting))
        body = tuple(x for x in items if not isinstance(x, ast.Setting))
        span = Span(self.src, start, self.end)
        if keyword == "model":
            return ast.ModelDef(name.group(), settings, body, span, name_span)
        if settings:
            raise _Bail  # Lark's path reports `setting-in-block`
        return ast.BlockDef(name.group(), params, body, span, name_span)

    def _separated(self, item) -> list:
        """`item ("," item)*`; a line break after a comma continues the list."""
        items = [item()]
        while self.ch == ",":
            self._take(self.pos + 1, continues=True)
            items.append(item())
        return items

    def _parenthesized(self, item):
        """`( item, item, ... )`, possibly empty, as a tuple."""
        self._open()
        items = self._separated(item) if self.ch != ")" else []
        self._close()
        return tuple(items)

    def _params(self) -> tuple[ast.Param, ...]:
        return self._parenthesized(self._param)

    def _param(self) -> ast.Param:
        start = self.pos
        if self.ch not in _WORD_START:
            raise _Bail
        name = self._match(NAME)
        self._take(name.end())
        default = None
        if self.ch == "=":
            self._take(self.pos + 1, continues=True)
            default = self._sum()
        return ast.Param(name.group(), default, Span(self.src, start, self.end))

    def _setting(self, key: re.Match) -> ast.Setting:
        start = self.pos
        self._take(key.end(), continues=True)
        value = self._setting_value()
        name = key.group().split(":")[0].strip()
        return ast.Setting(name, value, Span(self.src, start, self.end),
                           Span(self.src, start, start + len(name)))

    def _setting_value(self):
        """A shape, a signed number or a chain (`input: 3x224x224`, `classes: -1`, `head: FC`)."""
        start, c = self.pos, self.ch
        if c in _NUMBER_START:
            m = self._number(SETTING_NUMBER)
            if m.lastgroup == "SHAPE":
                parts = m.group().replace("×", "x").replace(" ", "").replace("\t", "").split("x")
                return ast.Shape(tuple(int(p) for p in parts), Span(self.src, start, self.end))
            return ast.Num(_value(m), Span(self.src, start, self.end))
        if c == "-":
            self._take(start + 1, continues=True)
            if self.ch not in _NUMBER_START:
                raise _Bail
            return ast.Num(-_value(self._number(NUMBER)), Span(self.src, start, self.end))
        return self._chain()

    # --- statements and chains -----------------------------------------------------------------

    def _statement(self):
        """A statement in brackets: a stage or a chain."""
        if self.ch not in _WORD_START:
            return self._chain()
        m = BRANCH_START.match(self.text, self.pos)
        return self._stage(m) if m.lastgroup == "STAGE" else self._chain(m)

    def _stage(self, label: re.Match) -> ast.Stage:
        start = self.pos
        self._take(label.end(), continues=True)
        chain = self._chain()
        return ast.Stage(label.group()[:-1], chain, Span(self.src, start, self.end),
                         Span(self.src, start, label.end() - 1))

    def _chain(self, name: re.Match | None = None) -> ast.Chain:
        """Elements joined by `-`; `name`: the first layer's name, already matched."""
        start = self.pos
        elements = [self._element(name)]
        while self.ch == "-":
            self._take(self.pos + 1, continues=True)
            elements.append(self._element())
        if self.ch == "(":  # after an element `(` is LPAR: the trailing optional `FC-FC (SM)`
            at = self.pos
            self._open()
            inner = self._chain()
            self._close()
            span = Span(self.src, at, self.end)
            elements.append(ast.Element(ast.Optional_(inner, span), None, span))
        return ast.Chain(tuple(elements), Span(self.src, start, self.end))

    def _element(self, name: re.Match | None = None) -> ast.Element:
        start = self.pos
        unit = self._layer(name) if name else self._unit()
        if self.ch not in _REPEAT_X:  # most elements: the span is the unit's, shared
            return ast.Element(unit, None, self._span_from(start, unit.span))
        repeat = self._repeat()
        return ast.Element(unit, repeat, Span(self.src, start, self.end))

    def _unit(self):
        start, c = self.pos, self.ch
        if c in _WORD_START:
            return self._layer(LAYER_NAME.match(self.text, start))
        if c in _QUOTES:
            value, _ = self._string()
            return ast.StringUnit(value, Span(self.src, start, self.end))
        if c == "(":
            self._open()
            inner = self._chain()
            self._close()
            return ast.Optional_(inner, Span(self.src, start, self.end))
        if c == "[":
            return self._group(None, start)
        raise _Bail

    def _layer(self, name: re.Match):
        """`Name:label(args)`, or the head of a group when `[` follows."""
        start, name_end = name.start(), name.end()
        self._take(name_end)
        label = self._label() if self.ch == ":" else None
        args = None
        if self.ch == "(" and self.text[self.pos - 1] in _ARGS_AFTER:
            args = self._args()
        if self.ch == "[":
            # the head's span as the Lark path's `group` method computes it
            ends = [name_end] + ([label.span.end] if label else []) + \
                   ([args[-1].span.end + 1] if args else [])
            head = ast.Layer(name.group(), label, args, Span(self.src, start, max(ends)))
            return self._group(head, start)
        return ast.Layer(name.group(), label, args, Span(self.src, start, self.end))

    def _label(self) -> ast.Label:
        self._take(self.pos + 1, continues=True)  # the colon
        c = self.ch
        if c in _QUOTES:
            text, span = self._string()
            return ast.Label(text, False, True, span)
        if c in _DIGITS:
            m = self._number(INT)
        else:
            m = self._match(NAME)
            self._take(m.end())
        return ast.Label(m.group(), c in _DIGITS, False, Span(self.src, m.start(), m.end()))

    def _group(self, head: ast.Layer | None, start: int) -> ast.Group:
        self._enter()
        self._take(self.pos + 1, continues=True)  # the `[`
        branches = self._separated(self._branch)
        self._expect("]")
        self.nest -= 1
        return ast.Group(head, tuple(branches), Span(self.src, start, self.end))

    def _branch(self) -> ast.Branch:
        start = self.pos
        statements = [self._statement()]
        while self.ch == "\n":
            self._newline()
            statements.append(self._statement())
        return ast.Branch(tuple(statements), Span(self.src, start, self.end))

    def _repeat(self) -> ast.Repeat:
        start = self.pos
        self._take(start + 1)  # REPEAT_X
        c = self.ch
        if c in _DIGITS:
            m = self._number(INT)
            count = ast.Num(int(m.group()), Span(self.src, m.start(), m.end()))
        elif c in _WORD_START:
            m = self._match(NAME)
            self._take(m.end())
            count = ast.Name(m.group(), Span(self.src, m.start(), m.end()))
        elif c == "(":
            self._open()
            count = self._sum()
            self._close()
        else:
            raise _Bail
        template = None
        if self.ch == "a" and self.text.startswith("as", self.pos):  # AS matches a prefix
            self._take(self.pos + 2)
            text, span = self._string()
            template = ast.Label(text, False, True, span)
        return ast.Repeat(count, template, Span(self.src, start, self.end))

    # --- arguments and expressions -------------------------------------------------------------

    def _args(self) -> tuple[ast.Arg, ...]:
        return self._parenthesized(self._arg)

    def _arg(self) -> ast.Arg:
        start = self.pos
        if self.ch not in _WORD_START:
            value = self._sum()
            return ast.Arg(None, value, self._span_from(start, value.span))
        name = self._match(NAME)
        self._take(name.end())
        if name.group() in _EXPR_KEYWORDS or self.ch == "(":
            raise _Bail
        if self.ch == "=":
            self._take(self.pos + 1, continues=True)
            return ast.Arg(name.group(), self._sum(), Span(self.src, start, self.end))
        value = self._sum(ast.Name(name.group(), Span(self.src, start, name.end())))
        return ast.Arg(None, value, self._span_from(start, value.span))

    def _sum(self, first: ast.Expr | None = None) -> ast.Expr:
        """`a + b - c`, left-associative; `first`: the leading name, already taken."""
        start = self.pos if first is None else first.span.start
        left = self._product(first)
        nest = self.nest
        while self.ch == "+" or self.ch == "-":
            op = self.ch
            self._enter()  # Lark's tree nests one level per operator
            self._take(self.pos + 1, continues=True)
            left = ast.BinOp(op, left, self._product(), Span(self.src, start, self.end))
        self.nest = nest
        return left

    def _product(self, first: ast.Expr | None = None) -> ast.Expr:
        start = self.pos if first is None else first.span.start
        left = self._operand() if first is None else first
        nest = self.nest
        while self.ch in _MUL_START:
            op = "//" if self.text.startswith("//", self.pos) else self.ch
            self._enter()
            self._take(self.pos + len(op), continues=True)
            left = ast.BinOp(op, left, self._operand(), Span(self.src, start, self.end))
        self.nest = nest
        return left

    def _operand(self) -> ast.Expr:
        """`-x` (a `Neg`), `+x` (just x), a number, string, name, `(expr)` or tuple."""
        start, c = self.pos, self.ch
        if c == "-" or c == "+":
            self._enter()
            self._take(start + 1, continues=True)
            operand = self._operand()
            self.nest -= 1
            return ast.Neg(operand, Span(self.src, start, self.end)) if c == "-" else operand
        if c in _NUMBER_START:
            return ast.Num(_value(self._number(NUMBER)), Span(self.src, start, self.end))
        if c in _QUOTES:
            value, span = self._string()
            return ast.Str(value, span)
        if c in _WORD_START:
            m = self._match(NAME)
            self._take(m.end())
            if m.group() in _EXPR_KEYWORDS or self.ch == "(":
                raise _Bail
            return ast.Name(m.group(), Span(self.src, start, self.end))
        if c != "(":
            raise _Bail
        self._open()
        first = self._sum()
        if self.ch != ",":
            self._close()
            return first  # `(expr)`: the expression keeps its own span
        self._take(self.pos + 1, continues=True)
        items = [first, *(self._separated(self._sum) if self.ch != ")" else [])]
        self._close()
        return ast.TupleExpr(tuple(items), Span(self.src, start, self.end))
