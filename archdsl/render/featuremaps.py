"""The feature-map figure of the papers and lecture slides (LeNet, AlexNet), as SVG.

Contract: `featuremaps_svg(model, look, options)` returns SVG text: the trunk of the model (the
boxes of the diagram view, chosen as for the graph style (`auto`: VGG-16 draws its 13
convolutions and 5 poolings, ResNet-50 its blocks), that every path from the input to the main
output passes through,
so side heads and the inside of branches are left out) drawn left to right, each output as a
box whose height is the feature map's height, whose receding side is its width and whose depth
along the flow is its channels, all log-scaled so 224 and 7 both stay visible (`scale="sqrt"`
or `"linear"` makes downsampling read stronger: 256x56x56 and 2048x7x7 differ more). FC outputs are
thin bars. Above each box: its name and label (kernel and stride, `Conv 11x11, 96, /4`; a block
or stage as one box, `layer2` / `Bottleneck ×4`); below it: its size (C×H×W, as everywhere in
archdsl). Elementwise layers (ReLU, LRN, dropout) change no shape and are folded into the box
before them. Deterministic: the same model and options give byte-identical SVG.

Everything is drawn through a canvas, `_Svg` here or `tikz.Tikz` (`featuremaps_tex`: the same
figure as TikZ for LaTeX), so a new part of the figure is a call on the canvas, never raw SVG.
"""

from __future__ import annotations

import math
from html import escape

from archdsl.ops.base import Shape
from archdsl.render import wrap
from archdsl.render.choices import SCALES  # log, sqrt, linear: `--scale`
from archdsl.render.diagram import Box, Diagram, Options, build_diagram
from archdsl.render.graphviz_render import LEGEND_PER_ROW, Look
from archdsl.render.themes import LEGEND, Theme
from archdsl.render.themes import mix as _mix

GAP = 34.0  # px between columns (the arrow)
PAD = 24.0
MAX_ROW = 1600.0  # px, a 16:9 slide's width at 1600x900; a longer trunk wraps into rows
ROW_GAP = 28.0
CHAR = 0.56  # average advance, em




def _scaled(n: float, top: float, per_octave: float, scale: str) -> float:
    """A length for n: `per_octave` px per doubling (log, the default: 224 and 7 both stay
    visible), or the same length at `top` with square-root (downsampling reads stronger) or
    linear (true proportions) growth."""
    n = max(n, 1)
    if scale == "sqrt":
        return per_octave * math.log2(top) * (math.sqrt(n) - 1) / (math.sqrt(top) - 1)
    if scale == "linear":
        return per_octave * math.log2(top) * (n - 1) / (top - 1)
    return per_octave * math.log2(n)


def spatial(n: int, scale: str = "log") -> float:
    """Drawn height (px) of a spatial size: 224 -> 121 and, by scale, 56 -> 93 / 63 / 39,
    7 -> 51 / 25 / 15, 1 -> 12."""
    return 12 + _scaled(n, 224, 14, scale)


def depth(c: int, scale: str = "log") -> float:
    """Drawn depth (px) of a channel count: 2048 -> 70 and, by scale, 256 -> 52 / 26 / 12,
    64 -> 40 / 14 / 6."""
    return 4 + _scaled(c, 2048, 6, scale)


def bar(f: int, scale: str = "log") -> float:
    """Drawn height (px) of a vector: 4096 -> 116 and, by scale, 1000 -> 98 / 60 / 34."""
    return 8 + _scaled(f, 4096, 9, scale)


def _dims(shape: Shape, scale: str) -> tuple[float, float, float]:
    """Depth (channels, along the flow), height and receding width of a drawn output."""
    if len(shape) == 3:
        return depth(shape[0], scale), spatial(shape[1], scale), spatial(shape[2], scale) * 0.45
    return 8.0, bar(shape[0] if shape else 1, scale), 0.0


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


class _Svg:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def poly(self, points: list[tuple[float, float]], fill: str, stroke: str) -> None:
        pts = " ".join(f"{_f(x)},{_f(y)}" for x, y in points)
        self.parts.append(f'<polygon points="{pts}" fill="{fill}" stroke="{stroke}" '
                          'stroke-width="1" stroke-linejoin="round"/>')

    def text(self, x: float, y: float, text: str, size: float, colour: str, bold: bool = False,
             anchor: str = "middle") -> None:
        weight = ' font-weight="bold"' if bold else ""
        self.parts.append(f'<text x="{_f(x)}" y="{_f(y)}" font-size="{_f(size)}" '
                          f'fill="{colour}" text-anchor="{anchor}"{weight}>{escape(text)}</text>')

    def path(self, points: list[tuple[float, float]], colour: str) -> None:
        pts = " ".join(f"{_f(x)},{_f(y)}" for x, y in points)
        self.parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" '
                          'stroke-width="1.4" stroke-linejoin="round"/>')

    def arrow(self, x1: float, x2: float, y: float, colour: str) -> None:
        self.line(x1, y, x2 - 6, y, colour, 1.4)
        self.poly([(x2, y), (x2 - 7, y - 3.5), (x2 - 7, y + 3.5)], colour, colour)

    def line(self, x1: float, y1: float, x2: float, y2: float, colour: str, width: float = 1.0,
             dash: str | None = None) -> None:
        """A straight line; `dash`: "on,off" lengths (px), or None for solid."""
        self.parts.append(f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" '
                          f'stroke="{colour}" stroke-width="{_f(width)}"{_dash(dash)}/>')

    def background(self, width: float, height: float, colour: str) -> None:
        self.parts.append(f'<rect width="100%" height="100%" fill="{colour}"/>')

    def document(self, width: float, height: float, theme: Theme, name: str) -> str:
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(width)}" '
                f'height="{_f(height)}" viewBox="0 0 {_f(width)} {_f(height)}" '
                f'font-family="{theme.font}">')
        body = "\n".join(self.parts)
        return ('<?xml version="1.0" encoding="UTF-8"?>\n' + head + "\n"
                f"<title>{escape(name)}</title>\n" + body + "\n</svg>\n")


def _dash(dash: str | None) -> str:
    return f' stroke-dasharray="{dash}"' if dash else ""


def _cuboid(svg: _Svg, x: float, cy: float, shape: Shape, fill: str, stroke: str,
            theme: Theme, scale: str) -> float:
    """Draw one output at left edge x, centred on cy; returns its drawn width."""
    d, hh, rec = _dims(shape, scale)
    top, bottom = cy - hh / 2 + rec * 0.35, cy + hh / 2 + rec * 0.35
    dx, dy = rec * 0.7, -rec * 0.7
    shade = "#000000" if theme.name != "dark" else "#000000"
    light = "#ffffff"
    if rec:
        svg.poly([(x, top), (x + d, top), (x + d + dx, top + dy), (x + dx, top + dy)],
                 _mix(fill, light, 0.45), stroke)
        svg.poly([(x + d, top), (x + d + dx, top + dy), (x + d + dx, bottom + dy),
                  (x + d, bottom)], _mix(fill, shade, 0.12), stroke)
    svg.poly([(x, top), (x + d, top), (x + d, bottom), (x, bottom)], fill, stroke)
    return d + dx


def _extent(shape: Shape, scale: str = "log") -> tuple[float, float, float]:
    """Width, height above the centre line and below it, of a drawn output."""
    d, hh, rec = _dims(shape, scale)
    return d + rec * 0.7, hh / 2 + rec * 0.35, hh / 2 + rec * 0.35


def _text_width(text: str, size: float) -> float:
    return len(text) * size * CHAR


def columns(model, options: Options) -> tuple[list[tuple[Box, Shape]], Diagram]:
    """The trunk's boxes with the shape each one outputs (input first, output markers left
    out), and the diagram they come from."""
    view = options.view
    if view == "auto":  # the same choice as the graph style's
        view = build_diagram(model, Options(view="auto", expand=options.expand)).view
    if view == "layers":  # every block open, with elementwise layers folded (blocks view)
        diagram = build_diagram(model, Options(view="blocks", expand=("*",)))
        diagram.view = "layers"
    else:
        diagram = build_diagram(model, Options(view=view, expand=options.expand))
    by_id = {b.id: b for b in diagram.boxes()}
    graph = model.graph
    position = {n.key: i for i, n in enumerate(graph.order())}
    out = []
    for box_id in wrap.trunk(diagram):
        box = by_id[box_id]
        if box.io and box_id != diagram.boxes()[0].id:
            continue
        last = max(box.keys, key=position.__getitem__)
        out.append((box, tuple(graph.node(last).ann.out_shape or ())))
    return out, diagram


def _rows(widths: list[float]) -> list[list[int]]:
    """Columns in rows of at most MAX_ROW px (a long trunk wraps like text), as even as can be."""
    total = sum(widths) + GAP * (len(widths) - 1)
    n_rows = max(1, math.ceil(total / MAX_ROW))
    target = total / n_rows
    rows: list[list[int]] = [[]]
    used = 0.0
    for i, w in enumerate(widths):
        if rows[-1] and used + GAP + w > target * 1.08 and len(rows) < n_rows:
            rows.append([])
            used = 0.0
        used += (GAP if rows[-1] else 0) + w
        rows[-1].append(i)
    return rows


def featuremaps_svg(model, look: Look, options: Options | None = None,
                    scale: str = "log") -> str:
    """The feature-map figure of `model` as SVG text (see the module docstring); `scale`
    maps sizes to lengths (SCALES)."""
    return draw_featuremaps(_Svg(), model, look, options, scale)


def featuremaps_tex(model, look: Look, options: Options | None = None,
                    scale: str = "log") -> str:
    """The same figure as a LaTeX document of one TikZ picture (`archdsl.render.tikz`)."""
    from archdsl.render.tikz import Tikz

    return draw_featuremaps(Tikz(look.theme), model, look, options, scale)


def draw_featuremaps(svg: _Svg, model, look: Look, options: Options | None = None,
                     scale: str = "log") -> str:
    """The figure drawn on the canvas `svg` (an `_Svg`, or a `tikz.Tikz` with the same
    methods), returned as that canvas's document text."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    options = options or Options()
    theme = look.theme
    cols, diagram = columns(model, options)
    size, small = theme.font_size - 1, theme.small_size
    heads, widths, ups, downs = [], [], [], []
    for box, shape in cols:
        head = [box.title] if box.io else _head(box)
        heads.append(head)
        w, up, down = _extent(shape, scale)
        text_w = max([_text_width(t, size) for t in head] +
                     [_text_width(_size_text(shape), small)])
        widths.append(max(w, text_w))
        ups.append(up)
        downs.append(down)
    rows = _rows(widths)
    title = diagram.name if look.title is None else look.title
    title_h = (theme.title_size * 1.6 + small * 1.8) if title else 0
    families = [f for f in LEGEND if f in {b.family for b, _ in cols if not b.io}]
    legend_h = small * 2.2 if (look.legend and families) else 0
    label_h = max(len(h) for h in heads) * size * 1.25 + 8
    row_h = label_h + max(ups) + max(downs) + small * 1.4 + 10
    width = PAD * 2 + max(sum(widths[i] for i in row) + GAP * (len(row) - 1) for row in rows)
    height = PAD * 2 + title_h + legend_h + row_h * len(rows) + ROW_GAP * (len(rows) - 1)
    legend_w = sum(30 + _text_width(LEGEND[f], small) for f in families[:LEGEND_PER_ROW])
    width = max(width, legend_w + 2 * PAD, _text_width(title or "", theme.title_size) + 2 * PAD)

    if not look.transparent:
        svg.background(width, height, _bg(theme.background))
    y = PAD
    if title:
        svg.text(width / 2, y + theme.title_size, title, theme.title_size, theme.text, True)
        svg.text(width / 2, y + theme.title_size * 1.6 + small, diagram.subtitle, small + 1,
                 theme.muted)
        y += title_h
    if legend_h:
        x = (width - legend_w) / 2
        for fam in families[:LEGEND_PER_ROW]:
            col = theme.family(fam)
            svg.poly([(x, y + 2), (x + 18, y + 2), (x + 18, y + 14), (x, y + 14)], col.fill,
                     col.border)
            svg.text(x + 24, y + 12, LEGEND[fam], small, theme.text, anchor="start")
            x += 30 + _text_width(LEGEND[fam], small)
        y += legend_h
    left_of: dict[int, float] = {}
    centre: dict[int, float] = {}
    for r, row in enumerate(rows):
        cy = y + r * (row_h + ROW_GAP) + label_h + max(ups)
        x = PAD
        for i in row:
            box, shape = cols[i]
            col = theme.family(box.family)
            w, _, _ = _extent(shape, scale)
            left_of[i] = x + (widths[i] - w) / 2
            centre[i] = cy
            _cuboid(svg, left_of[i], cy, shape, col.fill, col.border, theme, scale)
            mid = x + widths[i] / 2
            top = cy - max(ups) - 8
            for j, line in enumerate(heads[i]):
                svg.text(mid, top - (len(heads[i]) - 1 - j) * size * 1.25, line, size,
                         theme.text, bold=j == 0 and (box.scope or box.io))
            svg.text(mid, cy + downs[i] + small + 6, _size_text(shape), small, theme.muted)
            x += widths[i] + GAP
    for i in range(len(cols) - 1):
        if centre[i] == centre[i + 1]:
            _kernel(svg, model, cols[i][1], cols[i + 1], left_of[i], left_of[i + 1],
                    centre[i], theme, scale)
    for i in range(len(cols) - 1):
        w, _, _ = _extent(cols[i][1], scale)
        start, end = left_of[i] + w + 4, left_of[i + 1] - 4
        if centre[i] == centre[i + 1]:
            svg.arrow(start, end, centre[i], theme.edge)
        else:  # to the start of the next row: down, back left, down, in
            below = centre[i] + max(downs) + small * 1.4 + 10 + ROW_GAP / 2
            svg.path([(start, centre[i]), (start + GAP / 2, centre[i]), (start + GAP / 2, below),
                      (PAD / 2, below), (PAD / 2, centre[i + 1])], theme.edge)
            svg.arrow(PAD / 2, end, centre[i + 1], theme.edge)
    return svg.document(width, height, theme, diagram.name)


def _kernel_size(model, box: Box) -> tuple[int, int] | None:
    """The kernel of the layer a box starts with (`11x11` -> (11, 11)); None for a block,
    an FC layer or a layer without a kernel."""
    if box.scope or box.io:
        return None
    node = model.graph.node(box.keys[0])
    if node.ann.params is None:
        return None
    kernel = node.op.cells(node.ann.params)[0]
    parts = kernel.split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def _kernel(svg: _Svg, model, shape: Shape, nxt: tuple[Box, Shape], x: float, x_next: float,
            cy: float, theme: Theme, scale: str) -> None:
    """The next layer's kernel as a patch on this output's face (height x width), with
    projection lines to the point of the next output it makes, as the LeNet-5 and AlexNet
    papers draw it."""
    nxt, next_shape = nxt
    kernel = _kernel_size(model, nxt)
    if kernel is None or len(shape) != 3:
        return
    _, h, w = shape
    d, hh, rec = _dims(shape, scale)
    top, bottom = cy - hh / 2 + rec * 0.35, cy + hh / 2 + rec * 0.35
    dx, dy = rec * 0.7, -rec * 0.7
    fh = min(max(kernel[0] / h, 5 / hh), 0.6)  # at least 5 px, so a 3x3 on 56 shows
    fw = min(max(kernel[1] / w, 5 / max(rec, 1)), 0.6)
    u0, v0 = 0.5 - fw / 2, max(0.04, 0.28 - fh / 2)  # above the arrow along the centre

    def at(u: float, v: float) -> tuple[float, float]:
        return x + d + u * dx, top + u * dy + v * (bottom - top)

    patch = [at(u0, v0), at(u0 + fw, v0), at(u0 + fw, v0 + fh), at(u0, v0 + fh)]
    col = theme.family(nxt.family)
    svg.poly(patch, _mix(col.fill, col.border, 0.35), col.border)
    _, up, _ = _extent(next_shape, scale)  # the next output's front face: its top edge, from cy
    mid_y = (patch[1][1] + patch[2][1]) / 2
    target = (x_next + 2, min(max(mid_y, cy - up + 0.6 * up), cy - 6))
    for corner in (patch[1], patch[2]):
        svg.line(*corner, *target, col.border, width=0.8, dash="3,2")


def _bg(colour: str) -> str:
    return "#ffffff" if colour == "white" else colour


def _head(box: Box) -> list[str]:
    """The lines above a box: a layer's label and what folded into it, one a line (narrow
    columns: AlexNet's 11 outputs fit one row), or a scope's name and content."""
    if box.scope:
        content = box.lines[0] if box.lines else ""
        return [box.title, f"{content} {box.badge}".strip()]
    return [box.title, *box.folded]


def _size_text(shape: Shape) -> str:
    return "×".join(str(int(d)) for d in shape)
