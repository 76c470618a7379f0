"""Symbolic values: numbers that remember the expression they came from, for generated code.

Contract: code generation binds a block's parameters to these values and evaluates the block's
argument expressions again (archdsl/codegen/symbolic.py); each result carries its concrete
value (it *is* an int or a float, so shape rules compute with it unchanged) and renders as
Python source over the parameters: `render(prefix)` writes `planes * expansion`, or with the
prefix `self.planes * self.expansion`. The text, evaluated with the instance's parameters, gives
the instance's value; that is the invariant generated classes rely on.

- `Sym`: an integer as a polynomial over names (`c + 2 * g`); `//` and `%` by something
  non-constant, and any other integer-valued expression, become atoms of the polynomial.
- `SymFloat`: a float parameter (`Dropout(dropout)`) or a float-valued expression.
- `SymBool`: a comparison or boolean expression of symbolic values (it is not a bool, which
  cannot be subclassed: conditions read it through `truth`).
- `Term`: the expression of an atom (a call such as `max(8, int(width * 0.25))`, a conditional,
  a comparison, a float operation), rendered with Python's precedence (`LEVELS`). A term
  compares by structure, never by value, so `max(a, 8)` and `max(b, 8)` stay apart even when
  `a == b` in one instance.
"""

from __future__ import annotations

from archdsl.expr_functions import FUNCTIONS

# Python's precedence levels, loosest first: the context a sub-expression is written in says
# which level it needs to stand without parentheses.
TOP, IF, OR, AND, NOT, CMP, SUM, PRODUCT, UNARY, POWER, ATOM = range(11)
BINARY_LEVEL = {"+": SUM, "-": SUM, "*": PRODUCT, "/": PRODUCT, "//": PRODUCT, "%": PRODUCT,
                "**": POWER}


def operand_levels(op: str) -> tuple[int, int]:
    """The levels of the left and right operands of a binary operator (`**` is
    right-associative and its left operand is a primary: `(-2) ** 2`)."""
    if op == "**":
        return ATOM, UNARY
    level = BINARY_LEVEL[op]
    return level, level + 1


class Term:
    """The expression of a non-polynomial value: `kind` is "call" (`op` the function name),
    "if" (args then, cond, other), "cmp" (`op` a tuple of comparison operators), "and", "or",
    "not", "bin" (`op` a binary operator) or "neg"; `args` are values, symbolic or not."""

    __slots__ = ("kind", "op", "args", "_key")

    def __init__(self, kind: str, op, args: tuple):
        self.kind, self.op, self.args = kind, op, args
        self._key = (kind, op, tuple(_key(a) for a in args))

    def __eq__(self, other) -> bool:
        return isinstance(other, Term) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:  # sorts the factors of a monomial: deterministic
        return f"Term({self.text('', TOP)})"

    def names(self) -> set[str]:
        out: set[str] = set()
        for a in self.args:
            if getattr(a, "symbolic", False):
                out |= a.names()
        return out

    def text(self, prefix: str, level: int) -> str:
        """Python source at precedence `level` (parenthesised when it binds looser)."""
        kind, op, args = self.kind, self.op, self.args
        if kind == "call":
            inner = ", ".join(value_text(a, TOP, prefix) for a in args)
            return f"{FUNCTIONS[op].python}({inner})"
        if kind == "if":
            then, cond, other = args
            text = (f"{value_text(then, OR, prefix)} if {value_text(cond, OR, prefix)} "
                    f"else {value_text(other, IF, prefix)}")
            own = IF
        elif kind in ("or", "and"):
            own = OR if kind == "or" else AND
            text = f"{value_text(args[0], own, prefix)} {kind} {value_text(args[1], own + 1, prefix)}"
        elif kind == "not":
            text, own = f"not {value_text(args[0], NOT, prefix)}", NOT
        elif kind == "cmp":
            parts = [value_text(args[0], SUM, prefix)]
            for symbol, a in zip(op, args[1:], strict=True):
                parts += [symbol, value_text(a, SUM, prefix)]
            text, own = " ".join(parts), CMP
        elif kind == "bin":
            left, right = operand_levels(op)
            own = BINARY_LEVEL[op]
            text = f"{value_text(args[0], left, prefix)} {op} {value_text(args[1], right, prefix)}"
        elif kind == "neg":
            text, own = f"-{value_text(args[0], UNARY, prefix)}", UNARY
        else:
            raise TypeError(kind)
        return f"({text})" if own < level else text


def _key(value) -> tuple:
    """A structural key: symbolic values by their expression, others by type and value."""
    if isinstance(value, Sym):
        return ("Sym", int(value), None if value.poly is None else _freeze(value.poly))
    if isinstance(value, SymFloat):
        return ("SymFloat", float(value), value.expr if isinstance(value.expr, str)
                else value.expr._key)
    if isinstance(value, SymBool):
        return ("SymBool", value.value, value.term._key)
    if isinstance(value, tuple):
        return ("tuple", tuple(_key(v) for v in value))
    return (type(value).__name__, value)


def wrap(value, term: Term):
    """A symbolic value of `value`'s type whose expression is `term` (None when the type has
    no symbolic form: a word or a tuple is used as it is)."""
    if isinstance(value, bool):
        return SymBool(value, term)
    if isinstance(value, int):
        return Sym(int(value), {((10_000, term),): 1})
    if isinstance(value, float):
        return SymFloat(float(value), term)
    return None


def is_symbolic(value) -> bool:
    return getattr(value, "symbolic", False) is True


def plain(value):
    """The concrete Python value of a (possibly symbolic) value."""
    if isinstance(value, Sym):
        return int(value)
    if isinstance(value, SymFloat):
        return float(value)
    if isinstance(value, SymBool):
        return value.value
    return value


def value_text(value, level: int, prefix: str = "") -> str:
    """Python source for a value at precedence `level`."""
    if isinstance(value, Sym):
        if value.poly is None:
            return _number_text(int(value), level)
        term = _single_term(value.poly)
        if term is not None:
            return term.text(prefix, level)
        return _render(value.poly, 0 if level <= SUM else 2 if level == PRODUCT else 3, prefix)
    if isinstance(value, SymFloat):
        if isinstance(value.expr, str):
            return prefix + value.expr
        return value.expr.text(prefix, level)
    if isinstance(value, SymBool):
        return value.term.text(prefix, level)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number_text(value, level)
    return render_value(value, prefix)


def _number_text(value: int | float, level: int) -> str:
    text = repr(value)
    return f"({text})" if text.startswith("-") and level > UNARY else text


def render_value(value, prefix: str = "") -> str:
    """A value as Python source (generated code); `prefix` goes before symbolic names."""
    if isinstance(value, (Sym, SymFloat, SymBool)):
        return value.render(prefix)
    if isinstance(value, tuple):
        inner = ", ".join(render_value(v, prefix) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


class SymFloat(float):
    """A float block parameter used as is (`Dropout(dropout)`), rendering as its name, or a
    float-valued expression of symbolic values (`expr` a `Term`)."""

    expr: str | Term

    def __new__(cls, value: float, expr: str | Term):
        obj = float.__new__(cls, value)
        obj.expr = expr
        return obj

    symbolic = True

    def render(self, prefix: str = "") -> str:
        return value_text(self, TOP, prefix)

    def names(self) -> set[str]:
        return {self.expr} if isinstance(self.expr, str) else self.expr.names()

    __hash__ = float.__hash__


class SymBool:
    """A truth value computed from symbolic values (`c > 8`), with its expression."""

    __slots__ = ("value", "term")
    symbolic = True

    def __init__(self, value: bool, term: Term):
        self.value, self.term = bool(value), term

    def __bool__(self) -> bool:
        return self.value

    def render(self, prefix: str = "") -> str:
        return self.term.text(prefix, TOP)

    def names(self) -> set[str]:
        return self.term.names()

    def __repr__(self) -> str:
        return self.render()


Monomial = tuple[tuple[int, str], ...]  # ((order, name), ...) sorted by order


class Sym(int):
    """An integer that also knows the expression it came from, as a polynomial over names.

    Arithmetic with `+ - *` keeps a normal form (so `c + g + g` reads `c + 2 * g`); `//` and `%`
    by something non-constant make an atom. `poly is None` means the value has no expression
    (it depends on a spatial size, say) and renders as its number.
    """

    poly: dict[Monomial, int] | None

    def __new__(cls, value: int, poly: dict[Monomial, int] | None = None):
        obj = int.__new__(cls, value)
        obj.poly = poly
        return obj

    @classmethod
    def name(cls, value: int, name: str, order: int) -> Sym:
        return cls(value, {((order, name),): 1})

    @classmethod
    def const(cls, value: int) -> Sym:
        return cls(value, {(): int(value)} if value else {})

    @classmethod
    def opaque(cls, value: int) -> Sym:
        return cls(value, None)

    @staticmethod
    def lift(value) -> Sym | None:
        if isinstance(value, Sym):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return Sym.const(value)
        return None

    # arithmetic
    def _combine(self, other, op):
        other_sym = Sym.lift(other)
        if other_sym is None:
            return NotImplemented
        value = op(int(self), int(other_sym))
        return value, other_sym

    def __add__(self, other):
        res = self._combine(other, lambda a, b: a + b)
        if res is NotImplemented:
            return int(self) + other
        value, o = res
        return Sym(value, _poly_add(self.poly, o.poly, 1))

    __radd__ = __add__

    def __sub__(self, other):
        res = self._combine(other, lambda a, b: a - b)
        if res is NotImplemented:
            return int(self) - other
        value, o = res
        return Sym(value, _poly_add(self.poly, o.poly, -1))

    def __rsub__(self, other):
        o = Sym.lift(other)
        if o is None:
            return other - int(self)
        return o.__sub__(self)

    def __mul__(self, other):
        res = self._combine(other, lambda a, b: a * b)
        if res is NotImplemented:
            return int(self) * other
        value, o = res
        return Sym(value, _poly_mul(self.poly, o.poly))

    __rmul__ = __mul__

    def __neg__(self):
        return Sym(-int(self), _poly_add({}, self.poly, -1))

    def __pos__(self):
        return self

    def _atom(self, other, value, symbol, right=False):
        a, b = (other, self) if right else (self, other)
        ca, cb = _const(a.poly), _const(b.poly)
        if ca is not None and cb is not None:
            return Sym.const(value)
        if a.poly is None or b.poly is None:
            return Sym.opaque(value)
        if symbol == "//" and cb is not None and cb != 0 and a.poly is not None and all(
                c % cb == 0 for c in a.poly.values()):
            return Sym(value, {m: c // cb for m, c in a.poly.items()})
        atom = (symbol, _freeze(a.poly), _freeze(b.poly))
        return Sym(value, {((10_000, atom),): 1})

    def __floordiv__(self, other):
        o = Sym.lift(other)
        if o is None:
            return int(self) // other
        return self._atom(o, int(self) // int(o), "//")

    def __rfloordiv__(self, other):
        o = Sym.lift(other)
        if o is None:
            return other // int(self)
        return self._atom(o, int(o) // int(self), "//", right=True)

    def __mod__(self, other):
        o = Sym.lift(other)
        if o is None:
            return int(self) % other
        return self._atom(o, int(self) % int(o), "%")

    def __rmod__(self, other):
        o = Sym.lift(other)
        if o is None:
            return other % int(self)
        return self._atom(o, int(o) % int(self), "%", right=True)

    # int() and comparisons use the value; hashing too (Syms are ints)
    __hash__ = int.__hash__

    @property
    def symbolic(self) -> bool:
        return self.poly is not None and _const(self.poly) is None

    def render(self, prefix: str = "") -> str:
        """Python source for the value; `prefix` goes before each name (`self.`)."""
        if self.poly is None:
            return str(int(self))
        return _render(self.poly, 0, prefix)

    def names(self) -> set[str]:
        """The parameter names the expression reads."""
        return _names(self.poly) if self.poly is not None else set()

    def __repr__(self) -> str:
        return self.render()

    def __str__(self) -> str:
        return self.render()


def _const(poly) -> int | None:
    if poly is None:
        return None
    if not poly:
        return 0
    if len(poly) == 1 and () in poly:
        return poly[()]
    return None


def _single_term(poly) -> Term | None:
    """The term when the polynomial is that term alone (coefficient 1)."""
    if len(poly) == 1:
        (mono, coeff), = poly.items()
        if coeff == 1 and len(mono) == 1 and isinstance(mono[0][1], Term):
            return mono[0][1]
    return None


def _poly_add(a, b, sign):
    if a is None or b is None:
        return None
    out = dict(a)
    for mono, coeff in b.items():
        out[mono] = out.get(mono, 0) + sign * coeff
        if out[mono] == 0:
            del out[mono]
    return out


def _poly_mul(a, b):
    if a is None or b is None:
        return None
    out: dict[Monomial, int] = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            mono = tuple(sorted(ma + mb, key=repr))
            out[mono] = out.get(mono, 0) + ca * cb
            if out[mono] == 0:
                del out[mono]
    return out


def _freeze(poly) -> tuple:
    return tuple(sorted(poly.items(), key=lambda item: repr(item)))


def _factor_text(factor, prefix: str) -> str:
    if isinstance(factor, Term):  # a factor of a product: looser terms get parentheses
        return factor.text(prefix, UNARY)
    if isinstance(factor, tuple):  # an atom: (operator, frozen poly, frozen poly)
        symbol, a, b = factor
        return f"{_render(dict(a), 2, prefix)} {symbol} {_render(dict(b), 3, prefix)}"
    return prefix + factor


def _names(poly) -> set[str]:
    out: set[str] = set()
    for mono in poly:
        for _, factor in mono:
            if isinstance(factor, Term):
                out |= factor.names()
            elif isinstance(factor, tuple):
                out |= _names(dict(factor[1])) | _names(dict(factor[2]))
            else:
                out.add(factor)
    return out


_CONTEXT_LEVEL = {0: TOP, 1: SUM, 2: PRODUCT, 3: UNARY}


def _render(poly, context_prec: int, prefix: str = "") -> str:
    """Render a polynomial; parenthesise sums when they sit inside a product (prec >= 2)."""
    if not poly:
        return "0"
    term = _single_term(poly)
    if term is not None:
        return term.text(prefix, _CONTEXT_LEVEL[context_prec])
    terms = sorted(poly.items(), key=lambda item: (-len(item[0]), repr(item[0])))
    const = poly.get((), 0)
    parts = []
    for mono, coeff in terms:
        if mono == ():
            continue
        bare_atom = len(poly) == 1 and coeff == 1 and len(mono) == 1 and context_prec == 0
        names = " * ".join(f"({_factor_text(f, prefix)})" if isinstance(f, tuple) and
                           not bare_atom else _factor_text(f, prefix) for _, f in mono)
        if coeff == 1:
            parts.append(("+", names))
        elif coeff == -1:
            parts.append(("-", names))
        else:
            parts.append(("-" if coeff < 0 else "+", f"{abs(coeff)} * {names}"))
    if const:
        parts.append(("-" if const < 0 else "+", str(abs(const))))
    text = ""
    for i, (sign, body) in enumerate(parts):
        if i == 0:
            text = body if sign == "+" else f"-{body}"
        else:
            text += f" {sign} {body}"
    single_product = len(parts) == 1 and parts[0][0] == "+"
    if context_prec >= 2 and not single_product:
        return f"({text})"
    if context_prec >= 3 and " " in text:
        return f"({text})"
    return text
