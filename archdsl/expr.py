"""Evaluating argument expressions: a small evaluator of our own, never Python `eval`.

Contract: `evaluate(expr, env)` computes the value of an AST expression from integer and float
literals, strings, tuples, `+ - * / // % **`, unary minus, comparisons (chained as in Python),
`and`/`or`/`not`, the conditional `a if cond else b`, calls of the functions in
`archdsl.expr_functions.FUNCTIONS`, and names bound in `env` (block parameters, the model's
`classes`). Values are exactly Python's (`round` ties to even, `and`/`or` return an operand,
only the chosen branch of a conditional is evaluated), with these differences: true and false
are not numbers, integers have at most `MAX_INT_DIGITS` digits (bounded before they are built),
and a float that is not finite (inf, nan) is an error. A name that is not bound is a bare word
(`same`, `valid`, `kaiming`) and evaluates to its text, for the binder to accept or refuse
(`unknown_name`); used as a number or condition it is an `unknown-name` error. `true`/`false`/
`none` are booleans and None. Errors are `ArchError`s pointing at the offending sub-expression.

The evaluator is generic over the numbers it is given: code generation binds block parameters
to symbolic values (`archdsl.expr_symbolic`: integers and floats that remember the expression
that produced them) and evaluates the same AST again, so a block class reads
`nn.Conv2d(planes, planes * expansion, 1)` or `max(8, int(width * 0.25))`. An operation on a
symbolic value whose result is not already symbolic is wrapped in a `Term` of the operation.

`expr_text` writes an expression back in the language's own syntax (canonical spacing, minimal
parentheses); parsing the text again gives the same expression.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

from archdsl.diagnostics import ArchError, Diagnostic, suggest
from archdsl.expr_functions import FUNCTIONS, MAX_INT_DIGITS, ExprError, power
from archdsl.expr_symbolic import (
    AND,
    BINARY_LEVEL,
    CMP,
    IF,
    NOT,
    OR,
    SUM,
    TOP,
    UNARY,
    Sym,
    SymBool,
    SymFloat,
    Term,
    is_symbolic,
    operand_levels,
    plain,
    render_value,
    wrap,
)
from archdsl.syntax import ast

__all__ = ["MAX_INT_DIGITS", "Sym", "SymBool", "SymFloat", "evaluate", "expr_text", "names_in",
           "render_value", "unknown_name", "value_names"]

Value = object

_WORDS = {"true": True, "false": False, "none": None}
_ORDERING = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
             ">=": lambda a, b: a >= b}
_EQUALITY = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b}


def evaluate(expr: ast.Expr, env: Mapping[str, Value]) -> Value:
    kind = type(expr)
    if kind is ast.Num:
        value = expr.value
        if value.__class__ is float and not math.isfinite(value):
            raise _not_finite(expr)
        return value
    if kind is ast.Name:
        if expr.id in env:
            return env[expr.id]
        lowered = expr.id.lower()
        return _WORDS[lowered] if lowered in _WORDS else expr.id
    if kind is ast.Literal:
        value = expr.value
        if value.__class__ is float and not math.isfinite(value):
            raise _not_finite(expr)
        return value
    if kind is ast.Str:
        return expr.value
    if kind is ast.BinOp:
        return _binop(expr, evaluate(expr.left, env), evaluate(expr.right, env), env)
    if kind is ast.Neg:
        value = evaluate(expr.operand, env)
        if not _is_number(value):
            raise _operand_error(expr.operand, value, env, f"cannot negate {_describe(value)}")
        return _symbolic(-value, "neg", "-", (value,))
    if kind is ast.TupleExpr:
        return tuple(evaluate(item, env) for item in expr.items)
    if kind is ast.Call:
        return _call(expr, env)
    if kind is ast.IfElse:
        return _if_else(expr, env)
    if kind is ast.Compare:
        return _compare(expr, env)
    if kind is ast.BoolOp:
        return _bool_op(expr, env)
    if kind is ast.Not:
        value = evaluate(expr.operand, env)
        result = not _truth(expr.operand, value, env)
        return SymBool(result, Term("not", "not", (value,))) if is_symbolic(value) else result
    raise TypeError(f"not an expression: {expr!r}")


def _is_number(value: Value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _symbolic(result: Value, kind: str, op, operands: tuple) -> Value:
    """`result` as is, or wrapped in a term when an operand is symbolic and the operation did
    not give a symbolic value itself (`Sym` arithmetic does for `+ - * // %`)."""
    if isinstance(result, (Sym, SymFloat, SymBool)) or not any(is_symbolic(v) for v in operands):
        return result
    wrapped = wrap(plain(result), Term(kind, op, operands))
    return result if wrapped is None else wrapped


def _binop(expr: ast.BinOp, left: Value, right: Value, env: Mapping[str, Value]) -> Value:
    op = expr.op
    if not (_is_number(left) and _is_number(right)):
        bad = expr.left if not _is_number(left) else expr.right
        value = left if not _is_number(left) else right
        raise _operand_error(bad, value, env, f"'{op}' needs numbers, got {_describe(value)}")
    if op in ("/", "//", "%") and right == 0:
        raise _error(expr.right, "division by zero")
    try:
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
        elif op == "**":
            result = power(plain(left), plain(right))
        else:
            raise _error(expr, f"unknown operator '{op}'")
    except ExprError as err:
        raise _error(expr, err.message, err.hint) from None
    except OverflowError:
        raise _not_finite(expr) from None
    if isinstance(result, int) and abs(result) >= 10**MAX_INT_DIGITS:
        raise _error(expr, "this number is too large")
    if isinstance(result, float) and not math.isfinite(result):
        raise _not_finite(expr)
    return _symbolic(result, "bin", op, (left, right))


def _call(expr: ast.Call, env: Mapping[str, Value]) -> Value:
    func = FUNCTIONS.get(expr.func)
    if func is None:
        raise ArchError([unknown_function(expr)])
    count = len(expr.args)
    if count < func.min_args or (func.max_args is not None and count > func.max_args):
        raise _error(expr, f"{func.name} takes {func.arity_text()}, got {count}",
                     f"write {func.signature}")
    args = []
    for node in expr.args:
        value = evaluate(node, env)
        if not _is_number(value):
            raise _operand_error(node, value, env, f"{func.name} needs numbers, got "
                                 f"{_describe(value)}")
        args.append(value)
    try:
        result = func.impl(*(plain(a) for a in args))
    except ExprError as err:
        where = expr.args[err.arg] if err.arg is not None else expr
        raise _error(where, err.message, err.hint) from None
    except OverflowError:
        raise _not_finite(expr) from None
    if isinstance(result, float) and not math.isfinite(result):
        raise _not_finite(expr)
    return _symbolic(result, "call", func.name, tuple(args))


def _if_else(expr: ast.IfElse, env: Mapping[str, Value]) -> Value:
    cond = evaluate(expr.cond, env)
    chosen_node, other_node = (expr.then, expr.other) if _truth(expr.cond, cond, env) else \
        (expr.other, expr.then)
    chosen = evaluate(chosen_node, env)
    if not is_symbolic(cond):
        return chosen
    # The condition depends on symbolic values: the generated code needs both branches. A
    # branch these values cannot compute (a division by zero, say) leaves the chosen one.
    try:
        other = evaluate(other_node, env)
    except ArchError:
        return chosen
    then, orelse = (chosen, other) if chosen_node is expr.then else (other, chosen)
    wrapped = wrap(plain(chosen), Term("if", "if", (then, cond, orelse)))
    return chosen if wrapped is None else wrapped


def _compare(expr: ast.Compare, env: Mapping[str, Value]) -> Value:
    """`a < b <= c` as Python: pairwise, stopping at the first false comparison."""
    nodes = (expr.first, *expr.rest)
    values = [evaluate(expr.first, env)]
    result = True
    for i, op in enumerate(expr.ops):
        values.append(evaluate(nodes[i + 1], env))
        left, right = _comparands(expr, i, values[i], values[i + 1], env)
        table = _ORDERING if op in _ORDERING else _EQUALITY
        if not table[op](left, right):
            result = False
            break
    if not any(is_symbolic(v) for v in values):
        return result
    try:  # the generated code needs every operand, even those Python would skip
        for i in range(len(values) - 1, len(expr.ops)):
            values.append(evaluate(nodes[i + 1], env))
            _comparands(expr, i, values[i], values[i + 1], env)
    except ArchError:
        return result
    return SymBool(result, Term("cmp", tuple(expr.ops), tuple(values)))


def _comparands(expr: ast.Compare, i: int, left: Value, right: Value,
                env: Mapping[str, Value]) -> tuple[Value, Value]:
    """The plain values of the `i`th comparison, checked: ordering needs numbers; a bare
    word is an unknown name (a word to compare with is quoted)."""
    op = expr.ops[i]
    nodes = ((expr.first, *expr.rest)[i], expr.rest[i])
    for node, value in zip(nodes, (left, right), strict=True):
        if op in _ORDERING and not _is_number(value):
            raise _operand_error(node, value, env, f"'{op}' needs numbers, got "
                                 f"{_describe(value)}")
        if _unbound(node, env):
            diag = unknown_name(node, env)
            raise ArchError([Diagnostic(diag.code, diag.message, diag.span, diag.hint if
                                        diag.hint.startswith("did you mean") else
                                        f"to compare with the word, quote it: \"{node.id}\"")])
    return plain(left), plain(right)


def _bool_op(expr: ast.BoolOp, env: Mapping[str, Value]) -> Value:
    """`a or b` / `a and b` as Python: the left operand when it decides, else the right one
    (which, as in Python, may be any value)."""
    left = evaluate(expr.left, env)
    truth = _truth(expr.left, left, env)
    decided = truth if expr.op == "or" else not truth
    if not is_symbolic(left):
        return left if decided else evaluate(expr.right, env)
    try:  # a symbolic left operand: the generated code needs the right one too
        right = evaluate(expr.right, env)
    except ArchError:
        if decided:
            return left
        raise
    result = left if decided else right
    wrapped = wrap(plain(result), Term(expr.op, expr.op, (left, right)))
    return result if wrapped is None else wrapped


def _truth(node: ast.Expr, value: Value, env: Mapping[str, Value]) -> bool:
    """A condition's truth, as Python's (a number is true unless 0); words are refused."""
    if isinstance(value, (bool, int, float, SymBool)):
        return bool(value)
    raise _operand_error(node, value, env, f"a condition must be true, false or a number, got "
                         f"{_describe(value)}")


def _describe(value: Value) -> str:
    value = plain(value)
    if isinstance(value, str):
        return f"the word '{value}'"
    if isinstance(value, tuple):
        return f"the tuple {value}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    return repr(value)


def _unbound(node: ast.Expr, env: Mapping[str, Value]) -> bool:
    return isinstance(node, ast.Name) and node.id not in env and node.id.lower() not in _WORDS


def _operand_error(node: ast.Expr, value: Value, env: Mapping[str, Value],
                   message: str) -> ArchError:
    """An operand of the wrong kind: an unknown name when it is one, else `message`."""
    if _unbound(node, env):
        return ArchError([unknown_name(node, env)])
    return _error(node, message)


def unknown_name(node: ast.Name, env: Mapping[str, Value], words=(), show_words: bool = True
                 ) -> Diagnostic:
    """`unknown name 'x'` at the name, with a did-you-mean over the names in scope and over
    `words`, the bare words the place would accept (listed in the hint if `show_words`)."""
    names = sorted(k for k in env if isinstance(k, str))
    guess = suggest(node.id, [*names, *words])
    if guess is not None:
        hint = f"did you mean '{guess}'?"
    elif node.id in FUNCTIONS:
        hint = f"{node.id} is a function: call it, e.g. {FUNCTIONS[node.id].signature}"
    elif node.id == "classes":
        hint = "set `classes:` in the model to use it"
    else:
        hint = ("the names in scope here are " + ", ".join(names) if names else
                "no block parameters or settings are in scope here")
        if words and show_words:
            hint += "; the words it accepts are " + ", ".join(f"'{w}'" for w in words)
    return Diagnostic("unknown-name", f"unknown name '{node.id}'", node.span, hint)


def unknown_function(expr: ast.Call) -> Diagnostic:
    guess = suggest(expr.func, FUNCTIONS)
    return Diagnostic("unknown-function", f"unknown function '{expr.func}'", expr.func_span,
                      f"did you mean '{guess}'?" if guess else
                      "the functions are " + ", ".join(sorted(FUNCTIONS)))


def _error(node, message: str, hint: str | None = None) -> ArchError:
    return ArchError([Diagnostic("bad-expression", message, node.span, hint)])


def _not_finite(node) -> ArchError:
    # the argument's fault, as any inf or nan a layer is given (binding's `_beyond_torch`)
    return ArchError([Diagnostic("bad-argument", "not a finite number", node.span,
                                 "a layer takes finite numbers only (floats end near 1.8e308; "
                                 "inf and nan are refused)")])


# --- reading expressions -------------------------------------------------------------------------


def names_in(expr: ast.Expr) -> Iterator[str]:
    """The names an expression reads (not the function names it calls)."""
    kind = type(expr)
    if kind is ast.Name:
        yield expr.id
    elif kind is ast.BinOp or kind is ast.BoolOp:
        yield from names_in(expr.left)
        yield from names_in(expr.right)
    elif kind is ast.Neg or kind is ast.Not:
        yield from names_in(expr.operand)
    elif kind is ast.TupleExpr or kind is ast.Call:
        for item in expr.items if kind is ast.TupleExpr else expr.args:
            yield from names_in(item)
    elif kind is ast.IfElse:
        for part in (expr.then, expr.cond, expr.other):
            yield from names_in(part)
    elif kind is ast.Compare:
        for part in (expr.first, *expr.rest):
            yield from names_in(part)


def value_names(expr: ast.Expr, env: Mapping[str, Value]) -> Iterator[ast.Name]:
    """The unbound names an expression may give as its value, that is bare words: the
    expression itself, the branches of a conditional, the operands of `and`/`or` and the
    items of a tuple (never operands of arithmetic, which `evaluate` refuses)."""
    kind = type(expr)
    if kind is ast.Name:
        if _unbound(expr, env):
            yield expr
    elif kind is ast.IfElse:
        yield from value_names(expr.then, env)
        yield from value_names(expr.other, env)
    elif kind is ast.BoolOp:  # the left operand is a condition: a word there is refused
        yield from value_names(expr.right, env)
    elif kind is ast.TupleExpr:
        for item in expr.items:
            yield from value_names(item, env)


# --- writing expressions back ------------------------------------------------------------------


def expr_text(expr: ast.Expr, context: int = TOP, python: frozenset[str] | None = None) -> str:
    """An AST expression written back as text (canonical spacing, minimal parentheses).

    With `python` (the names in scope, e.g. a block's parameters), the text is Python source
    instead, for generated code: functions by their Python names (`math.ceil`), `true`,
    `false` and `none` as `True`, `False`, `None`, and any other name as its word, quoted."""
    kind = type(expr)
    if kind is ast.Num:
        return _number_text(expr.value, context)
    if kind is ast.Literal:
        if isinstance(expr.value, bool):
            return str(expr.value).lower()
        if isinstance(expr.value, (int, float)):
            return _number_text(expr.value, context)
        return render_value(expr.value)
    if kind is ast.Name:  # a name is written as itself only when it is one (never as code)
        if python is not None and expr.id not in python:
            lowered = expr.id.lower()
            return repr(_WORDS[lowered]) if lowered in _WORDS else repr(expr.id)
        return expr.id if expr.id.isascii() and expr.id.isidentifier() else repr(expr.id)
    if kind is ast.Str:
        return repr(expr.value)
    if kind is ast.TupleExpr:
        inner = ", ".join(expr_text(i, TOP, python) for i in expr.items)
        return f"({inner},)" if len(expr.items) == 1 else f"({inner})"
    if kind is ast.Call:
        func = expr.func
        if python is not None:  # only the table's functions ever reach generated code
            func = FUNCTIONS[func].python
        return f"{func}({', '.join(expr_text(a, TOP, python) for a in expr.args)})"
    if kind is ast.BinOp:
        own = BINARY_LEVEL[expr.op]
        left, right = operand_levels(expr.op)
        text = (f"{expr_text(expr.left, left, python)} {expr.op} "
                f"{expr_text(expr.right, right, python)}")
    elif kind is ast.Neg:
        own, text = UNARY, f"-{expr_text(expr.operand, UNARY, python)}"
    elif kind is ast.IfElse:
        own = IF
        text = (f"{expr_text(expr.then, OR, python)} if {expr_text(expr.cond, OR, python)} "
                f"else {expr_text(expr.other, IF, python)}")
    elif kind is ast.BoolOp:
        own = OR if expr.op == "or" else AND
        text = (f"{expr_text(expr.left, own, python)} {expr.op} "
                f"{expr_text(expr.right, own + 1, python)}")
    elif kind is ast.Not:
        own, text = NOT, f"not {expr_text(expr.operand, NOT, python)}"
    elif kind is ast.Compare:
        own = CMP
        parts = [expr_text(expr.first, SUM, python)]
        for op, item in zip(expr.ops, expr.rest, strict=True):
            parts += [op, expr_text(item, SUM, python)]
        text = " ".join(parts)
    else:
        raise TypeError(expr)
    return f"({text})" if own < context else text


def _number_text(value, context: int) -> str:
    text = repr(value)
    return f"({text})" if text.startswith("-") and context > UNARY else text
