"""examples/notebook.ipynb runs (issue 15): every code cell in order in one namespace, as a
kernel runs them, and the value a cell ends with is displayed as Jupyter displays it (its
`_repr_html_`, `_repr_svg_` or repr). No Jupyter is needed: nbformat, nbclient and a kernel are
no dependency of archdsl's tests, and what the notebook shows is archdsl's display hooks."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import shutil

import pytest

from conftest import ROOT

NOTEBOOK = ROOT / "examples" / "notebook.ipynb"


def run_cells(path) -> list[tuple[str, object]]:
    """(printed text, displayed value) per code cell."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    namespace: dict = {"__name__": "__main__"}
    results = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse("".join(cell["source"]))
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(tree, "<cell>", "exec"), namespace)  # noqa: S102
            value = eval(compile(ast.Expression(last.value), "<cell>", "eval"),  # noqa: S307
                         namespace) if last is not None else None
        results.append((out.getvalue(), value))
    return results


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot draws the diagrams")
def test_notebook_runs_and_displays(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setitem(os.environ, "COLUMNS", "120")
    cells = run_cells(NOTEBOOK)
    _, model = cells[0]
    html = model._repr_html_()  # what Jupyter shows for `model`
    assert "<svg" in html and "per-layer table (70 layers)" in html and "11,181,642" in html
    printed, _ = cells[1]
    assert "layer4" in printed and "2 x BasicBlock" in printed and "11,181,642" in printed
    assert cells[2][1] == (11_181_642, 1_813_566_464, [435, 435])
    assert cells[3][1].startswith(b"<?xml") or b"<svg" in cells[3][1]
    assert cells[4][1][:3] == ["resnet18", "resnet34", "resnet50"]
