"""What diagrams show: views, collapsing, badges, merges, expansion, shapes on edges, themes,
slide fitting, and golden DOT files for the notes' LeNet-5 and AlexNet.

These read the diagram structure and the DOT text; Graphviz itself runs in test_render_zoo.py and
test_render_cli.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import archdsl
from archdsl.render import wrap
from archdsl.render.diagram import AUTO_BOXES, Cluster, Options, build_diagram
from archdsl.render.figures import FigureOptions, render_figure, unknown_expansions
from archdsl.render.graphviz_render import Look, to_dot
from archdsl.render.themes import LEGEND, THEMES, theme
from conftest import ROOT, check_golden

GOLDEN = ROOT / "tests" / "golden" / "dot"


def load(name: str):
    return archdsl.load(name)


def diagram(name: str, **options):
    return build_diagram(load(name), Options(**options))


def titles(d) -> list[str]:
    return [b.title for b in d.boxes()]


def box(d, title: str):
    (found,) = [b for b in d.boxes() if b.title == title]
    return found


@pytest.mark.parametrize("spec", ["lenet5", "alexnet"])
def test_golden_dot(spec):
    dot = render_figure(load(f"specs/{spec}.arch"), "dot").decode()
    check_golden(GOLDEN / f"{spec}.dot", dot)


def test_golden_stages_dot_resnet50():
    dot = render_figure(load("specs/resnet50.arch"), "dot", FigureOptions(view="stages",
                                                                          shapes=True)).decode()
    check_golden(GOLDEN / "resnet50_stages.dot", dot)


def test_resnet50_stages_one_box_per_stage_with_badges():
    d = diagram("resnet50", view="stages")
    stages = {b.title: b for b in d.boxes() if b.scope}
    assert list(stages) == ["layer1", "layer2", "layer3", "layer4"]
    assert [stages[s].badge for s in stages] == ["×3", "×4", "×6", "×3"]
    assert all(b.lines[0] == "Bottleneck" for b in stages.values())
    # the stem folds BN and ReLU into the convolution's box
    assert box(d, "Conv 7x7, 64, /2").folded == ["BN", "ReLU"]
    assert len(d.boxes()) == 10  # input, conv1, maxpool, 4 stages, GAP, FC, output
    layers = diagram("resnet50", view="layers")
    assert len(layers.boxes()) >= 150
    assert len(d.boxes()) * 10 < len(layers.boxes())


def test_stage_boxes_cover_every_layer_once():
    model = load("resnet50")
    d = build_diagram(model, Options(view="stages"))
    keys = [k for b in d.boxes() for k in b.keys]
    assert len(keys) == len(set(keys))
    assert set(keys) == {n.key for n in model.graph.nodes}


def test_residual_block_in_layers_view():
    d = diagram("resnet50", view="layers")
    adds = [b for b in d.boxes() if b.glyph == "+"]
    assert len(adds) == 16  # one per Bottleneck, drawn as a small "+"
    # identity shortcuts are edges straight into the Add; projections are boxes
    projections = [b for b in d.boxes() if b.title.startswith("Projection 1x1")]
    assert [p.title for p in projections] == ["Projection 1x1, 256", "Projection 1x1, 512, /2",
                                              "Projection 1x1, 1024, /2",
                                              "Projection 1x1, 2048, /2"]
    assert not [b for b in d.boxes() if b.title == "Identity"]
    into = {}
    for e in d.edges:
        into.setdefault(e.dst, []).append(e.src)
    assert all(len(into[a.id]) == 2 for a in adds)
    # blocks and stages are clusters
    clusters = [i for i in d.items if isinstance(i, Cluster)]
    assert [c.title for c in clusters] == ["layer1", "layer2", "layer3", "layer4"]
    assert clusters[1].items[0].title == "layer2.0: Bottleneck(128, stride=2)"


def test_googlenet_blocks_view():
    d = diagram("googlenet", view="blocks")
    inception = box(d, "inception3a")
    assert inception.lines[0] == "Inception(64, 96, 128, 16, 32, 32)"
    assert inception.family == "block"
    # a block whose layers are one family takes its colour: BasicConv is a convolution
    assert box(d, "conv1").family == "conv"
    assert box(d, "conv1").lines[0] == "BasicConv(64, 7, s=2, p=3)"
    assert {"aux1", "aux2"} <= set(titles(d))
    outputs = [b.title for b in d.boxes() if b.io]
    assert outputs == ["Input", "Output", "aux2", "aux1"]


def test_densenet_and_dpn_stages():
    d = diagram("densenet121", view="stages")
    blocks = {b.title: b.badge for b in d.boxes() if b.title.startswith("denseblock")}
    assert blocks == {"denseblock1": "×6", "denseblock2": "×12", "denseblock3": "×24",
                      "denseblock4": "×16"}
    assert [i.title for i in d.items if isinstance(i, Cluster)] == ["features"]
    # DPN's `features` holds several runs of repeated blocks: the runs are the stages
    dpn = diagram("dpn68", view="stages")
    runs = [b.badge for b in dpn.boxes() if b.badge]
    assert runs == ["×2", "×3", "×11", "×2"]


def test_expand_draws_a_stage_as_a_cluster():
    d = diagram("resnet50", view="stages", expand=("layer2",))
    (cluster,) = [i for i in d.items if isinstance(i, Cluster)]
    assert cluster.title == "layer2"
    assert [b.title for b in cluster.items] == ["layer2.0", "layer2.1", "layer2.2", "layer2.3"]
    assert "layer3" in titles(d)
    nested = diagram("resnet50", view="stages", expand=("layer2", "layer2.0"))
    (outer,) = [i for i in nested.items if isinstance(i, Cluster)]
    assert isinstance(outer.items[0], Cluster)
    assert outer.items[0].items[0].title == "Conv 1x1, 128"


def test_unknown_expansion_is_reported():
    model = load("resnet50")
    assert unknown_expansions(model, FigureOptions(expand=("layer9", "layer*"))) == ["layer9"]


def test_shapes_on_edges_where_they_change():
    d = diagram("lenet5", view="layers", shapes=True)
    labels = {(e.src, e.dst): e.label for e in d.edges}
    ids = {b.title: b.id for b in d.boxes()}
    assert labels[(ids["Input"], ids["Conv 5x5, 6"])] == "1x32x32"
    assert labels[(ids["Conv 5x5, 6"], d.edges[1].dst)] == "6x28x28"
    tanh_out = [e for e in d.edges if e.src == d.edges[1].dst][0]
    assert tanh_out.label == ""  # Tanh hands on the shape it got
    assert d.edges[-1].label == "10"  # the output is always labelled
    plain = diagram("lenet5", view="layers")
    assert not any(e.label for e in plain.edges)


@pytest.mark.parametrize("spec, view", [("lenet5", "layers"), ("alexnet", "layers"),
                                        ("vgg16", "layers"), ("vgg19_bn", "blocks"),
                                        ("googlenet", "blocks"), ("resnet152", "stages"),
                                        ("densenet121", "stages")])
def test_auto_view_is_the_finest_that_fits(spec, view):
    d = diagram(spec)
    assert d.view == view
    assert len(d.boxes()) <= AUTO_BOXES or view == "stages"


def test_families_come_from_the_catalog():
    model = load("googlenet")
    d = build_diagram(model, Options(view="layers"))
    for b in d.boxes():
        if not b.io and not b.scope:
            (key,) = b.keys
            assert b.family == model.graph.node(key).op.family
    assert set(d.families()) <= set(LEGEND)


def test_params_and_names_lines():
    dot = to_dot(diagram("lenet5", view="layers", names=True), Look(theme("light")),
                 show_params=True)
    assert "156 params" in dot and "Conv:1" in dot


@pytest.mark.parametrize("name", THEMES)
def test_every_family_has_its_own_look(name):
    t = theme(name)
    looks = [t.family(f) for f in LEGEND]
    assert len({(lk.fill, lk.style, lk.peripheries) for lk in looks}) == len(looks)


def test_print_theme_is_greyscale():
    dot = render_figure(load("googlenet"), "dot", FigureOptions(theme="print", view="layers"))
    colours = set(re.findall(r"#([0-9a-fA-F]{6})", dot.decode()))
    assert colours
    for c in colours:
        r, g, b = int(c[:2], 16), int(c[2:4], 16), int(c[4:], 16)
        assert r == g == b, c


def test_dark_and_transparent_backgrounds():
    model = load("lenet5")
    dark = render_figure(model, "dot", FigureOptions(theme="dark")).decode()
    assert 'bgcolor="#1e1f24"' in dark
    clear = render_figure(model, "dot", FigureOptions(transparent=True)).decode()
    assert 'bgcolor="transparent"' in clear
    untitled = render_figure(model, "dot", FigureOptions(title="", legend=False)).decode()
    assert "LeNet5" not in untitled.split("\n", 2)[1]


def test_chains_wrap_into_rows_and_branchy_graphs_do_not():
    rows = wrap.rows(diagram("lenet5", view="layers"), theme("light"))
    assert len(rows) >= 2
    assert [t for row in rows for t in row][0] == "n0"
    assert wrap.rows(diagram("resnet50", view="layers"), theme("light")) == []
    assert "rank=same" not in to_dot(diagram("lenet5", view="layers"),
                                     Look(theme("light"), rankdir="TB"))


def test_dot_is_deterministic():
    a = render_figure(load("densenet121"), "dot", FigureOptions(view="blocks", shapes=True))
    b = render_figure(load("densenet121"), "dot", FigureOptions(view="blocks", shapes=True))
    assert a == b


def test_layout_caps_only_for_big_graphs():
    small = render_figure(load("resnet18"), "dot", FigureOptions(view="stages")).decode()
    big = render_figure(load("resnet152"), "dot", FigureOptions(view="layers")).decode()
    assert "nslimit" not in small
    assert "nslimit=0.2" in big and "nslimit1=0.2" in big


def test_golden_files_exist():
    assert {p.name for p in Path(GOLDEN).glob("*.dot")} >= {"lenet5.dot", "alexnet.dot"}


def test_golden_featuremaps_svg():
    """The feature-map figure is SVG written by archdsl itself: the same bytes everywhere."""
    svg = render_figure(load("specs/alexnet.arch"), "svg",
                        FigureOptions(style="featuremaps")).decode()
    check_golden(ROOT / "tests" / "golden" / "svg" / "alexnet_featuremaps.svg", svg)
    assert "Conv 11x11, 96, /4" in svg and "4096" in svg  # an FC bar: its size below it
    # sizes along the edges: the height turned up the front face, the width along the receding
    # edge, the channels under the front face
    assert 'transform="rotate(-90 ' in svg and 'transform="rotate(-45 ' in svg
    assert ">96</text>" in svg and ">55</text>" in svg and "96×55×55" not in svg


def _clusters(items, out=None):
    out = {} if out is None else out
    for item in items:
        if isinstance(item, Cluster):
            out[item.title] = item
            _clusters(item.items, out)
    return out


def _box_ids(cluster) -> set[str]:
    ids = set()
    for item in cluster.items:
        ids |= _box_ids(item) if isinstance(item, Cluster) else {item.id}
    return ids


@pytest.mark.parametrize("name, stages", [
    ("efficientnet_b0", [f"features.{k}" for k in range(1, 8)]),
    ("convnext_tiny", ["features.1", "features.3", "features.5", "features.7"]),
    ("regnet_y_400mf", ["block1", "block2", "block3", "block4"]),
    ("mnasnet1_0", [f"layers.{k}" for k in range(8, 14)]),
    ("resnet50", ["layer1", "layer2", "layer3", "layer4"])])
def test_blocks_view_folds_modern_parts_and_frames_every_stage(name, stages):
    """Squeeze-excitation, stochastic depth and layer scale fold into their block's box; each
    stage is one frame in the DOT, on rows of its own, and the rows read in network order."""
    model = archdsl.load(name)
    diagram = build_diagram(model, Options(view="blocks"))
    folded_kinds = {model.graph.node(k).op.name for b in diagram.boxes() if b.scope
                    for k in b.keys}
    drawn_alone = {model.graph.node(b.keys[0]).op.name for b in diagram.boxes()
                   if not b.scope and not b.io}
    assert not drawn_alone & {"Mul", "StochasticDepth", "LayerScale", "Sigmoid"}
    assert name in ("resnet50", "mnasnet1_0") or \
        folded_kinds & {"Mul", "StochasticDepth", "LayerScale"}
    clusters = _clusters(diagram.items)
    dot = to_dot(diagram, Look(theme("light")))
    rows = wrap.rows(diagram, theme("light"))
    row_of = {box_id: i for i, row in enumerate(rows) for box_id in row}
    for stage in stages:
        cluster = clusters[stage]
        assert f'subgraph "{cluster.id}"' in dot, f"{stage} is not framed"
        own = {row_of[i] for i in _box_ids(cluster) if i in row_of}
        assert all(box_id in _box_ids(cluster) for r in own for box_id in rows[r])
    flat = [box_id for row in rows for box_id in row]
    trunk = wrap.trunk(diagram)
    assert flat == trunk  # rows hold the trunk in order


def test_expand_opens_a_box_in_every_view_or_is_refused():
    """`--expand` draws what it names one level finer; where nothing is a box to open (the
    layers view), it is refused with the reason instead of changing nothing."""
    from archdsl.render.diagram import NothingToExpand, check_expansions

    blocks = diagram("resnet50", view="blocks")
    opened = diagram("resnet50", view="blocks", expand=("layer2",))
    layer2 = _clusters(opened.items)["layer2"]
    assert [c.title for c in layer2.items] == [
        "layer2.0: Bottleneck(128, stride=2)", "layer2.1: Bottleneck(128)",
        "layer2.2: Bottleneck(128)", "layer2.3: Bottleneck(128)"]
    assert "layer3.0" in titles(opened) and len(opened.boxes()) > len(blocks.boxes())
    assert opened.unopened == []
    one = diagram("resnet50", view="blocks", expand=("layer2.1",))
    assert [c.title for c in _clusters(one.items)["layer2"].items if isinstance(c, Cluster)] \
        == ["layer2.1: Bottleneck(128)"]
    # auto with an expansion chooses among the views that have boxes to open
    assert diagram("resnet50", expand=("layer2",)).view == "blocks"
    layers = diagram("resnet50", view="layers", expand=("layer2",))
    assert layers.unopened == ["layer2"]
    with pytest.raises(NothingToExpand, match="layers view draws every layer"):
        check_expansions(layers)
    with pytest.raises(NothingToExpand):
        render_figure(load("resnet50"), "dot", FigureOptions(view="layers", expand=("layer2",)))


def test_featuremaps_choose_the_view_as_the_graph_style_does():
    from archdsl.render.featuremaps import columns as fm_columns

    model = load("vgg16")
    cols, d = fm_columns(model, Options())
    kinds = [model.graph.node(b.keys[0]).op.family for b, _ in cols if not b.io]
    assert d.view == diagram("vgg16").view == "layers"
    assert kinds.count("conv") == 13 and kinds.count("pool") == 6  # 5 max, 1 adaptive avg
    r50, d50 = fm_columns(load("resnet50"), Options())
    assert d50.view == diagram("resnet50").view == "blocks"
    assert "layer2.0" in [b.title for b, _ in r50]


def test_deep_layers_view_wraps_into_columns_in_network_order():
    """The layers view of a ResNet is cut into columns between whole blocks; a stage over
    several columns has a frame per column (`layer3 (continued)`), columns start on one rank
    and read left to right in network order."""
    from archdsl.render import columns as cl
    from archdsl.render.graphviz_render import COLUMN

    for name in ("resnet50", "resnet152"):
        d = diagram(name, view="layers")
        cols = cl.columns(d, theme("light"))
        assert len(cols) >= 4
        col_of = {i: n for n, c in enumerate(cols) for i in c}
        assert set(col_of) == {b.id for b in d.boxes()}
        for cluster in _clusters(d.items).values():
            if ":" in cluster.title:  # a block: whole in one column
                assert len({col_of[i] for i in _box_ids(cluster)}) == 1, cluster.title
        rank = cl._ranks(d)
        firsts = [min(rank[i] for i in c) for c in cols]
        lasts = [max(rank[i] for i in c) for c in cols]
        assert all(a < b for a, b in zip(lasts, firsts[1:], strict=False))  # in order
        dot = to_dot(d, Look(theme("light")))
        assert dot.count(f'subgraph "{COLUMN}') == len(cols)
        assert "layer3 (continued)" in dot and "rank=same" in dot
        width = sum(cl._Sizes(d, theme("light")).width(c, 1) for c in cols)
        height = max(cl._Sizes(d, theme("light")).height(c) for c in cols)
        assert 0.8 < width / height < 3.5  # a slide, not a 1:13 strip
    # small or side-headed diagrams stay top to bottom
    assert cl.columns(diagram("lenet5", view="layers"), theme("light")) == []
    assert cl.columns(diagram("googlenet", view="layers"), theme("light")) == []


def test_shapes_only_where_a_block_changes_them():
    d = diagram("resnet50", view="stages", expand=("layer2",), shapes=True)
    ids = {b.title: b.id for b in d.boxes()}
    labels = {(e.src, e.dst): e.label for e in d.edges}
    assert labels[(ids["layer2.0"], ids["layer2.1"])] == "512x28x28"  # downsampled, widened
    assert labels[(ids["layer2.1"], ids["layer2.2"])] == ""  # a block that keeps the shape
    assert labels[(ids["layer1"], ids["layer2.0"])] == "256x56x56"


def test_text_that_does_not_collide():
    """A bold title with an underscore gets a little space under it (the underscore reached
    into the line below: DPN's `conv2_1`)."""
    dot = to_dot(diagram("dpn68", view="blocks"), Look(theme("light")))
    (label,) = [line for line in dot.splitlines() if "<B>conv2_1</B>" in line]
    assert "<B>conv2_1</B><BR/><FONT POINT-SIZE" in label
    (plain,) = [line for line in dot.splitlines() if "<B>Input</B>" in line]
    assert "<B>Input</B><BR/><FONT FACE" in plain


def test_subtitle_says_what_the_parameter_count_includes():
    assert "13M params (6.6M without the side heads aux1, aux2) · " in diagram(
        "googlenet").subtitle
    assert "25.6M params · " in diagram("resnet50").subtitle


def test_densenet_final_bn_relu_fold_like_the_stem():
    d = diagram("densenet121", view="stages")
    assert box(d, "BN").folded == ["ReLU"]
    assert "ReLU" not in titles(d)


def test_one_font_family_and_no_pdf_margin():
    t = theme("light")
    dot = render_figure(load("lenet5"), "dot").decode()
    svg = render_figure(load("lenet5"), "svg", FigureOptions(style="featuremaps")).decode()
    assert f'fontname="{t.font}"' in dot and f'font-family="{t.font}"' in svg
    assert "," in t.font  # a family list: Graphviz's own alias for a bare Helvetica differs
    assert "margin=0" in dot.splitlines()[1]


def test_print_legend_block_swatch_has_a_double_border():
    dot = render_figure(load("densenet121"), "dot", FigureOptions(theme="print")).decode()
    legend = dot.splitlines()[1]
    cells = legend.split("<TD")
    (swatch,) = [i for i, c in enumerate(cells) if "block / stage" in c]
    assert "<TABLE BORDER=\"1\"" in cells[swatch - 2]  # a frame within a frame
    pool = [i for i, c in enumerate(cells) if "pooling" in c][0]
    assert "TABLE" not in cells[pool - 1] and 'BORDER="3"' in cells[pool - 1]


def test_gallery_lists_every_figure_the_script_makes():
    """docs/gallery.md shows each PNG `docs/gallery/make.py` writes, and each is committed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make", ROOT / "docs" / "gallery" / "make.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    page = (ROOT / "docs" / "gallery.md").read_text()
    for name, _, _ in make.FIGURES:
        assert f"(gallery/{name}.png)" in page, name
        assert (ROOT / "docs" / "gallery" / f"{name}.png").is_file(), name


def test_featuremaps_draw_the_next_kernel_with_projection_lines():
    """As in the LeNet-5 and AlexNet papers: the next layer's kernel as a patch on each output's
    face, two projection lines to the next output (AlexNet: 8 kernels, none into an FC
    layer). AlexNet's 11 outputs and its input fit one row of a 16:9 slide (1600 px)."""
    svg = render_figure(load("specs/alexnet.arch"), "svg",
                        FigureOptions(style="featuremaps")).decode()
    assert svg.count("stroke-dasharray") == 2 * 8
    assert "<polyline" not in svg  # no arrow wrapping to a second row
    width = float(re.search(r'<svg [^>]*width="([0-9.]+)"', svg).group(1))
    assert width <= 1600


def test_featuremap_scales_keep_downsampling_visible():
    from archdsl.render.featuremaps import _extent, depth, spatial

    assert spatial(224, "sqrt") == pytest.approx(spatial(224)) and spatial(1, "linear") == 12
    for scale in ("log", "sqrt", "linear"):  # 256x56x56 and 2048x7x7 must not look alike
        a, b = (256, 56, 56), (2048, 7, 7)
        assert spatial(56, scale) > 1.5 * spatial(7, scale)
        assert depth(2048, scale) > depth(256, scale)
    assert spatial(56, "sqrt") / spatial(7, "sqrt") > spatial(56) / spatial(7)
    assert _extent(a, "sqrt") != _extent(b, "sqrt")
    svg = render_figure(load("resnet50"), "svg", FigureOptions(style="featuremaps",
                                                               scale="sqrt")).decode()
    assert "2048×7×7" in svg
    with pytest.raises(ValueError, match="unknown scale"):
        FigureOptions(scale="cubic").check()


def _title_crossings(dot_source: str) -> list[tuple[str, str, str]]:
    """(tail, head, cluster) of each edge whose drawn spline passes through a cluster's title,
    from the layout `dot -Tjson` gives (label boxes and Bézier control points, in points)."""
    import json
    import subprocess

    laid = json.loads(subprocess.run(["dot", "-Tjson"], input=dot_source, capture_output=True,
                                     text=True, check=True).stdout)
    names = {o["_gvid"]: o["name"] for o in laid["objects"]}
    titles = []
    for o in laid["objects"]:
        if o.get("lp") and o.get("lwidth"):
            x, y = map(float, o["lp"].split(","))
            w, h = float(o["lwidth"]) * 36, float(o["lheight"]) * 36  # half, in points
            titles.append((o["name"], x - w, y - h, x + w, y + h))
    hits = []
    for e in laid.get("edges", []):
        points = []
        for op in e.get("_draw_", []):
            p = op.get("points", []) if op["op"] in "bB" else []
            for i in range(0, len(p) - 3, 3):
                for k in range(21):
                    t = k / 20
                    points.append([(1 - t) ** 3 * p[i][j] + 3 * (1 - t) ** 2 * t * p[i + 1][j]
                                   + 3 * (1 - t) * t * t * p[i + 2][j] + t ** 3 * p[i + 3][j]
                                   for j in (0, 1)])
        hits += [(names[e["tail"]], names[e["head"]], name) for name, x0, y0, x1, y1 in titles
                 if any(x0 <= x <= x1 and y0 <= y <= y1 for x, y in points)]
    return hits


def test_edges_of_a_deep_layers_view_keep_off_the_block_titles():
    """ResNet-50's layers view in columns: an edge into a block used to run from the ReLU above
    through the block's title to its first conv, and skip lines through the title's end."""
    dot = to_dot(diagram("resnet50", view="layers"), Look(theme("light")))
    assert 'compound="true"' in dot
    # into a block's first box: the edge ends at the block's frame, above its title
    assert '"n15" -> "n16" [lhead="cluster_layer1_1"]' in dot
    # the identity skip line to the `+` leaves and enters on the right, beside the titles
    assert '"n26" -> "n36" [tailport="e" headport="e"]' in dot
    # the call under the name: a narrow title the skip lines pass
    assert 'label=<<B>layer1.1</B><BR ALIGN="LEFT"/>Bottleneck(64)<BR ALIGN="LEFT"/>>' in dot
    # a stage's continued frame has an id of its own (`cluster_layer2_1` is block layer2.1's:
    # DOT took the two for one subgraph)
    clusters = re.findall(r'subgraph "([^"]+)"', dot)
    assert len(clusters) == len(set(clusters)) and "cluster_layer2:continued1" in clusters
    assert _title_crossings(dot) == []
    small = to_dot(diagram("resnet18", view="layers"), Look(theme("light")))
    assert _title_crossings(small) == []
