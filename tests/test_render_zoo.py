"""Every zoo spec, in every view and style, renders to SVG, PNG and PDF (Graphviz and CairoSVG
run for real); SVG is well-formed, deterministic and draws what the model has.

Contract: a graph figure's SVG has one node per box of the diagram (`build_diagram`), each
showing its title (or its glyph) under the model's name; a feature-map figure shows every trunk
column's title and size (along its edges or below it), in order; each theme paints its own background and family colours.

New specs in the zoo are covered without a change here. PNGs are rendered at a low resolution to
keep the suite quick; the resolution path itself is checked in test_render_cli.py.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

import archdsl
from archdsl.render.diagram import build_diagram
from archdsl.render.featuremaps import _edge_labels, columns
from archdsl.render.figures import FigureOptions, render_figure
from archdsl.render.themes import theme as theme_of

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


def svg_texts(root: ET.Element) -> list[str]:
    """The text drawn, in document order."""
    return [el.text for el in root.iter(f"{SVG}text") if el.text]


def in_order(wanted: list[str], texts: list[str]) -> bool:
    """Whether `wanted` appears in `texts` in this order (other text between is allowed)."""
    rest = iter(texts)
    return all(any(text == w for text in rest) for w in wanted)


def check_graph_figure(model, options: FigureOptions, svg: bytes) -> None:
    root = ET.fromstring(svg)
    boxes = build_diagram(model, options.diagram_options()).boxes()
    assert len(boxes) >= 3
    drawn = [el.find(f"{SVG}title").text for el in root.iter() if el.get("class") == "node"]
    assert sorted(drawn) == sorted(box.id for box in boxes)
    texts = set(svg_texts(root))
    assert model.name in texts
    missing = [box.title for box in boxes if (box.glyph or box.title) not in texts]
    assert not missing, f"boxes drawn without their title: {missing}"


def check_featuremaps_figure(model, options: FigureOptions, svg: bytes) -> None:
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == model.name
    cols, _ = columns(model, options.diagram_options())
    assert len(cols) >= 3 and len(root.findall(f"{SVG}polygon")) >= len(cols)
    look = theme_of(options.theme)
    wanted = []
    for box, shape in cols:  # its sizes along its edges, or below it when they do not fit
        edges = _edge_labels(shape, options.scale, look.small_size)
        wanted += [box.title, *(edges or ["×".join(map(str, shape))])]
    assert in_order(wanted, svg_texts(root)), "a column's title or size is missing or misplaced"


@pytest.mark.slow
@pytest.mark.parametrize("style, view", FIGURES, ids=[f"{s}-{v}" for s, v in FIGURES])
@pytest.mark.parametrize("name", archdsl.zoo())
def test_zoo_renders_everywhere(models, name, style, view):
    model = model_of(models, name)
    options = FigureOptions(style=style, view=view, dpi=24)
    svg = render_figure(model, "svg", options)
    if style == "graph":
        check_graph_figure(model, options, svg)
    else:
        check_featuremaps_figure(model, options, svg)
    assert render_figure(model, "svg", options) == svg  # byte-identical on one machine
    png = render_figure(model, "png", options)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pdf = render_figure(model, "pdf", options)
    assert pdf.startswith(b"%PDF-")


@pytest.mark.parametrize("theme", ["light", "dark", "print"])
def test_themes_render(models, theme):
    model = model_of(models, "googlenet")
    look = theme_of(theme)
    background = "#ffffff" if look.background == "white" else look.background
    for style in ("graph", "featuremaps"):
        options = FigureOptions(style=style, theme=theme)
        svg = render_figure(model, "svg", options)
        (check_graph_figure if style == "graph" else check_featuremaps_figure)(model, options, svg)
        fills = {el.get("fill") for el in ET.fromstring(svg).iter()}
        assert {look.background, background} & fills, f"no {theme} background"
        for family in ("conv", "block"):
            assert look.family(family).fill in fills, f"no {theme} {family} fill"


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
