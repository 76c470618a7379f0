"""Every zoo spec, in every view and style, renders to SVG, PNG and PDF (Graphviz and CairoSVG
run for real); SVG is well-formed and deterministic.

New specs in the zoo are covered without a change here. PNGs are rendered at a low resolution to
keep the suite quick; the resolution path itself is checked in test_render_cli.py.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

import archdsl
from archdsl.render.figures import FigureOptions, render_figure

FIGURES = [("graph", "layers"), ("graph", "blocks"), ("graph", "stages"),
           ("featuremaps", "stages"), ("featuremaps", "blocks")]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def models():
    return {}


def model_of(models, name):
    if name not in models:
        models[name] = archdsl.load(name)
    return models[name]


def svg_nodes(svg: bytes) -> int:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return sum(1 for el in root.iter() if el.get("class") == "node")


@pytest.mark.parametrize("style, view", FIGURES, ids=[f"{s}-{v}" for s, v in FIGURES])
@pytest.mark.parametrize("name", archdsl.zoo())
def test_zoo_renders_everywhere(models, name, style, view):
    model = model_of(models, name)
    options = FigureOptions(style=style, view=view, dpi=24)
    svg = render_figure(model, "svg", options)
    if style == "graph":
        assert svg_nodes(svg) >= 3
    else:
        root = ET.fromstring(svg)
        assert len(root.findall(f"{SVG}polygon")) >= 3
    assert render_figure(model, "svg", options) == svg  # byte-identical on one machine
    png = render_figure(model, "png", options)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pdf = render_figure(model, "pdf", options)
    assert pdf.startswith(b"%PDF-")


@pytest.mark.parametrize("theme", ["light", "dark", "print"])
def test_themes_render(models, theme):
    model = model_of(models, "googlenet")
    for style in ("graph", "featuremaps"):
        svg = render_figure(model, "svg", FigureOptions(style=style, theme=theme))
        ET.fromstring(svg)


def test_resnet50_stages_svg_collapses_with_badges(models):
    model = model_of(models, "resnet50")
    stages = render_figure(model, "svg", FigureOptions(view="stages"))
    layers = render_figure(model, "svg", FigureOptions(view="layers"))
    n_stages, n_layers = svg_nodes(stages), svg_nodes(layers)
    assert n_stages == 10 and n_layers > 10 * n_stages
    text = stages.decode()
    for badge in ("×3", "×4", "×6"):
        assert badge in text


def test_resnet152_stages_fit_a_16_9_slide(models):
    """Drawn at most a little taller or wider than 16:9, so it scales to a slide without
    shrinking the 14 pt labels below about 10 pt."""
    svg = render_figure(model_of(models, "resnet152"), "svg", FigureOptions(view="stages"))
    root = ET.fromstring(svg)
    width, height = (float(root.get(k).removesuffix("pt")) for k in ("width", "height"))
    assert 1.2 <= width / height <= 2.6
    assert width <= 13.33 * 72 / 0.7  # a 13.33 in slide, labels at 70 % or more
