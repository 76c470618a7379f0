"""The fast parser (archdsl/syntax/fastparse.py) against Lark, the reference parser.

- Every zoo spec, block library (the layer strings of YAML ones too), the prelude and the examples
  take the fast path (it does not give up) and give the same AST as Lark, spans included.
- Tricky strings, the diagnostics corpus, every string constant in the test suite, generated
  programs and random edits of them: whenever the fast parser returns items, Lark accepts the
  text and builds the same AST (or the shared post-processing rejects both the same way);
  whenever Lark rejects the text, the fast parser has given up.
- The terminals copied into fastparse still match the grammar, and reading valid specs does not
  import Lark.
"""

from __future__ import annotations

import ast as pyast
import dataclasses
import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archdsl
from archdsl.diagnostics import ArchError
from archdsl.source import SourceFile, Span
from archdsl.syntax import errors, fastparse, parser, yaml_spec
from conftest import ROOT

sys.path.insert(0, str(ROOT))
from fuzz.strategies import mutations, token_soups  # noqa: E402

ARCH_FILES = sorted((ROOT / "specs").rglob("*.arch")) + [ROOT / "archdsl" / "prelude.arch"] + \
    sorted((ROOT / "examples").rglob("*.arch"))
YAML_FILES = sorted((ROOT / "specs").rglob("*.yaml"))
CORPUS = sorted(p for p in (ROOT / "tests" / "diagnostics").rglob("*")
                if p.suffix in (".arch", ".txt")) + \
    sorted((ROOT / "tests" / "golden").rglob("*.arch"))


def dump(node):
    """A comparable form of an AST: spans as offsets (`Span` compares by identity)."""
    if isinstance(node, Span):
        return ("Span", node.file.name, node.start, node.end)
    if isinstance(node, SourceFile):
        return ("SourceFile", node.name, node.text)
    if dataclasses.is_dataclass(node):
        return (type(node).__name__, *((f.name, dump(getattr(node, f.name)))
                                       for f in dataclasses.fields(node)))
    if isinstance(node, (tuple, list)):
        return tuple(dump(x) for x in node)
    return (type(node).__name__, repr(node))  # 1 and 1.0 (and 0.0 and -0.0) differ


def diagnostics(err: ArchError) -> list:
    return [(d.code, d.message, dump(d.span)) for d in err.diagnostics]


def outcome(build):
    try:
        return dump(build())
    except ArchError as err:
        return diagnostics(err)


def agree(text: str) -> str:
    """Compare the two parsers on `text`: 'fast' (same AST, or the same post-processing error),
    'bail' (the fast parser gave up); fails the test on any disagreement."""
    src = SourceFile("<test>", text)
    items = fastparse.parse_items(src)
    reference = outcome(lambda: parser.parse_source_lark(src))
    if items is None:
        return "bail"
    fast = outcome(lambda: parser._Builder(src).program(items))
    assert fast == reference, f"the parsers disagree on {text!r}"
    return "fast"


@pytest.fixture
def no_fallback(monkeypatch):
    """Fail if anything falls back to Lark."""
    def refuse(source):
        pytest.fail(f"the fast parser gave up on {source.name}: {source.text[:200]!r}")
    monkeypatch.setattr(parser, "parse_source_lark", refuse)


# --- the zoo: fast path taken, same AST ---------------------------------------------------------


@pytest.mark.parametrize("path", ARCH_FILES, ids=lambda p: p.name)
def test_arch_files_take_the_fast_path_and_agree_with_lark(path, monkeypatch):
    text = path.read_text(encoding="utf-8")
    reference = dump(parser.parse_source_lark(SourceFile(path.name, text)))
    monkeypatch.setattr(parser, "parse_source_lark", lambda s: pytest.fail("fell back to Lark"))
    assert dump(parser.parse_text(text, path.name)) == reference


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
def test_yaml_layer_strings_take_the_fast_path_and_agree_with_lark(path, monkeypatch):
    text = path.read_text(encoding="utf-8")
    with monkeypatch.context() as m:
        m.setattr(yaml_spec, "parse_source", parser.parse_source_lark)
        reference = dump(yaml_spec.parse_yaml(text, path.name))
    parsed = []
    real = fastparse.parse_items
    monkeypatch.setattr(fastparse, "parse_items", lambda s: parsed.append(s) or real(s))
    monkeypatch.setattr(parser, "parse_source_lark", lambda s: pytest.fail("fell back to Lark"))
    assert dump(yaml_spec.parse_yaml(text, path.name)) == reference
    assert parsed, "no layer string went through the parser"


def walk(node):
    """Every AST node under `node` (spans not entered)."""
    yield node
    if dataclasses.is_dataclass(node) and not isinstance(node, Span):
        for f in dataclasses.fields(node):
            yield from walk(getattr(node, f.name))
    elif isinstance(node, (tuple, list)):
        for item in node:
            yield from walk(item)


@pytest.mark.parametrize("lark", [False, True], ids=["fast", "lark"])
def test_derived_spans_point_at_the_written_names(lark):
    """`Layer.name_span` and `Arg.key_span` are worked out from the node's span (not stored, to
    keep a layer's objects few): on both parsers they must cover exactly the name written."""
    parse = parser.parse_source_lark if lark else parser.parse_source
    texts = [p.read_text(encoding="utf-8") for p in ARCH_FILES] + VALID
    layers = args = 0
    for text in texts:
        for node in walk(parse(SourceFile("<test>", text))):
            if isinstance(node, archdsl.syntax.ast.Layer):
                assert node.name_span.text == node.name, text
                layers += 1
            elif isinstance(node, archdsl.syntax.ast.Arg) and node.key is not None:
                assert node.key_span.text == node.key, text
                args += 1
            elif isinstance(node, archdsl.syntax.ast.Arg):
                assert node.key_span is None
    assert layers > 500 and args > 50, (layers, args)


def test_the_fast_parser_shares_spans_that_cover_the_same_text():
    """An element without a repeat and its layer, a positional argument and its value: one
    span object each (fewer objects per layer for the garbage collector to walk)."""
    chain, = fastparse.parse_items(SourceFile("<test>", "Conv(8, 3, p=1)-ReLU x 2"))
    conv, relu = chain.elements
    assert conv.span is conv.unit.span
    assert relu.span is not relu.unit.span and relu.span.text == "ReLU x 2"
    eight, three, pad = conv.unit.args
    assert eight.span is eight.value.span and three.span is three.value.span
    assert pad.span.text == "p=1" and pad.value.span.text == "1"


def test_loading_the_whole_zoo_never_falls_back(no_fallback):
    for name in archdsl.zoo():
        archdsl.loader.read_spec(name)


# --- tricky strings -----------------------------------------------------------------------------

# Each must take the fast path and agree with Lark.
VALID = [
    # repeats
    "Bottleneck(64) x 3", "Conv x3", "Conv ×3", "Conv × 3", "Conv x(n+1)", "Conv x (n - 1)",
    "Conv x n", "Conv xn", "Conv xx", "Conv xception", "x3 - ReLU", "x - x", "[A] x 2 - B",
    'DenseLayer(32) x 6 as "denselayer{i+1}"', "Conv x 2 as 'n{i}'", 'Conv x 2 as"n"',
    'Conv x (2) as "n"', "Conv:1x3", "A x 2 (SM)", "A x2(SM)",
    # VGG tokens, labels, stages
    "conv3-64 - ReLU", "CONV3-64", "fc-4096", "FC-4096(10)", "soft-max", "Soft-Max", "FC-FC",
    "conv3-64:a", "conv3-64[A]", "Conv:1", "Conv:1(6, 5)", 'Conv:"a b"', "Conv:'a'(3)", "Conv:x",
    "Conv:as", "Conv :1", "Conv:007", "A - Conv: 1", "A - Conv:\n1", "Conv:\f1", "layer1: Conv",
    "layer1:\tConv", "layer1:\nConv", "a: b: C", "(layer1: A)", "model: Conv", "use:\nA",
    # settings
    "input: 3x224x224", "input: 3 × 32 × 32", "input:3x32x32", "input \t: 3x32", "input: 3",
    "classes: -1", "classes: - 1", "classes: -\n1", "classes: 1e3", "seed: .5", "seed: 1.",
    "seed: -1.5e-3", "seed: -0", "seed: -0.0", "freeze: [conv1, bn1]", "outputs: [main, aux]",
    "head: FC(2)", "init: kaiming", "transform_input: true", "inputs: [A]", "input_x: Conv",
    "head: layer1: X", "input: 3x32x32\nclasses: 10\nConv(8, 3) - ReLU - GAP - FC(classes)",
    # groups, optionals
    "[a, b]", "[conv3-64 - ReLU] x 2 - maxpool", "Inception(64)[A, B]", "Inception(64 )[A]",
    "Inc()[A]", "Aux:aux1[ InceptionAux(classes) ]", "Add[Conv - BN, Shortcut]", "Concat [A, B]",
    "[A\nB]", "[A\n B, C\n D]", "[\nA,\nB\n]", "[A\n, B]", "[layer1: A, b: C - D]", "[input: A]",
    "A:b(1)[C]", "A:b [C]", 'A:"b"[C]', "(Dropout)", "FC-FC (SM)", "FC-FC(SM)", "FC - (SM)",
    "(A) x 2", "(A)(B)", "Conv(1)(SM)", "(A\n- B)", '"Conv-ReLU"', "'a' - \"b\"", '"a" x 2',
    "Conv(1) - (ReLU) x 2 - (BN)", "A - (B - C) x 3 (D)",
    # line breaks, comments, whitespace
    "A\n- B", "A -\nB", "A\n\n- B", "A\n# c\n- B", "A # c\n- B", "A\n  # - c\nB", "A\r\nB",
    "A\r\n- B", "A \r\nB", "A\n \r\nB", "\n\nA\n\n", "# only a comment", "", "\n", "A\n",
    "A\t-\tB", "A\f- B", "Conv(3,\n4)", "Conv(\n3)", "Conv(3\n)", "A(1\n, 2)", "A[\n  B\n]",
    "A[B\n# c\n]", "A[B # c\n]", "Conv-\n\n# c\n\nReLU", "A\n\t\n\t\nB", "A # c\r\nB",
    "A - B\nC - D\n  E", "A -\n  B\n  - C",
    # arguments and expressions
    "Conv(a=1, b = 2)", "Conv(a =\n1)", "Conv(-1)", "Conv(- - 1)", "Conv(+3)", "Conv(+ - 1)",
    "Conv(a + b * c - d // e % f / g)", "Conv((a + b) * c)", "Conv((a, b))", "Conv((a,))",
    "Conv(1e-3)", "Conv(.5)", "Conv(1.)", "Conv(1e999)", "Conv(\"x\", 'y')", "Conv(a, (1, 2, 3))",
    "Conv()", "Conv(a * -b)", "Conv(a - -b)", "Conv(-(a))", "Conv(+(a))", "Conv(((a)))",
    "Conv(a+(b))", "Conv((a)+b)", "Conv(x=same)", "Conv(p=(k - 1) // 2)", "Conv(007)",
    "Conv(s=stride, p=1, g=groups)", "Conv(p=(s - 1 + k - 1) // 2, g=g, bias=false)",
    # definitions and keywords
    "model Net {\n  Conv\n}", "model Net { Conv }", "model Net {}", "model Net {\n}",
    "model Net { model - ReLU }", "model Net { block }", "model model { A }", "block model { A }",
    'use "x.arch"', "use 'x.arch'\nA", "block B { A }",
    "block B(c, s=1) {\n  Conv(c, 3, s=s)\n}\nmodel M {\n B(3)\n}", "block B() { A }",
    "block B (c) { A }", "block B(c=1+2*3, d=-1) { A }",
    "model Net {\n  input: 3x32x32\n  classes: 10\n\n  Conv(8, 3, p=1) - ReLU\n  GAP - FC\n}",
    "model Net {\n  features: [\n    A\n    B\n  ]\n  C\n}",
    "model A { X }\nmodel B { Y }\n",
]

# Lark rejects each; the fast parser must give up (and Lark gives the diagnostics).
INVALID = [
    "Conv x3x", "Conv x 2 as", "Conv x 2 as\n\"n\"", "Conv x 2 asx \"n\"", "Conv x\n3",
    "Conv x 2 ab \"n\"", "Conv x 2 a \"n\"", "Conv x 2 \"n\"",
    "Conv x 3.5", "A x (a, b)", "conv3-64x", "Conv:1:2", "Conv:1.5", "Conv(3):1", "Conv: 1",
    "input: 3x", "input: 3x3.5", "classes: 10\n-1", "seed: 3e", "[]", "[A,]", "FC (SM) - ReLU",
    "Conv (3)",
    '"conv"(3)', "(A - [B\nC])", "A\rB", "A\x0bB", "Conv((a, b,))", "Conv(())", "Conv(a=<1)",
    "Conv(-a=1)", "Conv(a + b = 1)", "Conv(1,)", "Conv(f(3)(4))", "Conv(3x)", "Conv(not)",
    "Conv(a if b)", "Conv(a * * b)", "Conv(a < b x)", "Conv(a / / b)",
    "model Net\n{ Conv }", "model\nNet { A }", "model - ReLU", "model:x", "use - ReLU",
    "block B(c,) { A }", "model A { Conv } model B { X }", "A\n)", "A)", "A]", "A}", "{A}",
    "Conv\u2013ReLU", "Conv\u00a0- ReLU", "\ufeffConv", "Conv - é", "×",
]

# Lark accepts each, but the fast parser gives up by design (Lark then reports the errors or,
# for deep nesting, applies its depth limit).
BAILS = [
    "block B(c) { input: 3 }",  # setting-in-block: Lark's path reports it
    "Conv(" + "9" * 61 + ")", "Conv:" + "9" * 70, "Conv x " + "9" * 61,  # bad-number
    "Conv(" + "(" * 30 + "1" + ")" * 30 + ")", "[" * 30 + "A" + "]" * 30,  # nesting
    "Conv(" + "+".join(["1"] * 40) + ")", "Conv(" + "-" * 40 + "1)",
    # the expression syntax the fast parser leaves to Lark
    "Conv(a==1)", "Conv(f(3))", "Conv(max (8, c))", "Conv(a if b else c)", "Conv(not a)",
    "Conv(2 ** 3)", "Conv(a < b <= c)", "Conv(a and b or c)", "Conv(if)", "Conv(3 - not)",
    "block B(c, w=ceil(c * 0.5)) { Conv(w) }",
]


@pytest.mark.parametrize("text", VALID)
def test_tricky_valid_strings_take_the_fast_path(text):
    assert agree(text) == "fast"


@pytest.mark.parametrize("text", INVALID)
def test_text_lark_rejects_makes_the_fast_parser_give_up(text):
    with pytest.raises(ArchError):
        parser.parse_source_lark(SourceFile("<test>", text))
    assert agree(text) == "bail"


@pytest.mark.parametrize("text", BAILS, ids=range(len(BAILS)))
def test_the_fast_parser_gives_up_on_what_it_does_not_check(text):
    assert agree(text) == "bail"


def test_post_processing_errors_are_shared():
    for text, code in [("model A { X }\nmodel A { Y }", "duplicate-model"),
                       ("model A { X }\nY", "mixed-top-level")]:
        assert agree(text) == "fast"
        with pytest.raises(ArchError) as err:
            parser.parse_text(text)
        assert err.value.diagnostics[0].code == code


def test_keywords_are_names_except_where_lark_expects_a_keyword():
    body = parser.parse_text("model Net { model - block - use }").models[0].body
    assert [e.unit.name for e in body[0].elements] == ["model", "block", "use"]
    assert parser.parse_text("model: Conv").models[0].body[0].label == "model"


# --- everything else we have: corpus, test strings, generated programs -----------------------


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(ROOT / "tests")))
def test_diagnostics_corpus_agrees(path):
    agree(path.read_text(encoding="utf-8", errors="replace"))


def test_every_string_in_the_test_suite_agrees():
    strings = set()
    for path in [*sorted((ROOT / "tests").glob("*.py")), ROOT / "fuzz" / "strategies.py"]:
        for node in pyast.walk(pyast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, pyast.Constant) and isinstance(node.value, str):
                strings.add(node.value)
    outcomes = [agree(s) for s in sorted(strings) if len(s) < 5000]
    assert outcomes.count("fast") > 300  # the suite's specs, not only its other strings


# Pieces of programs, covering the grammar's corners; the generator below nests and joins them.
ELEMENTS = [
    "Conv", "ReLU", "conv3-64", "FC-4096(10)", "soft-max", "x3", "as", "model", "input", "head",
    "Conv(64, 3, s=2, p=1)", "Conv:1(6, 5)", "Conv:conv1(c, k=(1, 7))", "BN:'b{i}'", 'Conv:"c"',
    "Conv x 3", "Conv×2", "B(n) x n", "Conv x(n + 1)", 'D(32) x 6 as "d{i+1}"', "Conv x2 as's'",
    "Conv(p=(k - 1) // 2)", "B((1, 2), -a, +b * c % d)", "B((a,), 1e-3, .5, 2., 'same')",
    "B(a - -b, s=-(1), g=+x)", "Conv(\n  64,\n  3)", "(Dropout)", "(SM) x 2", '"Conv-ReLU"',
    "Conv:1x3", "FC (SM)", "FC(SM)", "A:b(1)", "Inc()", "Conv(007)", "Conv()",
]
JOINS = [" - ", "-", "\n- ", " -\n  ", " - # c\n", "\n  - ", " -\n\n"]
GAPS = ["", " ", " ", "\t", "\n", " \n ", "\n\n", " # c\n", "\r\n"]
STAGES = ["", "", "", "s1: ", "layer1:\t", "stage:\n  "]
SETTINGS = ["input: 3x224x224", "input: 3 × 32 × 32", "input:1x28x28", "classes: 10", "seed: -1",
            "seed: - 2e3", "seed: .5", "freeze: [conv1]", "outputs: [main, aux]", "head: FC(2)",
            "init: kaiming", "classes :\n  10"]
HEADS = ["", "", "Add", "Concat ", "Aux:aux1", "Inception(64)", "B:b(1, s=2) "]


@st.composite
def chains(draw, depth=0):
    def element():
        if depth < 2 and draw(st.integers(0, 3)) == 0:
            branches = draw(st.lists(statements(depth + 1), min_size=1, max_size=2))
            joined = ("," + draw(st.sampled_from(GAPS))).join(branches)
            return f"{draw(st.sampled_from(HEADS))}[{joined}]" + \
                draw(st.sampled_from(["", "", " x 2", "x(n)"]))
        return draw(st.sampled_from(ELEMENTS))

    text = element()
    for _ in range(draw(st.integers(0, 2))):
        text += draw(st.sampled_from(JOINS)) + element()
    return text


@st.composite
def statements(draw, depth=0):
    chain = draw(chains(depth))
    return draw(st.sampled_from(STAGES)) + chain + \
        draw(st.sampled_from(["", "", "\n" + draw(chains(depth))]))


@st.composite
def programs(draw):
    """Programs built from the grammar's pieces with odd spacing: mostly valid."""
    def body():
        items = draw(st.lists(st.one_of(statements(), st.sampled_from(SETTINGS)), max_size=3))
        return draw(st.sampled_from(["\n", "\n\n", "\n # c\n"])).join(items)

    items = []
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.integers(0, 4))
        if kind == 0:
            name = draw(st.sampled_from(["Net", "model"]))
            items.append(f"model {name} {{{draw(st.sampled_from(GAPS))}{body()}\n}}")
        elif kind == 1:
            params = draw(st.sampled_from(["", "()", "(c)", "(c, s=1)", " (c=1 + 2 * 3, d=-1)",
                                           "(c,\n s)"]))
            items.append(f"block B{params} {{\n{body()}\n}}")
        elif kind == 2:
            items.append(draw(st.sampled_from(['use "blocks/x.arch"', "use 'y.yaml'"])))
        else:
            items.append(draw(st.one_of(statements(), st.sampled_from(SETTINGS))))
    return draw(st.sampled_from(["\n", "\n\n", "\r\n", "\n# c\n"])).join(items) + \
        draw(st.sampled_from(["", "\n"]))


NOISE = list("-,()[]{}:=x×\"'#\n \t+*/%.09asm") + ["\r\n", "as ", " x ", "model ", "\n-"]


@st.composite
def edited(draw, texts):
    """A text with a few characters deleted or inserted."""
    text = draw(texts)
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(0, len(text)))
        if text and draw(st.booleans()):
            text = text[:pos] + text[pos + draw(st.integers(1, 3)):]
        else:
            text = text[:pos] + draw(st.sampled_from(NOISE)) + text[pos:]
    return text


ZOO_TEXTS = [p.read_text(encoding="utf-8") for p in ARCH_FILES]
PROPERTY = settings(deadline=None, database=None, max_examples=200,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY
@given(st.one_of(edited(programs()), edited(st.sampled_from(ZOO_TEXTS)),
                 st.sampled_from(ZOO_TEXTS).flatmap(mutations), token_soups()))
def test_edited_programs_agree(text):
    agree(text)


def test_generated_programs_agree_and_are_mostly_valid():
    outcomes = []

    @PROPERTY
    @given(programs())
    def run(text):
        outcomes.append(agree(text))

    run()
    # the generator is worth something only if the fast path takes much of what it makes
    assert outcomes.count("fast") > len(outcomes) // 4


# --- the copy of the grammar and the cost of importing ------------------------------------------


def test_the_fast_parsers_terminals_are_the_grammars():
    grammar = parser.grammar_text()
    for name in ["SETTING_KEY", "STAGE", "VGG_TOKEN", "SHAPE", "NAME", "INT", "FLOAT", "STRING",
                 "_NL"]:
        definition = re.search(rf"^{name}(\.\d+)?:(.*(\n +\|.*)*)", grammar, re.M).group(2)
        alternatives = re.findall(r"/(.*?)/(i?)(?=\s*(?:\||$))", definition)
        ours = getattr(fastparse, name.lstrip("_"))
        assert ours.pattern == "|".join(regex for regex, _ in alternatives), name
        assert bool(ours.flags & re.IGNORECASE) == any(flag for _, flag in alternatives), name
    assert fastparse.MAX_DIGITS == errors.MAX_NUMBER_DIGITS
    assert 5 * fastparse.MAX_NEST + 20 < errors.MAX_TREE_DEPTH  # it gives up well before Lark


def test_reading_a_valid_spec_does_not_import_lark():
    code = ("import sys\nfrom archdsl.syntax.parser import parse_text\n"
            "parse_text(open('specs/resnet50.arch').read())\nprint('lark' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False"]


def test_a_syntax_error_still_gets_larks_diagnostic():
    with pytest.raises(ArchError) as err:
        parser.parse_text("Conv(64, 3) - - ReLU")
    assert err.value.diagnostics[0].code == "syntax-error"
