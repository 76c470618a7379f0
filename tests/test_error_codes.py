"""Error codes are stable, kebab-case, documented, and exercised by the corpus.

The codes are read from the package source (the first argument of every `Diagnostic(...)` and
`reporter.error(...)`, every `code=` keyword, and `ShapeError`'s default), so a new code fails
these tests until docs/diagnostics.md explains it and a corpus case shows it (or it is listed
below with the reason it is not in the corpus).
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from archdsl.ops.base import ShapeError

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "diagnostics.md"
CORPUS = ROOT / "tests" / "diagnostics"
# Codes the command-line corpus cannot show, and where they are tested instead.
NOT_IN_CORPUS = {
    "bad-classes": "API only (`classes=0`); the CLI refuses --classes 0 as a usage error",
    "shape-error": "the fallback code of a shape rule that names none (an op's own sanity check)",
    "aux-empty": "a guard: every branch the grammar accepts makes at least one layer",
    "plugin-error": "needs an installed plugin that breaks the contract: tests/test_plugins.py",
}


def codes_in_source() -> set[str]:
    found = {inspect.signature(ShapeError).parameters["code"].default}
    for path in (ROOT / "archdsl").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in ("Diagnostic", "error") and node.args and \
                    isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
            found.update(k.value.value for k in node.keywords if k.arg == "code" and
                         isinstance(k.value, ast.Constant) and isinstance(k.value.value, str))
    return found


def codes_in_corpus() -> set[str]:
    text = "".join(p.read_text(encoding="utf-8") for p in CORPUS.rglob("*.expected"))
    return set(re.findall(r"\[([a-z]+(?:-[a-z]+)*)\](?:\x1b\[0m)?\n", text)) | \
        set(re.findall(r'"code": "([a-z-]+)"', text))


def test_codes_are_kebab_case():
    for code in codes_in_source():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", code), code


def test_every_code_is_documented_and_no_stale_ones():
    doc = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z]+(?:-[a-z]+)*)` \|", doc, re.MULTILINE))
    source = codes_in_source()
    assert source - documented == set(), "add these to docs/diagnostics.md"
    assert documented - source == set(), "these documented codes no longer exist"


def test_every_code_has_a_corpus_case():
    missing = codes_in_source() - codes_in_corpus() - set(NOT_IN_CORPUS)
    assert missing == set(), "add a case under tests/diagnostics/ for these"
    assert set(NOT_IN_CORPUS) & codes_in_corpus() == set(), "now covered: drop the exception"
