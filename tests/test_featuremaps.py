"""The feature-map style beyond a straight trunk: skip arcs into a `+` (ResNet), branches stacked
between split and merge (Inception), an encoder-decoder drawn as a U (U-Net), and the sizes
written along the cuboids' edges. These read the SVG archdsl writes (its own, so exact goldens
hold everywhere) with xml.etree."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import archdsl
from archdsl.render import lanes
from archdsl.render.diagram import Options
from archdsl.render.featuremaps import _diagram, _u_levels
from archdsl.render.figures import FigureOptions, render_figure
from conftest import ROOT, check_golden

NS = "{http://www.w3.org/2000/svg}"
GOLDEN = ROOT / "tests" / "golden" / "svg"


@pytest.fixture(scope="module")
def models():
    return {}


def model(models, name):
    if name not in models:
        models[name] = archdsl.load(name)
    return models[name]


def svg_of(models, name, **options) -> str:
    return render_figure(model(models, name), "svg",
                         FigureOptions(style="featuremaps", **options)).decode()


def texts(svg: str) -> list[tuple[str, float, float]]:
    """(text, x, y) of every text drawn, in document order."""
    root = ET.fromstring(svg)
    return [(el.text, float(el.get("x")), float(el.get("y")))
            for el in root.iter(f"{NS}text") if el.text]


def where(svg: str, text: str) -> list[tuple[float, float]]:
    return [(x, y) for t, x, y in texts(svg) if t == text]


def arcs(svg: str) -> list[list[tuple[float, float]]]:
    """The points of every curve (a skip arc), start, controls and ends."""
    root = ET.fromstring(svg)
    out = []
    for el in root.iter(f"{NS}path"):
        nums = [float(n) for n in re.findall(r"-?[0-9.]+", el.get("d"))]
        out.append(list(zip(nums[::2], nums[1::2], strict=True)))
    return out


def test_structure_finds_skips_branches_and_nesting(models):
    r18 = lanes.structure(_diagram(model(models, "resnet18"), Options(view="layers")))
    splits = [s for s in r18 if isinstance(s, lanes.Split)]
    assert len(splits) == 8  # one per BasicBlock
    assert sum(s.skip for s in splits) == 5  # identity shortcuts; 3 projections are a lane
    assert all(len(s.lanes) == 2 for s in splits if not s.skip)
    goo = lanes.structure(_diagram(model(models, "googlenet"), Options(expand=("inception3a",))))
    (inception,) = [s for s in goo if isinstance(s, lanes.Split)]
    assert [len(lane) for lane in inception.lanes] == [1, 2, 2, 2] and not inception.skip
    unet = lanes.structure(_diagram(model(models, "specs/unet.arch"), Options()))
    assert lanes.skip_depth(unet) == 4
    levels, bottom = _u_levels(unet)
    assert len(levels) == 4 and len(bottom) == 4  # pool, conv, conv, up-convolution
    # a residual block with squeeze-excitation nests skips too, but spans no network's middle
    ry = lanes.structure(_diagram(model(models, "regnet_y_400mf"), Options(view="layers")))
    assert lanes.skip_depth(ry) == 2 and _u_levels(ry) is None


def test_resnet_stage_draws_skip_arcs_into_a_plus(models):
    svg = svg_of(models, "resnet18", expand=("layer1",))
    root = ET.fromstring(svg)
    circles = [(float(c.get("cx")), float(c.get("cy")), float(c.get("r")))
               for c in root.iter(f"{NS}circle")]
    assert len(circles) == 2  # layer1's two BasicBlocks, each a + where its shortcut joins
    paths = arcs(svg)
    assert len(paths) == 2
    convs = where(svg, "Conv 3x3, 64")
    assert len(convs) == 4
    for (cx, cy, r), path, first in zip(circles, paths, convs[::2], strict=True):
        (x0, y0), (x1, y1) = path[0], path[-1]
        assert x0 < first[0] < x1 == pytest.approx(cx)  # from before the block into the +
        assert y1 < cy - r and abs(y0 - cy) < 1  # down onto the + from the row's centre line
        assert min(y for _, y in path) < first[1] - 10  # over the labels of the skipped layers
    assert where(svg, "ReLU")[-1][1] > circles[-1][1]  # the ReLU after the +: under it
    # a projection shortcut: a dashed arc with its layer written on it
    full = svg_of(models, "resnet18", view="layers")
    assert len(where(full, "Projection 1x1, 128, /2")) == 1
    assert len(re.findall(r'<path [^>]*stroke-dasharray', full)) == 3
    assert len(arcs(full)) == 8


def test_inception_branches_stack_between_split_and_concat(models):
    svg = svg_of(models, "googlenet", expand=("inception3a",))
    split = where(svg, "MPool 3x3, /2")[1]  # the pooling before inception3a
    (concat,) = where(svg, "Concat")
    heads = [where(svg, name)[0] for name in ("branch1", "branch2.0", "branch3.0", "branch4.1")]
    ys = [y for _, y in heads]
    assert ys == sorted(ys) and ys[-1] - ys[0] > 200  # one lane under the other
    assert all(split[0] < x < concat[0] for x, _ in heads)
    assert split[1] == concat[1]  # the trunk carries on on one line


def test_unet_is_drawn_as_a_u(models):
    svg = svg_of(models, "specs/unet.arch")
    concats = where(svg, "Crop + Concat")
    assert len(concats) == 4
    pools = where(svg, "MPool 2x2, /2")
    ups = [p for t, *p in texts(svg) if t.startswith("UpConv 2x2")]
    assert len(pools) == 4 and len(ups) == 4
    (first_enc, _), (head, _) = where(svg, "Input")[0], where(svg, "Conv 1x1, 2")[0]
    # the encoder goes down the left and the decoder up the right, the deeper the further in
    pool_x, pool_y = zip(*pools, strict=True)
    concat_x, concat_y = zip(*concats, strict=True)
    assert list(pool_y) == sorted(pool_y) and list(pool_x) == sorted(pool_x)
    # drawn by scale from the top: each decoder level lower and further left than the last
    assert list(concat_y) == sorted(concat_y) and list(concat_x) == sorted(concat_x)[::-1]
    assert min(concat_x) > max(pool_x)
    assert all(abs(cy - py) < 30 for cy, py in zip(concat_y[1:], pool_y, strict=False))
    assert first_enc < min(pool_x) and head > max(concat_x)
    bottom = max(y for _, y in ups)
    assert bottom == max(pool_y) > max(concat_y)  # the bottom row: down and back up, lowest
    root = ET.fromstring(svg)
    width = float(root.get("width"))
    height = float(root.get("height"))
    assert 0.7 < width / height < 1.6  # a U, not a long band
    # a long skip across each scale: an arrow from its encoder into its concatenation
    lines = [tuple(float(el.get(k)) for k in ("x1", "y1", "x2", "y2"))
             for el in root.iter(f"{NS}line")]
    for cx, cy in concats:
        assert any(y1 == y2 and cy < y1 < cy + 250 and cx - 100 < x2 < cx and x2 - x1 > 2 * 34
                   for x1, y1, x2, y2 in lines), (cx, cy)


def test_sizes_along_the_edges_or_below_when_small(models):
    svg = svg_of(models, "resnet18", expand=("layer1",))
    assert "512×1×1" in svg  # the pooled map is flat: its size goes below it
    assert "64×56×56" not in svg  # layer1's maps have theirs along the edges
    edges = re.findall(r'rotate\((-?\d+) ', svg)
    assert edges.count("-90") == edges.count("-45") >= 6


def test_deterministic_and_golden(models):
    for name, options, golden in [("resnet18", {"expand": ("layer1",)}, "resnet18_layer1"),
                                  ("specs/unet.arch", {}, "unet")]:
        svg = svg_of(models, name, **options)
        assert svg == svg_of(models, name, **options)
        check_golden(GOLDEN / f"{golden}_featuremaps.svg", svg)


def test_everything_is_drawn_through_the_svg_primitives():
    """The TikZ canvas mirrors `_Svg`: nothing may write SVG outside it."""
    source = Path(ROOT / "archdsl" / "render" / "featuremaps.py").read_text()
    start, end = source.index("class _Svg"), source.index("\ndef _dash")
    outside = source[:start] + source[end:]
    assert ".parts" not in outside
    for tag in ("<svg", "<line", "<rect", "<polygon", "<text", "<path", "<circle"):
        assert tag not in outside, tag
