"""The expression language: Python's precedence and values, its functions, its errors, and the
symbolic values generated code is written with.

- Each expression below is also Python: archdsl's value (and type) equals Python's.
- torchvision's width and depth formulas written as expressions give torchvision's numbers.
- Errors: unknown functions (did-you-mean over the function table), wrong arity, non-numbers,
  domain errors, numbers too large (refused before they are built) and non-finite floats, each
  at the smallest span; unknown names, unless the argument takes the word.
- Hypothesis: random expressions print (`expr_text`) and parse back to the same expression and
  value; evaluated over symbolic parameters they render as Python that computes the same value.
- A block using the functions compiles to readable source that runs, with the parameter count
  archdsl reports.
"""

from __future__ import annotations

import builtins
import math
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archdsl
from archdsl import ArchError
from archdsl.diagnostics import render_text
from archdsl.expr import Sym, SymFloat, evaluate, expr_text
from archdsl.expr_functions import FUNCTIONS
from archdsl.expr_symbolic import is_symbolic, plain, render_value
from archdsl.source import SourceFile
from archdsl.syntax import ast
from archdsl.syntax.parser import parse_text
from conftest import ROOT

# What generated code sees: the builtins the functions use, and `math`.
PYTHON = {"__builtins__": {}, "math": math, **{name: getattr(builtins, name) for name in
                                              ("min", "max", "abs", "round", "int", "float",
                                               "pow")}}


def parsed(text: str) -> ast.Expr:
    """The expression `text`, as the first argument of a layer."""
    program = parse_text(f"Conv({text})")
    return program.models[0].body[0].elements[0].unit.args[0].value


def value(text: str, env: dict | None = None):
    return evaluate(parsed(text), env or {})


def failure(text: str, env: dict | None = None):
    with pytest.raises(ArchError) as err:
        value(text, env)
    return err.value.diagnostics[0]


def python(text: str, env: dict | None = None):
    """Python's value of the same text, with the functions as generated code calls them."""
    names = {**PYTHON, **{n: getattr(math, n) for n in ("floor", "ceil", "log", "sqrt")},
             **(env or {})}
    return eval(text, names)  # noqa: S307  (test-only: the reference for fixed test strings)


# --- values: Python's ---------------------------------------------------------------------------

PRECEDENCE = [
    "-2 ** 2", "2 ** -1", "2 ** 3 ** 2", "(2 ** 3) ** 2", "-2 ** -2", "(-2) ** 2",
    "1 + 2 * 3 ** 2", "10 - 3 - 2", "2 * 3 % 4", "7 // 2 * 2", "-7 // 2", "-3 % 5", "2 - -3",
    "not 1 == 2", "not 0 and 1", "0 or 2 and 3", "0 and 1 or 4", "not not 3",
    "1 if 0 else 2 if 1 else 3", "(1 if 0 else 2) + 1", "1 + 2 if 0 else 3 * 4",
    "1 < 2 < 3", "1 < 3 < 2", "3 > 2 == 1", "1 == 1.0", "2 != 2 or 5", "1 <= 1 >= 1 != 2",
    "1 if 2 > 1 and not 3 < 2 else 0", "not 1 + 1 == 3", "5 if 2 ** 3 == 8 else 6",
    "a * b + a // b", "a if a > b else b", "a and b", "b - a or a",
]
FUNCTION_CALLS = [
    "min(3, 1, 2)", "max(8, 7.5)", "max(2.0, 2)", "min(a, b, 2.5)",
    "round(2.5)", "round(3.5)", "round(-2.5)", "round(0.5)", "round(2.675, 2)",
    "round(0.125, 2)", "round(1234, -2)", "round(1250, -2)", "round(7, 0)", "round(7.0, 0)",
    "round(5, -100)",
    "floor(-2.5)", "floor(2)", "ceil(2.1)", "ceil(-2.1)", "int(-2.7)", "int(2.9)", "int(7)",
    "float(3)", "abs(-4)", "abs(-4.5)", "sqrt(16)", "sqrt(2)",
    "log(8, 2)", "log(100, 10)", "log(2.718281828459045)", "log(1000, 10)", "log(7)",
    "pow(2, 10)", "pow(2, -2)", "pow(2.5, 2)", "pow(-8, 3)", "pow(0, 0)", "pow(4, 0.5)",
    "ceil(3 * 1.1)", "max(8, int(a * 0.25))", "int(round(0.25 * 96))",
]


@pytest.mark.parametrize("text", PRECEDENCE + FUNCTION_CALLS)
def test_values_and_types_are_pythons(text):
    env = {"a": 7, "b": 3}
    ours, theirs = value(text, env), python(text, env)
    assert ours == theirs and type(ours) is type(theirs), (ours, theirs)


def test_every_function_of_the_table_is_tested_and_documented():
    called = {t.split("(")[0] for t in FUNCTION_CALLS if "(" in t}
    assert set(FUNCTIONS) <= called
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    for func in FUNCTIONS.values():
        assert f"`{func.signature}`" in text, func.name


def test_only_the_chosen_branch_is_evaluated():
    assert value("1 // 0 if 0 else 5") == 5
    assert value("0 and 1 // 0") == 0
    assert value("1 or 1 // 0") == 1
    assert value("2 < 1 < 1 // 0") is False


# torchvision's helpers, as their builders write them
def make_divisible(v, divisor=8, min_value=None):  # mobilenetv2.py / efficientnet.py
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def round_to_multiple_of(val, divisor, round_up_bias=0.9):  # mnasnet.py
    new_val = max(divisor, int(val + divisor / 2) // divisor * divisor)
    return new_val if new_val >= round_up_bias * val else new_val + divisor


MAKE_DIVISIBLE = ("max(8, int(v + 4) // 8 * 8) + 8 if max(8, int(v + 4) // 8 * 8) < 0.9 * v "
                  "else max(8, int(v + 4) // 8 * 8)")
ROUND_TO_MULTIPLE = ("max(8, int(v + 8 / 2) // 8 * 8) if max(8, int(v + 8 / 2) // 8 * 8) >= "
                     "0.9 * v else max(8, int(v + 8 / 2) // 8 * 8) + 8")
CHANNELS = [16, 24, 32 * 0.75, 40 * 1.1, 96 * 0.35, 320 * 1.4, 1280 * 0.5, 11, 13.5, 4, 600 * 1.8]


@pytest.mark.parametrize("v", CHANNELS)
def test_make_divisible_and_round_to_multiple_of_are_torchvisions(v):
    assert value(MAKE_DIVISIBLE, {"v": v}) == make_divisible(v, 8)
    assert value(ROUND_TO_MULTIPLE, {"v": v}) == round_to_multiple_of(v, 8, 0.9)
    assert value("ceil(n * d)", {"n": 3, "d": 1.4}) == int(math.ceil(3 * 1.4))


def test_regnet_widths_are_the_formulas():
    """RegNet's per-block widths (torchvision's BlockParams.from_init_params, in float64)."""
    w0, wa, wm, depth = 48, 27.89, 2.09, 16  # regnet_y_400mf
    text = "int(round(w0 * pow(wm, round(log((i * wa + w0) / w0) / log(wm))) / 8) * 8)"
    for i in range(depth):
        expected = int(round(w0 * wm ** round(math.log((i * wa + w0) / w0) / math.log(wm)) / 8)
                       * 8)
        assert value(text, {"w0": w0, "wa": wa, "wm": wm, "i": i}) == expected


# --- errors -------------------------------------------------------------------------------------


def span_text(diag) -> str:
    return diag.span.file.text[diag.span.start:diag.span.end]


@pytest.mark.parametrize(("text", "code", "message", "at"), [
    ("mx(8, 16)", "unknown-function", "unknown function 'mx'", "mx"),
    ("ciel(2.5)", "unknown-function", "unknown function 'ciel'", "ciel"),
    ("ceil(16, 2)", "bad-expression", "ceil takes 1 argument, got 2", "ceil(16, 2)"),
    ("max(8)", "bad-expression", "max takes at least 2 arguments, got 1", "max(8)"),
    ("round(1, 2, 3)", "bad-expression", "round takes 1 or 2 arguments, got 3", "round(1, 2, 3)"),
    ("max(8, 'wide')", "bad-expression", "max needs numbers, got the word 'wide'", "'wide'"),
    ("max(8, true)", "bad-expression", "max needs numbers, got true", "true"),
    ("ceil(wide)", "unknown-name", "unknown name 'wide'", "wide"),
    ("round(2.5, 1.5)", "bad-expression", "round's ndigits must be a whole number, got 1.5",
     "1.5"),
    ("int(log(0))", "bad-expression", "log needs a positive number, got 0", "0"),
    ("log(8, 1)", "bad-expression", "the base of log must be positive and not 1, got 1", "1"),
    ("sqrt(2 - 3)", "bad-expression", "sqrt needs a non-negative number, got -1", "2 - 3"),
    ("pow(0, -1)", "bad-expression", "0 cannot be raised to a negative power", "0"),
    ("(-8) ** 0.5", "bad-expression", "(-8) ** 0.5 is not a real number", "(-8) ** 0.5"),
    ("1 + 10 ** 60", "bad-expression", "this number is too large", "10 ** 60"),
    ("pow(10, 10 ** 6)", "bad-expression", "this number is too large", "pow(10, 10 ** 6)"),
    ("int(1e300)", "bad-expression", "this number is too large", "int(1e300)"),
    ("1 + 1e308 * 10", "bad-argument", "not a finite number", "1e308 * 10"),
    ("1e400", "bad-argument", "not a finite number", "1e400"),
    ("pow(2.5, 10000)", "bad-expression", "not a finite number", "pow(2.5, 10000)"),
    ("1 if same else 2", "unknown-name", "unknown name 'same'", "same"),
    ("1 if 'same' else 2", "bad-expression",
     "a condition must be true, false or a number, got the word 'same'", "'same'"),
    ("1 < 'a'", "bad-expression", "'<' needs numbers, got the word 'a'", "'a'"),
    ("mode == same", "unknown-name", "unknown name 'same'", "same"),
    ("not wide", "unknown-name", "unknown name 'wide'", "wide"),
    ("-wide", "unknown-name", "unknown name 'wide'", "wide"),
])
def test_errors_point_at_the_smallest_span(text, code, message, at):
    diag = failure(text, {"mode": "same"})
    assert (diag.code, diag.message, span_text(diag)) == (code, message, at)


def test_hints_suggest_from_the_function_table_and_the_names_in_scope():
    assert failure("mx(8, 16)").hint == "did you mean 'max'?"
    assert failure("frobnicate(1)").hint.startswith("the functions are abs, ceil, float, floor")
    assert failure("plnes * 2", {"planes": 8}).hint == "did you mean 'planes'?"
    assert failure("max * 2").hint == "max is a function: call it, e.g. max(a, b, ...)"
    assert failure("classes * 2").hint == "set `classes:` in the model to use it"
    assert failure("round(2.5, 1, 3)").hint == "write round(x) or round(x, ndigits)"


def test_the_caret_marks_the_argument():
    text = render_text([failure("max(8, sqrt(-4))")])
    assert "Conv(max(8, sqrt(-4)))\n      |                  ^^" in text


def test_huge_numbers_are_refused_at_once():
    start = time.perf_counter()
    for text in ("pow(10, 10 ** 50)", "10 ** 10 ** 50", "pow(7, 999999999999999999999)",
                 "round(5, -10 ** 50)", "pow(1.5, 10 ** 50)", "(10 ** 59) ** (10 ** 59)"):
        try:
            value(text)
        except ArchError:
            pass
    assert time.perf_counter() - start < 1.0
    assert value("round(5, -10 ** 50)") == 0
    assert value("pow(-1, 10 ** 50)") == 1


# --- names and words ----------------------------------------------------------------------------

def diags(text: str, **kw):
    with pytest.raises(ArchError) as err:
        archdsl.load(text, **kw)
    return [(d.code, d.message, span_text(d)) for d in err.value.diagnostics]


def test_an_unknown_name_is_an_error_at_its_position_unless_the_argument_takes_the_word():
    assert diags("Conv(in_channels, 3, g=in_channels)", input="3x8x8") == [
        ("unknown-name", "unknown name 'in_channels'", "in_channels")] * 2
    assert diags("Conv(64, 3, p=foo)", input="3x8x8") == [
        ("unknown-name", "unknown name 'foo'", "foo")]
    assert archdsl.load("Conv(auto, 3, p=same)", input="3x8x8").layers()[0].ann.out_shape == \
        (32, 8, 8)
    # a near-miss of a word the layer takes keeps the message that lists what it takes
    assert diags("Conv(64, 3, p=sam)", input="3x8x8")[0][0] == "bad-argument"
    # words may be chosen by a conditional; an unknown one is found in either branch
    assert archdsl.load("Conv(8, 4, p=same if 4 % 2 else valid)", input="3x8x8") \
        .layers()[0].ann.out_shape == (8, 5, 5)
    assert diags("Conv(8, 3, p=same if true else vaild)", input="3x8x8") == [
        ("unknown-name", "unknown name 'vaild'", "vaild")]
    assert diags("Conv(8, 3, p=same if true else other)", input="3x8x8") == [
        ("unknown-name", "unknown name 'other'", "other")]


BLOCK = """
block Unit(c, pad=same, mode="dw") {{
  Conv(c, 3, p=pad) - ReLU
}}
model Net {{
  input: 3x32x32
  {}
}}
"""


def test_a_word_given_to_a_block_must_be_one_some_layer_takes():
    assert len(archdsl.load(BLOCK.format("Unit(8, pad=valid)")).layers()) == 2
    assert diags(BLOCK.format("Unit(in_channels, pad=valid)")) == [
        ("unknown-name", "unknown name 'in_channels'", "in_channels")]
    assert diags(BLOCK.format("Unit(8, mode=dw)")) == [("unknown-name", "unknown name 'dw'",
                                                        "dw")]
    assert diags(BLOCK.format("Unit(8, pad=sane)"))[0][0] == "unknown-name"
    # the failed argument is not also reported missing
    assert len(diags(BLOCK.format("Unit(chanels)"))) == 1


def test_an_unknown_repeat_count_is_an_unknown_name():
    assert diags("block B(n) { ReLU x m }\nmodel Net {\n  input: 3x8x8\n  B(2)\n}") == [
        ("unknown-name", "unknown name 'm'", "m")]


@pytest.mark.parametrize("word", ["if", "else", "and", "or", "not"])
def test_a_keyword_cannot_name_a_parameter_or_a_block(word):
    got = diags(f"block B({word}) {{ ReLU }}\nmodel Net {{\n  input: 3x8x8\n  B(1)\n}}")
    assert got[0][0] == "bad-name" and word in got[0][1]
    got = diags(f"block {word}(c) {{ ReLU }}\nmodel Net {{\n  input: 3x8x8\n  ReLU\n}}")
    assert got[0][0] == "bad-name"


def test_math_cannot_name_a_parameter():
    got = diags("block B(math) { ReLU }\nmodel Net {\n  input: 3x8x8\n  B(1)\n}")
    assert got[0][:2] == ("bad-name", "block B: 'math' cannot name a block parameter: the "
                          "generated Python code uses that name")


@pytest.mark.parametrize(("text", "code"), [
    ("Conv(1 if 2)", "syntax-error"), ("Conv(1 < < 2)", "syntax-error"),
    ("Conv(not)", "syntax-error"), ("Conv(max(1,))", "syntax-error"),
])
def test_malformed_expressions_are_syntax_errors(text, code):
    assert diags(text, input="3x8x8")[0][0] == code


# --- printing and parsing back; symbolic values -------------------------------------------------

GEN = SourceFile("<generated>", "")
SPAN = GEN.span(0, 0)
ENV = {"a": 7, "b": 3, "c": 0.5, "d": 12}
SYMBOLIC = {"a": Sym.name(7, "a", 1), "b": Sym.name(3, "b", 2), "c": SymFloat(0.5, "c"),
            "d": Sym.name(12, "d", 3)}
COMPARISONS = ("<", "<=", "==", "!=", ">=", ">")


def expressions(depth: int):
    leaves = st.one_of(
        st.integers(0, 20).map(lambda v: ast.Num(v, SPAN)),
        st.sampled_from([0.5, 2.25, 1e-3, 3.0, 1e16]).map(lambda v: ast.Num(v, SPAN)),
        st.sampled_from(sorted(ENV)).map(lambda n: ast.Name(n, SPAN)),
        st.sampled_from(["true", "false"]).map(lambda n: ast.Name(n, SPAN)))
    if depth == 0:
        return leaves
    sub = expressions(depth - 1)
    return st.one_of(
        leaves,
        st.builds(lambda op, a, b: ast.BinOp(op, a, b, SPAN),
                  st.sampled_from(["+", "-", "*", "/", "//", "%", "**"]), sub, sub),
        sub.map(lambda a: ast.Neg(a, SPAN)),
        st.builds(lambda a, b, c: ast.IfElse(a, b, c, SPAN), sub, sub, sub),
        st.builds(lambda first, pairs: ast.Compare(first, tuple(p[0] for p in pairs),
                                                   tuple(p[1] for p in pairs), SPAN),
                  sub, st.lists(st.tuples(st.sampled_from(COMPARISONS), sub), min_size=1,
                                max_size=3)),
        st.builds(lambda op, a, b: ast.BoolOp(op, a, b, SPAN), st.sampled_from(["and", "or"]),
                  sub, sub),
        sub.map(lambda a: ast.Not(a, SPAN)),
        st.builds(lambda name, args: ast.Call(name, tuple(args), SPAN),
                  st.sampled_from(sorted(FUNCTIONS)), st.lists(sub, min_size=1, max_size=3)),
    )


def outcome(expr: ast.Expr, env: dict):
    try:
        result = evaluate(expr, env)
    except ArchError as err:
        return ("error", err.diagnostics[0].code, err.diagnostics[0].message)
    return ("value", type(plain(result)).__name__, plain(result))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(3))
def test_expressions_print_and_parse_back_to_the_same_value(expr):
    text = expr_text(expr)
    again = parsed(text)
    assert expr_text(again) == text
    assert outcome(again, ENV) == outcome(expr, ENV), text


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(3))
def test_symbolic_values_render_as_python_computing_the_same_value(expr):
    concrete = outcome(expr, ENV)
    symbolic = outcome(expr, SYMBOLIC)
    assert symbolic == concrete, expr_text(expr)
    if concrete[0] != "value":
        return
    result = evaluate(expr, SYMBOLIC)
    if not is_symbolic(result):
        return
    source = render_value(result)
    got = python(source, ENV)
    assert (type(got).__name__, got) == concrete[1:], (expr_text(expr), source)


def test_symbolic_rendering_reads_like_the_spec():
    w = SYMBOLIC["a"]
    assert render_value(value("max(8, int(a * 0.25))", SYMBOLIC)) == "max(8, int(a * 0.25))"
    assert render_value(value("ceil(a * c) + 1", SYMBOLIC)) == "math.ceil(a * c) + 1"
    assert render_value(value("a if a > 8 else 8", SYMBOLIC)) == "a if a > 8 else 8"
    assert render_value(value("2 * (a if b else d)", SYMBOLIC)) == "2 * (a if b else d)"
    assert render_value(value("(a + b) ** 2", SYMBOLIC)) == "(a + b) ** 2"
    assert render_value(value("-a ** 2", SYMBOLIC)) == "-a ** 2"
    assert render_value(value("max(a, 8) + max(b, 8)", SYMBOLIC)) == \
        "max(a, 8) + max(b, 8)"  # equal values, different expressions: two terms
    assert render_value(value("int(a * 0.25)", SYMBOLIC), "self.") == "int(self.a * 0.25)"
    assert value("max(a, 8)", SYMBOLIC).names() == {"a"} and int(w) == 7


# --- generated code -----------------------------------------------------------------------------

SPEC = """
block MBConv(c, expand=4, se=0.25, w=max(8, int(c * expand + 4) // 8 * 8)) {
  Conv(w if w >= 0.9 * (c * expand) else w + 8, 1) - BN - ReLU
  Conv(max(1, int(c * se)), 3, p=same) - BN - ReLU
  Conv(ceil(c * 1.5), 1) - BN
  Conv(c if c > 20 and not c == 33 else c * 2, 1)
}
model Net {
  input: 3x32x32
  classes: 10
  Conv(24, 3, p=1)
  MBConv(24) - MBConv(16, expand=6) - MBConv(40, se=0.5)
  GAP - FC(classes)
}
"""


def test_functions_in_a_block_compile_to_readable_python_that_runs():
    model = archdsl.load(SPEC)
    source = archdsl.compile(SPEC)
    assert "\nimport math\n" in source
    for line in ("            w = max(8, int(c * expand + 4) // 8 * 8)",
                 "nn.Conv2d(in_channels, w if w >= 0.9 * (c * expand) else w + 8, 1, "
                 "bias=False)",
                 "nn.BatchNorm2d(max(1, int(c * se)))",
                 "nn.Conv2d(max(1, int(c * se)), math.ceil(c * 1.5), 1, bias=False)",
                 "nn.Conv2d(math.ceil(c * 1.5), c if c > 20 and not c == 33 else 2 * c, 1)"):
        assert line in source, line
    assert source.count("class MBConv") == 1  # one class serves the three instances
    net = archdsl.build(SPEC)
    assert sum(p.numel() for p in net.parameters()) == model.totals.params
    assert f"{model.totals.params:,} parameters" in source
    import torch

    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_an_unknown_function_is_refused_where_it_is_written():
    """Even in a default no call uses: generated code writes defaults out, so only the table's
    functions may ever reach it."""
    text = 'block B(c, w=exec("import os")) { ReLU }\nmodel Net {\n  input: 3x8x8\n  B(1, w=2)\n}'
    assert diags(text) == [("unknown-function", "unknown function 'exec'", "exec")]


def test_a_keyword_before_equals_is_explained():
    with pytest.raises(ArchError) as err:
        archdsl.load("Conv(8, not=3)", input="3x8x8")
    assert err.value.diagnostics[0].hint == \
        "'not' is a keyword of expressions; it cannot name an argument"
