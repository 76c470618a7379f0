"""Evaluating argument expressions: a small evaluator of our own, never Python `eval`.

Contract: `evaluate(expr, env)` computes the value of an AST expression from integer and float
literals, strings, tuples, `+ - * / // %`, unary minus, and names bound in `env` (block
parameters, the model's `classes`). A name that is not bound is a bare word (`same`, `valid`,
`kaiming`) and evaluates to its text; `true`/`false`/`none` are booleans and None. Errors are
`ArchError`s pointing at the offending sub-expression.

The evaluator is generic over the numbers it is given: code generation binds block parameters to
`Sym` values (integers that remember the expression that produced them) and evaluates the same
AST again, so a block class reads `nn.Conv2d(planes, planes * expansion, 1)`.
"""

from __future__ import annotations

from collections.abc import Mapping

from archdsl.diagnostics import ArchError, Diagnostic, suggest
from archdsl.syntax import ast

Value = object
MAX_INT_DIGITS = 60  # far beyond any layer size; stops `9999...` from building huge integers

_WORDS = {"true": True, "false": False, "none": None}


def evaluate(expr: ast.Expr, env: Mapping[str, Value]) -> Value:
    kind = type(expr)
    if kind is ast.Num or kind is ast.Literal:
        return expr.value
    if kind is ast.Name:
        if expr.id in env:
            return env[expr.id]
        lowered = expr.id.lower()
        return _WORDS[lowered] if lowered in _WORDS else expr.id
    if kind is ast.Str:
        return expr.value
    if kind is ast.Neg:
        value = evaluate(expr.operand, env)
        if not _is_number(value):
            raise _error(expr, f"cannot negate {_describe(value)}")
        return -value
    if kind is ast.TupleExpr:
        return tuple(evaluate(item, env) for item in expr.items)
    if kind is ast.BinOp:
        return _binop(expr, evaluate(expr.left, env), evaluate(expr.right, env), env)
    raise TypeError(f"not an expression: {expr!r}")


def _is_number(value: Value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _binop(expr: ast.BinOp, left: Value, right: Value, env: Mapping[str, Value]) -> Value:
    op = expr.op
    if not (_is_number(left) and _is_number(right)):
        bad = expr.left if not _is_number(left) else expr.right
        value = left if not _is_number(left) else right
        raise _error(bad, f"'{op}' needs numbers, got {_describe(value)}",
                     _unknown_name_hint(bad, value, env))
    if op in ("/", "//", "%") and right == 0:
        raise _error(expr.right, "division by zero")
    if op == "+":
        result = left + right
    elif op == "-":
        result = left - right
    elif op == "*":
        result = left * right
    elif op == "//":
        result = left // right
    elif op == "%":
        result = left % right
    elif op == "/":
        result = left / right
        if isinstance(left, int) and isinstance(right, int) and left % right == 0:
            result = left // right  # `planes/2` stays an integer when it divides exactly
    else:
        raise _error(expr, f"unknown operator '{op}'")
    if isinstance(result, int) and abs(result) >= 10**MAX_INT_DIGITS:
        raise _error(expr, "this number is too large")
    return result


def _describe(value: Value) -> str:
    if isinstance(value, str):
        return f"the word '{value}'"
    if isinstance(value, tuple):
        return f"the tuple {value}"
    return repr(value)


def _unknown_name_hint(node: ast.Expr, value: Value, env: Mapping[str, Value]
                       ) -> str | None:
    if isinstance(node, ast.Name) and isinstance(value, str):
        guess = suggest(value, [k for k in env if isinstance(k, str)])
        if guess is not None:
            return f"'{value}' is not defined here; did you mean '{guess}'?"
        return f"'{value}' is not a parameter or setting in scope here"
    return None


def _error(node, message: str, hint: str | None = None) -> ArchError:
    return ArchError([Diagnostic("bad-expression", message, node.span, hint)])


def render_value(value: Value, prefix: str = "") -> str:
    """A value as Python source (generated code); `prefix` goes before symbolic names."""
    if isinstance(value, (Sym, SymFloat)):
        return value.render(prefix)
    if isinstance(value, tuple):
        inner = ", ".join(render_value(v, prefix) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, float):
        return repr(value)
    return repr(value)


# --- symbolic values for code generation ---------------------------------------------------------


class SymFloat(float):
    """A float block parameter used as is (`Dropout(dropout)`): renders as its name."""

    name: str

    def __new__(cls, value: float, name: str):
        obj = float.__new__(cls, value)
        obj.name = name
        return obj

    symbolic = True

    def render(self, prefix: str = "") -> str:
        return prefix + self.name

    def names(self) -> set[str]:
        return {self.name}

    __hash__ = float.__hash__

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
    if isinstance(factor, tuple):  # an atom: (operator, frozen poly, frozen poly)
        symbol, a, b = factor
        return f"{_render(dict(a), 2, prefix)} {symbol} {_render(dict(b), 3, prefix)}"
    return prefix + factor


def _names(poly) -> set[str]:
    out: set[str] = set()
    for mono in poly:
        for _, factor in mono:
            if isinstance(factor, tuple):
                out |= _names(dict(factor[1])) | _names(dict(factor[2]))
            else:
                out.add(factor)
    return out


def _render(poly, context_prec: int, prefix: str = "") -> str:
    """Render a polynomial; parenthesise sums when they sit inside a product (prec >= 2)."""
    if not poly:
        return "0"
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


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "//": 2, "%": 2}


def expr_text(expr: ast.Expr, context: int = 0) -> str:
    """An AST expression written back as text (canonical spacing, minimal parentheses)."""
    kind = type(expr)
    if kind is ast.Num:
        return repr(expr.value)
    if kind is ast.Literal:
        return render_value(expr.value) if not isinstance(expr.value, bool) else \
            str(expr.value).lower()
    if kind is ast.Name:  # a name is written as itself only when it is one (never as code)
        return expr.id if expr.id.isascii() and expr.id.isidentifier() else repr(expr.id)
    if kind is ast.Str:
        return repr(expr.value)
    if kind is ast.Neg:
        return f"-{expr_text(expr.operand, 3)}"
    if kind is ast.TupleExpr:
        inner = ", ".join(expr_text(i) for i in expr.items)
        return f"({inner},)" if len(expr.items) == 1 else f"({inner})"
    if kind is ast.BinOp:
        prec = _PRECEDENCE[expr.op]
        text = f"{expr_text(expr.left, prec)} {expr.op} {expr_text(expr.right, prec + 1)}"
        return f"({text})" if prec < context else text
    raise TypeError(expr)
