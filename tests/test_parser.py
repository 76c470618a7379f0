"""The one parser (archdsl/syntax/parser.py: the Lark grammar, the AST built during the parse),
its cache of parsed ASTs (archdsl/syntax/cache.py) and the settings table the grammar derives
from.

- Tricky strings give the ASTs in tests/golden/parser/tricky.txt, spans included (written by the
  parser this one replaced, Lark's tree with `propagate_positions`, so the spans built from
  tokens are the same); names and keywords get spans that cover exactly what was written.
- The zoo, the prelude and the examples parse, and read back from the AST cache as the same AST
  bound to the caller's source; a hit imports neither Lark nor PyYAML.
- Errors keep their order: a syntax error anywhere before `too-deep`, `too-deep` before what the
  AST builder finds (`bad-number`, `setting-in-block`); the depth counted during the parse is
  Lark's tree depth.
- The cache is safe: corrupt, foreign or planted files are misses, and ARCHDSL_NO_CACHE=1 is off.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import os
import pickle
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archdsl
from archdsl.diagnostics import ArchError
from archdsl.settings import SETTING_KEYS, SETTINGS
from archdsl.source import SourceFile, Span
from archdsl.syntax import ast, cache, errors, parser
from conftest import ROOT, check_golden

ARCH_FILES = sorted((ROOT / "specs").rglob("*.arch")) + [ROOT / "archdsl" / "prelude.arch"] + \
    sorted((ROOT / "examples").rglob("*.arch"))
YAML_FILES = sorted((ROOT / "specs").rglob("*.yaml"))


@pytest.fixture
def no_cache(monkeypatch):
    monkeypatch.setenv("ARCHDSL_NO_CACHE", "1")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh cache directory of this test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("ARCHDSL_NO_CACHE", raising=False)
    cache.directory.cache_clear()
    yield tmp_path / "archdsl"
    cache.directory.cache_clear()


def parse(text: str, name: str = "<test>") -> ast.Program:
    """The parser itself, not the cache."""
    return parser._parse(SourceFile(name, text))


def dump(node, indent: str = "") -> str:
    """An AST as indented text: each node with its span as `@start:end`, its other spans
    (`name_span`, ...) and scalar fields inline, the nodes below it indented."""
    if isinstance(node, (tuple, list)):
        return "".join(dump(x, indent) for x in node)
    if not dataclasses.is_dataclass(node):
        return f"{indent}{node!r}\n"
    inline, below = [], []
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, Span):
            at = f"@{value.start}:{value.end}"
            inline.append(at if f.name == "span" else f"{f.name}{at}")
        elif isinstance(value, SourceFile):
            continue
        elif dataclasses.is_dataclass(value) or (isinstance(value, (tuple, list)) and value and
                                                 dataclasses.is_dataclass(value[0])):
            below.append((f.name, value))
        else:
            inline.append(f"{f.name}={value!r}")
    text = f"{indent}{type(node).__name__} {' '.join(inline)}\n"
    for name, value in below:
        text += f"{indent}  .{name}\n" + dump(value, indent + "    ")
    return text


def outcome(text: str) -> str:
    try:
        return dump(parse(text))
    except ArchError as err:
        return "".join(f"error {d.code} @{d.span.start}:{d.span.end}\n" for d in err.diagnostics)


# --- tricky strings ---------------------------------------------------------------------------

TRICKY = [
    # repeats
    "Bottleneck(64) x 3", "Conv x3", "Conv ×3", "Conv × 3", "Conv x(n+1)", "Conv x (n - 1)",
    "Conv x n", "Conv xn", "Conv xx", "Conv xception", "x3 - ReLU", "x - x", "[A] x 2 - B",
    'DenseLayer(32) x 6 as "denselayer{i+1}"', "Conv x 2 as 'n{i}'", 'Conv x 2 as"n"',
    'Conv x (2) as "n"', "Conv:1x3", "A x 2 (SM)", "A x2(SM)", "Conv x ((n))",
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
    # arguments and expressions: `(x)` and `+x` give x, with its own span, to what is around
    "Conv(a=1, b = 2)", "Conv(a =\n1)", "Conv(-1)", "Conv(- - 1)", "Conv(+3)", "Conv(+ - 1)",
    "Conv(a + b * c - d // e % f / g)", "Conv((a + b) * c)", "Conv((a, b))", "Conv((a,))",
    "Conv(1e-3)", "Conv(.5)", "Conv(1.)", "Conv(1e999)", "Conv(\"x\", 'y')", "Conv(a, (1, 2, 3))",
    "Conv()", "Conv(a * -b)", "Conv(a - -b)", "Conv(-(a))", "Conv(+(a))", "Conv(((a)))",
    "Conv(a+(b))", "Conv((a)+b)", "Conv(x=same)", "Conv(p=(k - 1) // 2)", "Conv(007)",
    "Conv(s=stride, p=1, g=groups)", "Conv(p=(s - 1 + k - 1) // 2, g=g, bias=false)",
    "Conv(+a * b)", "Conv(a=(b))", "Conv(a=+(b))", "Conv(((a), +b))",
    # definitions and keywords
    "model Net {\n  Conv\n}", "model Net { Conv }", "model Net {}", "model Net {\n}",
    "model Net { model - ReLU }", "model Net { block }", "model model { A }", "block model { A }",
    'use "x.arch"', "use 'x.arch'\nA", "block B { A }",
    "block B(c, s=1) {\n  Conv(c, 3, s=s)\n}\nmodel M {\n B(3)\n}", "block B() { A }",
    "block B (c) { A }", "block B(c=1+2*3, d=-1) { A }", "block B(c=(1)) { A }",
    "model Net {\n  input: 3x32x32\n  classes: 10\n\n  Conv(8, 3, p=1) - ReLU\n  GAP - FC\n}",
    "model Net {\n  features: [\n    A\n    B\n  ]\n  C\n}",
    "model A { X }\nmodel B { Y }\n",
    # errors, in the order the parser finds them
    "model A { X }\nmodel A { Y }", "model A { X }\nY", "block B(c) { input: 3 }",
    "Conv(" + "9" * 61 + ")", "Conv:" + "9" * 70, "Conv x " + "9" * 61, "input: 3x" + "9" * 61,
    "classes: " + "9" * 61, "Conv(" + "9" * 61 + ") - - ReLU", "Conv(64, 3) - - ReLU",
]


def test_tricky_strings_give_the_reviewed_asts():
    text = "".join(f"=== {t!r}\n{outcome(t)}" for t in TRICKY)
    check_golden(ROOT / "tests" / "golden" / "parser" / "tricky.txt", text)


def walk(node):
    """Every AST node under `node` (spans not entered)."""
    yield node
    if dataclasses.is_dataclass(node) and not isinstance(node, (Span, SourceFile)):
        for f in dataclasses.fields(node):
            yield from walk(getattr(node, f.name))
    elif isinstance(node, (tuple, list)):
        for item in node:
            yield from walk(item)


def test_names_and_keywords_get_spans_that_cover_what_was_written():
    """`Layer.name_span` and `Arg.key_span` are worked out from the node's span (not stored, to
    keep a layer's objects few); settings, stages, models and blocks store theirs."""
    texts = [p.read_text(encoding="utf-8") for p in ARCH_FILES] + TRICKY
    counts = dict.fromkeys(["layer", "arg", "setting", "stage", "definition"], 0)
    for text in texts:
        try:
            program = parse(text)
        except ArchError:
            continue
        for node in walk(program):
            if isinstance(node, ast.Layer):
                assert node.name_span.text == node.name, text
                counts["layer"] += 1
            elif isinstance(node, ast.Arg) and node.key is not None:
                assert node.key_span.text == node.key, text
                counts["arg"] += 1
            elif isinstance(node, ast.Arg):
                assert node.key_span is None
            elif isinstance(node, ast.Setting):
                assert node.key_span.text == node.key, text
                counts["setting"] += 1
            elif isinstance(node, ast.Stage):
                assert node.label_span.text == node.label, text
                counts["stage"] += 1
            elif isinstance(node, (ast.ModelDef, ast.BlockDef)) and not getattr(
                    node, "implicit", False):
                assert node.name_span.text == node.name, text
                assert node.span.text.split()[0] in ("model", "block"), text
                counts["definition"] += 1
    assert counts["layer"] > 500 and counts["arg"] > 50 and min(counts.values()) > 10, counts


def test_spans_that_cover_the_same_text_are_one_object():
    """An element without a repeat and its layer, a positional argument and its value: one
    span object each (fewer objects per layer for the garbage collector to walk; see
    tests/test_ir.py)."""
    chain = parse("Conv(8, 3, p=1)-ReLU x 2").models[0].body[0]
    conv, relu = chain.elements
    assert conv.span is conv.unit.span
    assert relu.span is not relu.unit.span and relu.span.text == "ReLU x 2"
    eight, three, pad = conv.unit.args
    assert eight.span is eight.value.span and three.span is three.value.span
    assert pad.span.text == "p=1" and pad.value.span.text == "1"
    paren, = parse("Conv(((a)))").models[0].body[0].elements[0].unit.args
    assert paren.span.text == "((a))" and paren.value.span.text == "a"


def test_keywords_are_names_except_where_a_keyword_is_expected():
    body = parse("model Net { model - block - use }").models[0].body
    assert [e.unit.name for e in body[0].elements] == ["model", "block", "use"]
    assert parse("model: Conv").models[0].body[0].label == "model"


# --- errors, in order ---------------------------------------------------------------------------


def codes(text: str) -> list[str]:
    with pytest.raises(ArchError) as err:
        parse(text)
    return [d.code for d in err.value.diagnostics]


def test_a_syntax_error_anywhere_comes_before_what_the_builder_finds():
    long = "9" * 70
    assert codes(f"Conv({long}) - - ReLU") == ["syntax-error"]
    assert codes("block B(c) { input: 3 }\nConv - - ReLU") == ["syntax-error"]
    assert codes(f"Conv({long})") == ["bad-number"]
    assert codes("[" * 120 + "A" + "]" * 120 + " - - B") == ["syntax-error"]
    assert codes("[" * 120 + "A" + "]" * 120 + f" - Conv({long})") == ["too-deep"]
    assert codes(f"Conv({long}) - " + "[" * 120 + "A" + "]" * 120) == ["too-deep"]
    # the first found, in the order of the text's nodes (a block's settings after its body)
    assert codes(f"block B(c) {{ input: 3\n Conv({long}) }}") == ["bad-number"]


DEEP = [lambda k: "[" * k + "A" + "]" * k, lambda k: "Conv(" + "(" * k + "1" + ")" * k + ")",
        lambda k: "Conv(" + "+".join(["1"] * k) + ")", lambda k: "Conv(" + "-" * k + "1)",
        lambda k: "Conv(" + "-+" * k + "1)", lambda k: "A - " + "[B - " * k + "C" + "]" * k,
        lambda k: "(" * k + "A" + ")" * k]


@pytest.mark.parametrize("make", DEEP, ids=range(len(DEEP)))
def test_the_depth_counted_while_parsing_is_the_depth_of_larks_tree(make):
    """`too-deep` exactly when Lark's parse tree is more than MAX_TREE_DEPTH levels deep, at
    the place `errors.check_depth` finds in that tree."""
    tree_parser = parser._tree_lark()
    verdicts = set()
    for k in range(10, 110, 3):
        text = make(k)
        src = SourceFile("<test>", text)
        try:
            errors.check_depth(tree_parser.parse(text), src)
            expected = None
        except ArchError as err:
            expected = [(d.code, d.span.start) for d in err.diagnostics]
        try:
            parse(text)
            found = None
        except ArchError as err:
            found = [(d.code, d.span.start) for d in err.diagnostics]
        assert found == expected, text
        verdicts.add(expected is None)
    assert verdicts == {True, False}  # both sides of the limit were tried


def test_a_plus_sign_is_no_level_of_the_tree():
    text = "Conv(" + "+" * 300 + "1)"
    errors.check_depth(parser._tree_lark().parse(text), SourceFile("<test>", text))
    assert parse(text).models[0].body[0].elements[0].unit.args[0].span.text == text[5:-1]
    assert parser.MAX_TREE_DEPTH == errors.MAX_TREE_DEPTH
    assert parser.MAX_DIGITS == errors.MAX_NUMBER_DIGITS


# --- generated programs -------------------------------------------------------------------------

ELEMENTS = [
    "Conv", "ReLU", "conv3-64", "FC-4096(10)", "soft-max", "x3", "as", "model", "input", "head",
    "Conv(64, 3, s=2, p=1)", "Conv:1(6, 5)", "Conv:conv1(c, k=(1, 7))", "BN:'b{i}'", 'Conv:"c"',
    "Conv x 3", "Conv×2", "B(n) x n", "Conv x(n + 1)", 'D(32) x 6 as "d{i+1}"', "Conv x2 as's'",
    "Conv(p=(k - 1) // 2)", "B((1, 2), -a, +b * c % d)", "B((a,), 1e-3, .5, 2., 'same')",
    "B(a - -b, s=-(1), g=+x)", "Conv(\n  64,\n  3)", "(Dropout)", "(SM) x 2", '"Conv-ReLU"',
    "Conv:1x3", "FC (SM)", "FC(SM)", "A:b(1)", "Inc()", "Conv(007)", "Conv()",
]
JOINS = [" - ", "-", "\n- ", " -\n  ", " - # c\n", "\n  - ", " -\n\n"]
GAPS = ["", " ", "\t", "\n", " \n ", "\n\n", " # c\n", "\r\n"]
STAGES = ["", "", "", "s1: ", "layer1:\t", "stage:\n  "]
SETTING_LINES = ["input: 3x224x224", "input: 3 × 32 × 32", "classes: 10", "seed: -1", "seed: .5",
                 "freeze: [conv1]", "outputs: [main, aux]", "head: FC(2)", "classes :\n  10"]
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
    return draw(st.sampled_from(STAGES)) + draw(chains(depth)) + \
        draw(st.sampled_from(["", "", "\n" + draw(chains(depth))]))


@st.composite
def programs(draw):
    """Programs built from the grammar's pieces with odd spacing, a few characters edited."""
    items = []
    for _ in range(draw(st.integers(1, 2))):
        body = "\n".join(draw(st.lists(st.one_of(statements(), st.sampled_from(SETTING_LINES)),
                                       max_size=3)))
        items.append(draw(st.sampled_from([f"model Net {{\n{body}\n}}",
                                           f"block B(c, s=1) {{\n{body}\n}}", body])))
    text = "\n".join(items)
    for _ in range(draw(st.integers(0, 2))):
        pos = draw(st.integers(0, len(text)))
        text = text[:pos] + draw(st.sampled_from(list("-,()[]{}:=x\"'#\n +*"))) + text[pos:]
    return text


@settings(deadline=None, database=None, max_examples=150,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs())
def test_generated_programs_parse_or_give_diagnostics_and_read_back_from_the_cache(text):
    source = SourceFile("<test>", text)
    try:
        program = parser._parse(source)
    except ArchError as err:
        assert err.diagnostics and all(d.span is not None for d in err.diagnostics)
        return
    buffer = io.BytesIO()
    cache._Pickler(buffer, [source]).dump(program)
    again = cache._Unpickler(io.BytesIO(buffer.getvalue()), [source]).load()
    assert dump(again) == dump(program) and again.file is source


# --- the cache of parsed ASTs -------------------------------------------------------------------


@pytest.mark.parametrize("path", ARCH_FILES + YAML_FILES, ids=lambda p: p.name)
def test_shipped_specs_read_back_from_the_cache_as_the_same_ast(path, cache_dir):
    from archdsl import loader

    def read():
        archdsl.clear_caches()
        return loader._parse_cached(path.name, path.read_text(encoding="utf-8"), path.suffix,
                                    archdsl.Limits())

    first, second = read(), read()  # parsed and stored; read back
    assert first is not second and dump(first) == dump(second)
    stored = list((cache_dir / "ast").iterdir())
    assert stored and all(p.suffix == ".pickle" for p in stored)
    spans = [n.span for n in walk(second) if isinstance(getattr(n, "span", None), Span)]
    assert spans and all(s.file is second.file or s.file.origin.outer is second.file
                         for s in spans)


def test_a_hit_binds_spans_to_the_callers_source(cache_dir):
    text = "Conv(8, 3) - ReLU"
    first = parser.parse_text(text, "<a>")
    again = parser.parse_source(src := SourceFile("<a>", text))
    assert again is not first and again.file is src
    spans = [n.span for n in walk(again) if isinstance(getattr(n, "span", None), Span)]
    assert len(spans) > 5 and all(s.file is src for s in spans)
    assert len(list((cache_dir / "ast").iterdir())) == 1
    parser.parse_text(text, "<b>")  # another name: another implicit model name, another entry
    assert len(list((cache_dir / "ast").iterdir())) == 2


def run_python(code: str, env: dict) -> list[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True, env={**os.environ, **env}).stdout.split()


def test_a_spec_read_before_loads_without_lark_or_pyyaml(tmp_path):
    """The point of the cache: a command that reads only specs it has read before never imports
    Lark (nor, for YAML specs, PyYAML and the YAML schema)."""
    code = ("import sys, archdsl\nfor name in ('resnet50', 'densenet121', 'googlenet'):\n"
            "    archdsl.load(name)\nprint(sorted(m for m in ('lark', 'yaml') if m in "
            "sys.modules))\n")
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    assert run_python(code, env) == ["['lark',", "'yaml']"]  # the first time: parsed
    assert run_python(code, env) == ["[]"]
    assert run_python(code, {**env, "ARCHDSL_NO_CACHE": "1"}) == ["['lark',", "'yaml']"]


def test_archdsl_no_cache_reads_and_writes_nothing(cache_dir, monkeypatch):
    monkeypatch.setenv("ARCHDSL_NO_CACHE", "1")
    parser.parse_text("Conv - ReLU")
    assert not (cache_dir / "ast").exists()
    monkeypatch.setenv("ARCHDSL_NO_CACHE", "0")
    parser.parse_text("Conv - ReLU")
    assert len(list((cache_dir / "ast").iterdir())) == 1


def stored(cache_dir) -> list:
    return sorted((cache_dir / "ast").iterdir())


def test_a_corrupt_or_truncated_file_is_a_miss_and_is_replaced(cache_dir):
    text = "Conv(8, 3) - ReLU - FC(10)"
    good = dump(parser.parse_text(text))
    path, = stored(cache_dir)
    data = path.read_bytes()
    for bad in [b"", b"garbage", data[: len(data) // 2], pickle.dumps(["not", "a program"])]:
        path.write_bytes(bad)
        assert dump(parser.parse_text(text)) == good
        assert path.read_bytes() == data  # parsed again and stored again
    assert not [p for p in (cache_dir / "ast").iterdir() if p.suffix != ".pickle"]  # no temps


class Planted:
    def __reduce__(self):
        return os.system, ("echo planted > planted.txt",)


def test_a_planted_pickle_cannot_run_code(cache_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = "Conv - ReLU"
    parser.parse_text(text)
    path, = stored(cache_dir)
    path.write_bytes(pickle.dumps(Planted()))
    assert parser.parse_text(text).models[0].body  # a miss: parsed again
    assert not (tmp_path / "planted.txt").exists()


def test_files_and_directories_of_other_users_are_not_trusted(cache_dir, monkeypatch):
    if not hasattr(os, "getuid"):
        pytest.skip("no user ids here")
    text = "Conv - ReLU"
    parser.parse_text(text)
    path, = stored(cache_dir)
    assert cache.load_bytes(path) is not None and cache.owned(path)
    uid = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: uid + 1)
    assert cache.load_bytes(path) is None and not cache.owned(path)
    cache.directory.cache_clear()
    assert cache.directory() is None  # the directory is not this user's: no cache at all
    link = cache_dir / "link.lark.cache"
    link.symlink_to(path)
    monkeypatch.setattr(os, "getuid", lambda: uid)
    assert not cache.owned(link) and cache.owned(cache_dir / "missing")


def test_a_directory_others_may_write_to_is_made_private(cache_dir):
    cache_dir.mkdir(parents=True)
    cache_dir.chmod(0o777)
    cache.directory.cache_clear()
    assert cache.directory() == cache_dir
    assert cache_dir.stat().st_mode & 0o077 == 0 or not hasattr(os, "getuid")


def test_the_cache_is_bounded(cache_dir, monkeypatch):
    monkeypatch.setattr(cache, "MAX_ENTRIES", 8)
    for i in range(20):
        parser.parse_text(f"Conv({i + 1})")
    assert len(stored(cache_dir)) <= 9


def test_a_changed_parser_misses(cache_dir, monkeypatch):
    parser.parse_text("Conv - ReLU")
    monkeypatch.setattr(cache, "code_hash", lambda: "another version")
    parser.parse_text("Conv - ReLU")
    assert len(stored(cache_dir)) == 2


# --- the settings table -----------------------------------------------------------------------


def test_the_grammar_takes_its_setting_keys_from_the_table(monkeypatch):
    assert f"SETTING_KEY.4: /({'|'.join(SETTING_KEYS)})[ \\t]*:/" in parser.grammar_text()
    assert parser.SETTING_KEYS_SLOT not in parser.grammar_text()
    import archdsl.settings

    monkeypatch.setattr(archdsl.settings, "SETTING_KEYS", (*SETTING_KEYS, "dropout_rate"))
    assert "|transform_input|dropout_rate)" in parser.grammar_text.__wrapped__()


@pytest.mark.parametrize("key", SETTING_KEYS)
def test_every_key_of_the_table_is_a_setting_everywhere(key):
    setting, = parse(f"{key}: A").models[0].settings
    assert setting.key == key
    from archdsl.syntax.yaml_spec import SpecFile

    assert key in SpecFile.model_fields
    with pytest.raises(ArchError) as err:  # a misspelt key is suggested from the table
        parse(f"{key}x: 3x3")
    assert err.value.diagnostics[0].hint == f"did you mean '{key}:'?"


def test_the_api_and_the_command_line_take_the_settings_the_table_says():
    keywords = {name for name, p in inspect.signature(archdsl.load).parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert {s.key for s in SETTINGS if s.api} <= keywords
    assert not {s.key for s in SETTINGS if not s.api} & keywords
    import argparse

    from archdsl.cli.common import settings_from
    from archdsl.cli.main import build_parser

    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction)).choices
    for command in ("check", "summary"):  # (compile's --outputs picks what to export)
        flags = {o for a in commands[command]._actions for o in a.option_strings}
        for s in SETTINGS:
            assert (f"--{s.key}" in flags) == s.cli, (command, s.key)
    args = build_parser().parse_args(["check", "lenet5", "--freeze", "a,b", "--freeze", "c"])
    assert settings_from(args) == {"input": None, "classes": None, "seed": None,
                                   "freeze": ["a", "b", "c"], "head": None}
