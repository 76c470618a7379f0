"""The functions of the expression language, in one table, and the bounds on its arithmetic.

Contract: `FUNCTIONS` maps each function name to a `Function`: how many arguments it takes, its
implementation (plain Python numbers in, a number out, exactly as Python computes it: `round` is
Python's, ties to even), one line of documentation (docs/language.md, `did you mean` and arity
messages draw on it) and the name generated Python code calls it by (`max` is a builtin, `ceil`
is written `math.ceil`, so the generated file imports `math`). Nothing else in archdsl lists
function names. Every argument is an int or a float (never a bool: true and false are not
numbers); an implementation raises `ExprError` for an argument outside its domain, and the
evaluator (archdsl/expr.py) turns it into a diagnostic at that argument.

The work is bounded: `power` refuses an integer result of more than `MAX_INT_DIGITS` digits
before computing it (so `pow(10, 10**50)` is refused at once instead of filling memory), and
`round` never builds a huge power of ten. Float results that overflow (`OverflowError`) or are
not real (a negative number to a fractional power) are refused here; results that Python
itself gives as inf or nan are refused by the evaluator's `check_number`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

MAX_INT_DIGITS = 60  # far beyond any layer size; stops `9999...` from building huge integers

Number = int | float


class ExprError(Exception):
    """A value a function or operator cannot take; `arg` is the index of the argument to
    blame (None: the whole call)."""

    def __init__(self, message: str, hint: str | None = None, arg: int | None = None):
        super().__init__(message)
        self.message, self.hint, self.arg = message, hint, arg


@dataclass(frozen=True)
class Function:
    name: str
    min_args: int
    max_args: int | None  # None: any number of arguments
    impl: Callable[..., Number]
    signature: str  # how it is called, for docs and messages: `round(x)`, `round(x, ndigits)`
    doc: str
    python: str  # what generated code calls: a builtin, or `math.NAME` (needs `import math`)

    def arity_text(self) -> str:
        """'1 argument', '1 or 2 arguments', 'at least 2 arguments'."""
        low, high = self.min_args, self.max_args
        plural = "s" if (high or low) != 1 else ""
        if high is None:
            return f"at least {low} argument{plural}"
        if low == high:
            return f"{low} argument{plural}"
        return f"{low} or {high} arguments" if high == low + 1 else \
            f"{low} to {high} arguments"


def too_large(hint: str | None = None) -> ExprError:
    return ExprError("this number is too large",
                     hint or f"archdsl computes with integers of at most {MAX_INT_DIGITS} digits")


def check_int(value: int) -> int:
    if abs(value) >= 10**MAX_INT_DIGITS:
        raise too_large()
    return value


def power(x: Number, y: Number) -> Number:
    """`x ** y` as Python computes it, refusing results too large to build."""
    if isinstance(x, int) and isinstance(y, int):
        if y >= 0 and abs(x) > 1 and y * math.log10(abs(x)) > MAX_INT_DIGITS + 1:
            raise too_large(f"{x} ** {y} has over {MAX_INT_DIGITS} digits")
        if y < 0 and x == 0:
            raise ExprError("0 cannot be raised to a negative power", arg=0)
    elif x == 0 and y < 0:
        raise ExprError("0 cannot be raised to a negative power", arg=0)
    try:
        result = x ** y
    except OverflowError:
        raise ExprError("not a finite number", "the result is beyond the range of a float "
                        "(about 1.8e308)") from None
    if isinstance(result, complex):
        raise ExprError(f"({x!r}) ** {y!r} is not a real number",
                        "a negative number has no real fractional power")
    return check_int(result) if isinstance(result, int) else result


def _round(x: Number, ndigits: int | None = None) -> Number:
    if ndigits is None:
        return check_int(round(x))
    if not isinstance(ndigits, int):
        raise ExprError(f"round's ndigits must be a whole number, got {ndigits!r}", arg=1)
    if isinstance(x, int) and ndigits < -(MAX_INT_DIGITS + 1):
        # Python computes 10 ** -ndigits here; every integer we allow rounds to 0 anyway
        return 0
    return round(x, ndigits)


def _whole(name: str, convert: Callable[[Number], int]) -> Callable[[Number], int]:
    def apply(x: Number) -> int:
        return check_int(convert(x))
    apply.__name__ = name
    return apply


def _log(x: Number, base: Number | None = None) -> float:
    if x <= 0:
        raise ExprError(f"log needs a positive number, got {x!r}", arg=0)
    if base is None:
        return math.log(x)
    if base <= 0 or base == 1:
        raise ExprError(f"the base of log must be positive and not 1, got {base!r}", arg=1)
    return math.log(x, base)


def _sqrt(x: Number) -> float:
    if x < 0:
        raise ExprError(f"sqrt needs a non-negative number, got {x!r}", arg=0)
    return math.sqrt(x)


_TABLE = (
    Function("min", 2, None, min, "min(a, b, ...)", "the smallest argument", "min"),
    Function("max", 2, None, max, "max(a, b, ...)", "the largest argument", "max"),
    Function("abs", 1, 1, abs, "abs(x)", "the absolute value", "abs"),
    Function("round", 1, 2, _round, "round(x) or round(x, ndigits)",
             "the nearest integer, ties to the even one as in Python (round(2.5) is 2); with "
             "ndigits, rounded to that many decimals", "round"),
    Function("floor", 1, 1, _whole("floor", math.floor), "floor(x)",
             "the largest integer not above x", "math.floor"),
    Function("ceil", 1, 1, _whole("ceil", math.ceil), "ceil(x)",
             "the smallest integer not below x", "math.ceil"),
    Function("int", 1, 1, _whole("int", int), "int(x)",
             "x truncated toward zero (int(-2.7) is -2)", "int"),
    Function("float", 1, 1, float, "float(x)", "x as a float", "float"),
    Function("sqrt", 1, 1, _sqrt, "sqrt(x)", "the square root, a float", "math.sqrt"),
    Function("log", 1, 2, _log, "log(x) or log(x, base)",
             "the natural logarithm, or the logarithm to a base", "math.log"),
    Function("pow", 2, 2, power, "pow(x, y)", "x to the power y, the same as x ** y", "pow"),
)
FUNCTIONS: dict[str, Function] = {f.name: f for f in _TABLE}
