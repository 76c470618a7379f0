"""Inputs that once crashed archdsl, hung it, or were silently accepted: each must now give an
`ArchError` with the expected code (spans checked as in the fuzz tests).

Add a row for every crash the fuzzers find (`fuzz/run.py` writes reproducers to
`fuzz/crashes/`).
"""

from __future__ import annotations

import pytest

import archdsl
from fuzz.strategies import check_outcome

MODEL = "model Net {{\n  input: 3x32x32\n  {}\n}}\n"
DEEP_BLOCKS = "".join(f"block B{i}(c) {{ {'[' * 20}B{i - 1}(c){']' * 20} }}\n"
                      for i in range(1, 33)) + "block B0(c) { ReLU }\n" + MODEL.format("B32(1)")

# (what went wrong before, spec text or (suffix, text), expected first code)
CASES = [
    ("VisitError leaked from a rule method", "block B(c) {\n  input: 3x3x3\n  Conv\n}\n" +
     MODEL.format("B(3)"), "setting-in-block"),
    ("int() of a 5000-digit label raised ValueError", "Conv:" + "9" * 5000, "bad-number"),
    ("a 5000-digit number leaked a VisitError", "Conv(" + "9" * 5000 + ")", "bad-number"),
    ("500 nested brackets raised RecursionError", "[" * 500 + "ReLU" + "]" * 500, "too-deep"),
    ("a long sum raised RecursionError", "Conv(" + "+".join(["1"] * 3000) + ")", "too-deep"),
    ("a long negation raised RecursionError", "Conv(" + "-" * 3000 + "1)", "too-deep"),
    ("blocks within brackets 32 deep raised RecursionError", DEEP_BLOCKS, "too-deep"),
    ("true was taken as 1 channel", "Conv(true, 3)", "bad-argument"),
    ("a quoted number was coerced", 'Dropout(p="0.5")', "bad-argument"),
    ("an empty name template raised TypeError", 'Conv(8, 3) x 2 as "a{}"', "bad-label"),
    ("a template with two arguments used the first", 'Conv(8, 3) x 2 as "a{i, i}"',
     "bad-label"),
    ("two models with one name: the second was ignored",
     MODEL.format("ReLU").replace("Net", "M") * 2, "duplicate-model"),
    ("an empty spec said 'block library'", "", "empty-spec"),
    ("YAML error at the end of the file pointed past it",
     (".yaml", "name: Net\nlayers: [Conv"), "yaml-syntax"),
    ("YAML error at the end of an empty flow mapping", (".yaml", "{"), "yaml-syntax"),
    ("an unknown DAG source made every later node unknown too", (".yaml",
     "name: Net\ninput: 3x8x8\nnodes:\n  - {id: a, layer: ReLU, from: nope}\n"
     "  - {id: b, layer: ReLU, from: a}\n"), "unknown-node"),
]


def _load(spec, tmp_path):
    if isinstance(spec, tuple):
        path = tmp_path / f"case{spec[0]}"
        path.write_text(spec[1], encoding="utf-8")
        return lambda: archdsl.load(path, input="3x32x32")
    return lambda: archdsl.load(spec, input="3x32x32", classes=10)


@pytest.mark.parametrize("what,spec,code", CASES, ids=[c[0] for c in CASES])
def test_regression(what, spec, code, tmp_path):
    with pytest.raises(archdsl.ArchError) as info:
        _load(spec, tmp_path)()
    assert info.value.diagnostics[0].code == code, info.value
    assert len(info.value.diagnostics) == 1 or code != "unknown-node", info.value
    assert check_outcome(_load(spec, tmp_path)) == "arch-error"


def test_an_unknown_layer_repeated_is_looked_up_once(monkeypatch):
    # the long fuzz run: `false x 10000` took 1.8 s: a did-you-mean search per copy
    from archdsl.elaborate import walker

    calls = []
    real = walker.suggest
    monkeypatch.setattr(walker, "suggest", lambda *a: calls.append(a) or real(*a))
    with pytest.raises(archdsl.ArchError) as info:
        archdsl.load("Conv(8, 3) - false x 5000 - Foo - false", input="3x32x32")
    diags = info.value.diagnostics
    assert [(d.code, d.span.start) for d in diags] == [
        ("unknown-layer", 13), ("unknown-layer", 28), ("unknown-layer", 34)]
    assert len(calls) == 2  # once per distinct name


def test_a_repeat_stops_unrolling_after_its_first_copy_fails():
    with pytest.raises(archdsl.ArchError) as info:
        archdsl.load("[Conv(8, 3, q=1) - ReLU] x 4000", input="3x32x32")
    assert len(info.value.diagnostics) == 1
