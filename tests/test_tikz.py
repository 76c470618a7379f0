"""The feature-map figure as TikZ (`archdsl render --style featuremaps -o fig.tex`): the same
drawing as the SVG, escaped for LaTeX, and a document that pdflatex compiles (where installed)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

import archdsl
from archdsl.render.featuremaps import _Svg
from archdsl.render.figures import FigureOptions, render_figure
from archdsl.render.tikz import Tikz, latex_text

PDFLATEX = shutil.which("pdflatex")
needs_pdflatex = pytest.mark.skipif(
    PDFLATEX is None, reason="pdflatex is not installed (apt-get install texlive-latex-base "
    "texlive-latex-recommended texlive-pictures); the TikZ source is still checked as text")


def tex_of(name: str, **options) -> str:
    return render_figure(archdsl.load(name), "tex",
                         FigureOptions(style="featuremaps", **options)).decode()


def compile_tex(tmp_path, tex: str, name: str = "fig") -> str:
    """pdflatex a document; returns its log, having checked the PDF is written."""
    (tmp_path / f"{name}.tex").write_text(tex)
    run = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    log = (tmp_path / f"{name}.log").read_text(errors="replace")
    assert run.returncode == 0, log[-3000:]
    assert (tmp_path / f"{name}.pdf").read_bytes().startswith(b"%PDF-")
    return log


def test_text_is_escaped_for_latex():
    assert latex_text("conv_1 50% a&b #3 {x} ~^\\") == (
        r"conv\_1 50\% a\&b \#3 $\{$x$\}$ \textasciitilde{}\textasciicircum{}$\backslash$")
    assert latex_text("Conv 11x11, 96, /4") == r"Conv 11$\times$11, 96, /4"
    assert latex_text("256×13×13") == r"256$\times$13$\times$13"
    assert latex_text("3×224×224 → 1000 · 62.4M") == (
        r"3$\times$224$\times$224 $\rightarrow$ 1000 $\cdot$ 62.4M")
    assert latex_text("a--b <c> |d|") == r"a-{}-b $<$c$>$ $\vert$d$\vert$"
    assert latex_text("Café 日本") == "Café ??"  # no glyph in the default fonts: no error


def test_tikz_draws_what_the_svg_draws():
    svg = render_figure(archdsl.load("specs/alexnet.arch"), "svg",
                        FigureOptions(style="featuremaps")).decode()
    tex = tex_of("specs/alexnet.arch")
    assert tex.isascii()
    assert svg.count("<polygon") == tex.count(r"\filldraw")
    assert svg.count("<text") == tex.count(r"\node[")
    assert svg.count('stroke-dasharray="3,2"') == tex.count("dash pattern=on 2.25pt off 1.5pt")
    # SVG's y runs down, TikZ's up: the picture flips its y unit, so coordinates stay the SVG's
    assert "x=0.75pt, y=-0.75pt" in tex
    width, height = (float(v) for v in re.search(r'width="([\d.]+)" height="([\d.]+)"',
                                                  svg).groups())
    paper = re.search(r"paperwidth=([\d.]+)pt,paperheight=([\d.]+)pt", tex).groups()
    assert [float(v) for v in paper] == pytest.approx([width * 0.75, height * 0.75], abs=0.1)
    assert r"\node[font13, text=figText, anchor=base] at" in tex
    assert r"{Conv 11$\times$11, 96, /4};" in tex
    assert tex == tex_of("specs/alexnet.arch")  # deterministic


def test_colours_are_named_at_the_top_and_box_faces_mix_them():
    tex = tex_of("specs/alexnet.arch")
    head = tex[:tex.index(r"\begin{document}")]
    assert r"\definecolor{convFill}{HTML}{DBE9FB}" in head
    assert r"\definecolor{convBorder}{HTML}{3B6FB6}" in head
    assert r"\definecolor{figBackground}{HTML}{FFFFFF}" in head
    body = tex[tex.index(r"\begin{document}"):]
    assert "fill=convFill!55!white" in body and "fill=convFill!88!black" in body
    assert "#" not in body  # every colour by name
    used = set(re.findall(r"\\definecolor\{(\w+)\}", head))
    assert used == set(re.findall(r"\b([a-z]\w*(?:Fill|Border)|fig[A-Z]\w*)\b", body))
    assert r"\fill[figBackground]" not in tex_of("lenet5", transparent=True)


def test_the_tikz_canvas_has_every_drawing_method_of_the_svg_one():
    """featuremaps.py draws only through its canvas: a method added to `_Svg` (a new figure
    part) needs its TikZ twin, or `--format tex` breaks on that figure."""
    public = {n for n in dir(_Svg) if not n.startswith("_")}
    assert public <= set(dir(Tikz)), public - set(dir(Tikz))


def test_curves_circles_and_dashed_lines():
    from archdsl.render.themes import theme

    canvas = Tikz(theme("light"))
    canvas.curve([(0, 0), (10, 0), (20, 10), (30, 10), (40, 10), (50, 0), (60, 0)], "#57606a")
    canvas.circle(5, 6, 4, "white", "#3b6fb6")
    canvas.line(0, 0, 8, 8, "#123456", width=2, dash="4,2")
    canvas.text(1, 2, "Conv", 13, "#1f2328", rotate=90)
    assert canvas.parts == [
        r"\draw[figEdge, line width=1.05pt] (0,0) .. controls (10,0) and (20,10) .. (30,10) "
        r".. controls (40,10) and (50,0) .. (60,0);",
        r"\filldraw[fill=ioFill, draw=convBorder, line width=0.9pt] (5,6) circle[radius=3pt];",
        r"\draw[figColour1, line width=1.5pt, dash pattern=on 3pt off 1.5pt] (0,0) -- (8,8);",
        r"\node[font13, text=figText, anchor=base, rotate=-90] at (1,2) {Conv};"]
    assert r"\definecolor{figColour1}{HTML}{123456}" in canvas.document(60, 10, theme("light"),
                                                                        "x")


def test_graph_style_refuses_tex_and_says_what_to_do(cli_inprocess, tmp_path):
    proc = cli_inprocess("render", "lenet5", "-o", str(tmp_path / "x.tex"))
    assert proc.returncode == 2 and "--style featuremaps" in proc.stderr
    assert not (tmp_path / "x.tex").exists()
    with pytest.raises(ValueError, match="writes no TikZ"):
        render_figure(archdsl.load("lenet5"), "tex")
    ok = cli_inprocess("render", "lenet5", "--style", "featuremaps", "-o", str(tmp_path / "f.tex"))
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "f.tex").read_text().startswith("% LeNet5: the feature-map figure")


@needs_pdflatex
@pytest.mark.parametrize("name, options", [
    ("lenet5", {}), ("specs/alexnet.arch", {}), ("resnet18", {}),
    ("specs/alexnet.arch", {"theme": "dark", "scale": "sqrt"}),
    ("resnet50", {"theme": "print", "transparent": True}),
    ("googlenet", {"title": "a_b % c & d # e ~ ^ \\ {x} <y> | 3x3 -- é µ 日本"}),
    # skip arcs into a +, stacked Inception branches, the U of an encoder-decoder
    ("resnet18", {"expand": ("layer1",)}), ("googlenet", {"expand": ("inception3a",)}),
    ("specs/unet.arch", {}),
])
def test_tikz_figure_compiles_with_pdflatex(tmp_path, name, options):
    log = compile_tex(tmp_path, tex_of(name, **options))
    for problem in ("Overfull", "Missing character", "not available", "Font shape",
                    "undefined"):
        assert problem not in log, problem
