"""The per-layer table in every format: columns and totals, Markdown that renders, LaTeX with
booktabs and correct escaping, CSV that reads back, HTML and the notebook reprs."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

import archdsl
from archdsl.diagnostics import BackendError
from archdsl.render import figures
from archdsl.report import tables

UNDERSCORED = """
model My_Net {
  input: 3x32x32
  classes: 10
  Conv:conv_1(16, 3, p=1) - ReLU
  stage_a: [ Conv:conv_a(32, 3, s=2, p=1) - BN ]
  GAP - FC:fc_out(classes)
}
"""


@pytest.fixture(scope="module")
def alexnet():
    return archdsl.load("specs/alexnet.arch")


NOTES_COLUMNS = ("Layer", "Kind", "Kernel", "Stride", "Pad", "Output", "Activations", "Params",
                 "MACs")
ALIGN = "|" + "|".join("---:" if c.numeric else "---" for c in tables.COLUMN_SPECS) + "|"
SPEC = "".join("r" if c.numeric else "l" for c in tables.COLUMN_SPECS)
LATEX_SPEC = "".join("r" if c.numeric else "l" for c in tables.LATEX_COLUMNS)


def test_columns_are_the_notes_columns():
    # the notes' columns, in order (more may follow: they are one entry in COLUMN_SPECS)
    assert tables.COLUMNS[:len(NOTES_COLUMNS)] == NOTES_COLUMNS
    assert [c.header for c in tables.COLUMN_SPECS if c.numeric][:3] == ["Activations", "Params",
                                                                         "MACs"]


def cell(line: str, header: str) -> str:
    return line.strip("|").split(" | ")[tables.COLUMNS.index(header)].strip()


def test_markdown_table_renders(alexnet):
    text = tables.render_markdown(alexnet)
    lines = text.splitlines()
    assert lines[0] == "### AlexNet"
    table = [line for line in lines if line.startswith("|")]
    assert table[1] == ALIGN
    assert ALIGN.startswith("|---|---|---|---|---|---|---:|---:|---:|")
    width = len(tables.COLUMNS)
    for line in table:  # every row has exactly the header's cells (no stray `|`)
        cells = line.replace("\\|", "").strip("|").split("|")
        assert len(cells) == width, line
    conv1 = next(line for line in table if line.startswith("| Conv:1 "))
    expected = {"Kind": "Conv", "Kernel": "11x11", "Stride": "4", "Pad": "3",
                "Output": "96x55x55", "Activations": "290,400", "Params": "34,944",
                "MACs": "105,415,200"}
    assert {h: cell(conv1, h) for h in expected} == expected
    total = table[-1]
    assert total.startswith("| **Total** |  |  |  |  | **1000** | **781,736** | **62,378,344** | "
                            "**1,135,256,096** |")
    assert "- **Parameters:** 62,378,344" in text


def test_markdown_escapes_markup():
    assert tables.md_escape("a|b*c_d`e<f>") == "a\\|b\\*c\\_d\\`e\\<f\\>"
    text = tables.render_markdown(archdsl.load(UNDERSCORED))
    assert "### My\\_Net" in text and "| conv\\_1 |" in text


def test_latex_uses_booktabs_and_escapes():
    assert tables.latex_escape("a_b%c&d#e$f{g}~^\\") == (
        r"a\_b\%c\&d\#e\$f\{g\}\textasciitilde{}\textasciicircum{}\textbackslash{}")
    text = tables.render_latex(archdsl.load(UNDERSCORED))
    assert r"\caption{My\_Net; not listed: ReLU (no parameters, MACs or new activations)}" in text
    assert r"conv\_1 & Conv & 3$\times$3" in text
    assert r"stage\_a.conv\_a" in text
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert rule in text
    # the notes' columns: the receptive field made ResNet-50's too wide for an article
    assert r"\begin{tabular}{" + LATEX_SPEC + "}" in text and LATEX_SPEC == "llllllrrr"
    body = [line for line in text.splitlines() if line.endswith(r"\\")]
    assert all(line.count("&") == len(tables.LATEX_COLUMNS) - 1 for line in body)
    assert body[-1].startswith("Total & ")
    assert "_" not in text.replace(r"\_", "")  # every underscore escaped


def test_long_latex_tables_break_across_pages():
    text = tables.render_latex(archdsl.load("resnet50"))
    assert r"\begin{longtable}{" + LATEX_SPEC + "}" in text and r"\endhead" in text
    assert text.rstrip().endswith("\\end{longtable}\n}")  # the group of \footnotesize


def test_csv_reads_back(alexnet):
    rows = list(csv.DictReader(io.StringIO(tables.render_csv(alexnet))))
    assert len(rows) == len(alexnet.layers())
    assert sum(int(r["params"]) for r in rows) == 62_378_344
    assert sum(int(r["activations"]) for r in rows) == 781_736
    assert rows[0]["kernel"] == "11x11" and rows[0]["output"] == "96x55x55"


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["table", "markdown", "latex", "csv", "json"])
def test_summary_formats_from_the_cli(cli, fmt):
    proc = cli("summary", "specs/alexnet.arch", "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    if fmt == "json":
        assert json.loads(proc.stdout)["total_params"] == 62_378_344
    elif fmt == "csv":  # raw per-layer numbers, no totals row (sums stay right)
        assert "Conv:1,Conv,11x11,4,3,96x55x55,290400,34944," in proc.stdout
    elif fmt == "latex":  # compact counts by default, so the table fits a column
        assert "& 781.7K & 62.4M & 1.1G \\\\" in proc.stdout
        exact = cli("summary", "specs/alexnet.arch", "--format", fmt, "--units", "exact",
                    "--columns", "layer,params")
        assert "Total & 62,378,344" in exact.stdout
        wrong = cli("summary", "specs/alexnet.arch", "--units", "exact")
        assert wrong.returncode == 2 and "--format latex" in wrong.stderr
        every = cli("summary", "specs/alexnet.arch", "--format", fmt, "--all-rows")
        assert "relu1 & ReLU" in every.stdout and "relu1" not in proc.stdout
        assert cli("summary", "specs/alexnet.arch", "--all-rows").returncode == 2
    else:
        assert "62,378,344" in proc.stdout and "781,736" in proc.stdout


def test_html_and_notebook_reprs(alexnet):
    ET.fromstring(f"<div>{tables.render_html(alexnet)}</div>")  # well-formed
    svg = alexnet._repr_svg_()
    assert ET.fromstring(svg.encode()).tag.endswith("svg")
    html = alexnet._repr_html_()
    assert "<svg" in html and "<table>" in html and "781,736" in html
    assert alexnet._repr_markdown_().startswith("### AlexNet")


def test_notebook_without_graphviz_still_shows_the_table(alexnet, monkeypatch):
    def no_dot(source, fmt):
        raise BackendError("no dot")

    monkeypatch.setattr(figures, "run_dot", no_dot)
    assert alexnet._repr_svg_() is None
    html = alexnet._repr_html_()
    assert "<svg" not in html and "<table>" in html


def test_model_render_api(alexnet, tmp_path):
    assert alexnet.render(format="dot").startswith(b'digraph "AlexNet"')
    alexnet.render(tmp_path / "a.pdf", view="layers", theme="print")
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF-")
    with pytest.raises(ValueError, match="unknown theme"):
        alexnet.render(format="svg", theme="neon")


# Widths (pt) of Computer Modern at 8 pt (LaTeX's \footnotesize at 10 pt): digits, lower and
# upper case letters, punctuation, $\times$; an estimate good to a few per cent for these cells.
_CM8 = {**dict.fromkeys("0123456789", 4.25), **dict.fromkeys(".,:;", 2.4), " ": 2.8,
        "×": 6.6, "*": 4.25, "(": 3.3, ")": 3.3, "-": 2.8}
ARTICLE_TEXTWIDTH = 345.0  # pt: \documentclass{article}, 10 pt, letter or A4
BEAMER_TEXTWIDTH = 398.0  # pt: beamer, aspectratio=169 (160 mm wide, 1 cm margins)
BEAMER_SCALE = 9 / 8  # beamer's 11 pt base: \footnotesize is 9 pt


def _cm8_width(cell: str) -> float:
    text = cell.replace(r"$\times$", "×").replace("\\", "")
    return sum(_CM8.get(ch, 6.2 if ch.isupper() else 4.1) for ch in text)


def _latex_width(text: str) -> float:
    body = [line[:-2].split(" & ") for line in text.splitlines() if line.endswith(r"\\")]
    widths = [max(_cm8_width(row[i]) for row in body) for i in range(len(body[0]))]
    return sum(widths) + 2 * 3.0 * len(widths)  # \tabcolsep 3pt either side


def test_latex_table_fits_an_article_column_and_a_slide():
    text = tables.render_latex(archdsl.load("specs/alexnet.arch"))
    assert r"\footnotesize" in text and r"\setlength{\tabcolsep}{3pt}" in text
    assert "& 290.4K & 34.9K & 105.4M \\\\" in text  # compact counts by default
    width = _latex_width(text)
    assert width <= ARTICLE_TEXTWIDTH and width * BEAMER_SCALE <= BEAMER_TEXTWIDTH, width
    exact = tables.render_latex(archdsl.load("specs/alexnet.arch"), units="exact")
    assert "& 290,400 & 34,944 & 105,415,200 \\\\" in exact
    chosen = tables.render_latex(archdsl.load("specs/alexnet.arch"),
                                 columns="layer,Output,params")
    assert r"\begin{tabular}{llr}" in chosen and "Layer & Output & Params" in chosen
    with pytest.raises(ValueError, match="unknown column flops"):
        tables.select_columns("layer,flops")


ARTICLE = r"\documentclass{article}"
BEAMER = r"\documentclass[aspectratio=169]{beamer}"


@pytest.mark.skipif(shutil.which("pdflatex") is None,
                    reason="pdflatex is not installed (apt-get install texlive-latex-base "
                    "texlive-latex-recommended); the width estimate above still runs")
@pytest.mark.parametrize("preamble, spec, options", [
    (ARTICLE, "specs/alexnet.arch", {}),
    (ARTICLE, "specs/alexnet.arch", {"all_rows": True}),
    (ARTICLE, "specs/alexnet.arch", {"columns": "layer,kernel,output,params"}),
    (ARTICLE, "resnet50", {}),  # a longtable over pages
    (ARTICLE, "resnet50", {"columns": "layer,kernel,output,params,macs,rf"}),
    (BEAMER, "specs/alexnet.arch", {}),
    (BEAMER, "specs/alexnet.arch", {"columns": "layer,kind,kernel,stride,output,params,rf"}),
    (BEAMER, "specs/alexnet.arch", {"units": "exact"}),
    (BEAMER, "resnet50", {"depth": 1}),  # a longtable cannot go in a frame: stages fit one
])
def test_latex_table_compiles_without_overfull_boxes(tmp_path, preamble, spec, options):
    """Fits the width of an article's column and of a 16:9 slide, and on a slide its height:
    no overfull box in pdflatex's log."""
    table = tables.render_latex(archdsl.load(spec), **options)
    body = (r"\begin{frame}" + table + r"\end{frame}") if preamble == BEAMER else table
    doc = (preamble + "\n\\usepackage{booktabs,longtable}\n\\begin{document}\n" + body
           + "\\end{document}\n")
    (tmp_path / "t.tex").write_text(doc)
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "t.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    log = (tmp_path / "t.log").read_text(errors="replace")
    assert run.returncode == 0, log[-2000:]
    assert "Overfull \\hbox" not in log, log[-2000:]
    assert "Overfull \\vbox" not in log, log[-2000:]  # a slide's table ends on the slide
