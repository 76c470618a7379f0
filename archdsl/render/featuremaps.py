"""The feature-map figure of the papers and lecture slides (LeNet, AlexNet), as SVG.

Contract: `featuremaps_svg(model, look, options)` returns SVG text: the boxes of the diagram
view (chosen as for the graph style, `auto`: VGG-16 draws its 13 convolutions and 5 poolings,
ResNet-50 its blocks; an encoder-decoder with nested long skips, U-Net, every layer) on the
paths from the input to the main output (side heads are left out), drawn left to right, each
output as a box whose height is the feature map's height, whose receding side is its width and
whose depth along the flow is its channels, all log-scaled so 224 and 7 both stay visible
(`scale="sqrt"` or `"linear"` makes downsampling read stronger: 256x56x56 and 2048x7x7 differ
more). FC outputs are thin bars. Above each box: its name and label (kernel and stride,
`Conv 11x11, 96, /4`; a block or stage as one box, `layer2` / `Bottleneck ×4`); its sizes
written along its edges as the LeNet and AlexNet papers do (height up the front face, width
along the receding edge, channels under the front face), or as C×H×W below it where they do
not fit (small and flat outputs, FC bars). Elementwise layers (ReLU, LRN, dropout) change no
shape and are folded into the box before them.

Where paths part and meet (`lanes.structure`): a branch beside an identity shortcut stays on
the line with the shortcut drawn as an arc over it into the merge (a `+` circle for Add; a
projection shortcut with one layer into a `+` is a dashed arc labelled with it, as in the
ResNet paper); other branches are stacked top to bottom between the split and the merge
(Inception); skips nested at least U_DEPTH deep whose outermost spans the network's middle draw
as a U: one row per scale, encoder on the left, decoder on the right, deeper scales lower and
further in, a long skip arrow across each row. A long chain wraps into rows (never inside a
skip). Deterministic: the same model and options give byte-identical SVG.

Everything is drawn through a canvas, `_Svg` here or `tikz.Tikz` (`featuremaps_tex`: the same
figure as TikZ for LaTeX), so a new part of the figure is a call on the canvas, never raw SVG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

from archdsl.ops.base import Shape
from archdsl.render import lanes, wrap
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
GLYPH_R = 9.0  # a merge's circle (Add's +)
FORK = 8.0  # px from a lanes unit's edge to where its branches part or meet
LANE_ARROW = 26.0  # the arrow into a lane
LANE_GAP = 18.0  # between stacked lanes
ARC_RISE = 14.0  # a skip arc over the labels it passes
ARC_STEP = 12.0  # between nested arcs
EDGE_MARGIN = 14.0  # room beside a cuboid for the sizes written along its edges
U_DEPTH = 2  # skips nested this deep (U-Net: 4) draw as a U
INDENT = 60.0  # each scale of a U further in than the one above
U_GAP = 26.0  # between the rows of a U
SKIP_MIN = 3 * GAP  # the shortest long skip across a U




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
    """The drawing primitives of the figure; everything drawn goes through these (a TikZ
    writer mirrors them)."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def poly(self, points: list[tuple[float, float]], fill: str, stroke: str) -> None:
        pts = " ".join(f"{_f(x)},{_f(y)}" for x, y in points)
        self.parts.append(f'<polygon points="{pts}" fill="{fill}" stroke="{stroke}" '
                          'stroke-width="1" stroke-linejoin="round"/>')

    def text(self, x: float, y: float, text: str, size: float, colour: str, bold: bool = False,
             anchor: str = "middle", rotate: float = 0.0) -> None:
        """Text with its baseline at y; `rotate`: degrees clockwise about (x, y)."""
        weight = ' font-weight="bold"' if bold else ""
        turn = f' transform="rotate({_f(rotate)} {_f(x)} {_f(y)})"' if rotate else ""
        self.parts.append(f'<text x="{_f(x)}" y="{_f(y)}" font-size="{_f(size)}" '
                          f'fill="{colour}" text-anchor="{anchor}"{weight}{turn}>'
                          f'{escape(text)}</text>')

    def path(self, points: list[tuple[float, float]], colour: str,
             dash: str | None = None) -> None:
        pts = " ".join(f"{_f(x)},{_f(y)}" for x, y in points)
        self.parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" '
                          f'stroke-width="1.4" stroke-linejoin="round"{_dash(dash)}/>')

    def line(self, x1: float, y1: float, x2: float, y2: float, colour: str, width: float = 1.0,
             dash: str | None = None) -> None:
        """A straight line; `dash`: "on,off" lengths (px), or None for solid."""
        self.parts.append(f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" '
                          f'stroke="{colour}" stroke-width="{_f(width)}"{_dash(dash)}/>')

    def curve(self, points: list[tuple[float, float]], colour: str, width: float = 1.4,
              dash: str | None = None) -> None:
        """Cubic Bezier segments joined end to end: a start point, then three points (two
        controls and an end) per segment."""
        (x0, y0), rest = points[0], points[1:]
        segs = " ".join("C " + " ".join(f"{_f(x)},{_f(y)}" for x, y in rest[i:i + 3])
                        for i in range(0, len(rest), 3))
        self.parts.append(f'<path d="M {_f(x0)},{_f(y0)} {segs}" fill="none" stroke="{colour}" '
                          f'stroke-width="{_f(width)}"{_dash(dash)}/>')

    def circle(self, x: float, y: float, r: float, fill: str, stroke: str) -> None:
        self.parts.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{_f(r)}" fill="{fill}" '
                          f'stroke="{stroke}" stroke-width="1.2"/>')

    def blank(self) -> _Svg:
        """An empty canvas of the same kind, to draw a part on before adding it."""
        return _Svg()

    def add(self, other: _Svg) -> None:
        """Another drawing's parts, drawn after (over) this one's."""
        self.parts += other.parts

    def arrow(self, x1: float, x2: float, y: float, colour: str) -> None:
        self.line(x1, y, x2 - 6, y, colour, 1.4)
        self.poly([(x2, y), (x2 - 7, y - 3.5), (x2 - 7, y + 3.5)], colour, colour)

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


def _diagram(model, options: Options) -> Diagram:
    """The diagram drawn: the view chosen as for the graph style, except that `auto` opens
    every block of an encoder-decoder with nested long skips (U-Net), which reads as a U."""
    view = options.view
    if view == "auto":  # the same choice as the graph style's
        view = build_diagram(model, Options(view="auto", expand=options.expand)).view
        if not options.expand:
            opened = _opened(model)
            if _u_levels(lanes.structure(opened)) is not None:
                return opened
    if view == "layers":
        return _opened(model)
    return build_diagram(model, Options(view=view, expand=options.expand))


def _opened(model) -> Diagram:
    """Every block open, with elementwise layers folded (the blocks view, all expanded)."""
    diagram = build_diagram(model, Options(view="blocks", expand=("*",)))
    diagram.view = "layers"
    return diagram


def _positions(model) -> dict[int, int]:
    return {n.key: i for i, n in enumerate(model.graph.order())}


def _shape_of(model, box: Box, position: dict[int, int]) -> Shape:
    """The shape of a box's last layer's output."""
    last = max(box.keys, key=position.__getitem__)
    return tuple(model.graph.node(last).ann.out_shape or ())


def columns(model, options: Options) -> tuple[list[tuple[Box, Shape]], Diagram]:
    """The trunk's boxes (those every path to the main output passes through) with the shape
    each one outputs (input first, output markers left out), and the diagram they come from.
    The figure draws these and, between them, the branches (see `lanes`)."""
    diagram = _diagram(model, options)
    by_id = {b.id: b for b in diagram.boxes()}
    position = _positions(model)
    out = []
    for box_id in wrap.trunk(diagram):
        box = by_id[box_id]
        if box.io and box_id != diagram.boxes()[0].id:
            continue
        out.append((box, _shape_of(model, box, position)))
    return out, diagram


def _rows(widths: list[float], breakable: list[bool] | None = None) -> list[list[int]]:
    """Columns in rows of at most MAX_ROW px (a long trunk wraps like text), as even as can be;
    a row starts only at a column that `breakable` allows (not under a skip arc)."""
    total = sum(widths) + GAP * (len(widths) - 1)
    n_rows = max(1, math.ceil(total / MAX_ROW))
    target = total / n_rows
    rows: list[list[int]] = [[]]
    used = 0.0
    for i, w in enumerate(widths):
        if rows[-1] and used + GAP + w > target * 1.08 and len(rows) < n_rows and \
                (breakable is None or breakable[i]):
            rows.append([])
            used = 0.0
        used += (GAP if rows[-1] else 0) + w
        rows[-1].append(i)
    return rows


# --- what is drawn: columns, lanes and arcs ---------------------------------------------------


@dataclass(eq=False)
class _Col:
    """One drawn output: a cuboid (or an FC bar, or a merge's circle) with its label above."""

    box: Box
    shape: Shape
    head: list[str]
    width: float  # of the column: the cuboid or its text, whichever is wider
    body: float  # of the cuboid
    up: float  # the cuboid above the centre line
    down: float
    glyph: str | None = None
    foot: list[str] = field(default_factory=list)  # under a merge: the ReLU after it
    edges: bool = False  # sizes written along the cuboid's edges, not below it
    x: float = 0.0  # the column's left, once placed
    cy: float = 0.0

    @property
    def left(self) -> float:  # the cuboid's
        return self.x + (self.width - self.body) / 2

    @property
    def in_x(self) -> float:
        return self.left - 4

    @property
    def out_x(self) -> float:
        return self.left + self.body + 4


@dataclass(eq=False)
class _Arc:
    """A skip drawn over the units it skips, from before unit `start` into unit `merge`."""

    start: int
    merge: int
    level: int  # 1 over plain units, one more over each arc inside
    label: str = ""  # a shortcut with a layer (ResNet's projection): its label on the arc


@dataclass(eq=False)
class _Seq:
    units: list  # _Col and _Lanes
    arcs: list[_Arc]


@dataclass(eq=False)
class _Lanes:
    """Branches stacked top to bottom between a split and their merge (Inception)."""

    lanes: list[_Seq]
    metrics: list = field(default_factory=list)  # of each lane, as one row
    width: float = 0.0
    up: float = 0.0
    down: float = 0.0
    x: float = 0.0
    cy: float = 0.0

    @property
    def in_x(self) -> float:
        return self.x + FORK

    @property
    def out_x(self) -> float:
        return self.x + self.width - FORK


@dataclass
class _Metrics:
    width: float
    head_h: float  # the labels' height above the cuboids
    top: float  # the cuboids' height above the centre line (the labels sit on it)
    up: float  # all drawn above the centre line, arcs included
    down: float


class _Painter:
    """Measures and draws the units of one figure."""

    def __init__(self, model, diagram: Diagram, theme: Theme, scale: str, canvas: _Svg) -> None:
        self.model, self.theme, self.scale = model, theme, scale
        self.by_id = {b.id: b for b in diagram.boxes()}
        self.size, self.small = theme.font_size - 1, theme.small_size
        self.svg = canvas
        self.position = _positions(model)
        self.families: dict[str, None] = {}  # drawn as cuboids, in order (for the legend)

    # --- measuring ---------------------------------------------------------------------------
    def col(self, box_id: str) -> _Col:
        box = self.by_id[box_id]
        shape = _shape_of(self.model, box, self.position)
        head = [box.title] if box.io else _head(box)
        if box.glyph:  # what folds into it is written under it (the skip arc comes from above)
            foot = list(box.folded)
            widths = [_text_width(t, self.small) for t in foot]
            return _Col(box, shape, [], max([2 * GLYPH_R, *widths]), 2 * GLYPH_R, GLYPH_R,
                        GLYPH_R, box.glyph, foot=foot)
        body, up, down = _extent(shape, self.scale)
        edges = _edge_labels(shape, self.scale, self.small) is not None
        below = [] if edges else [_text_width(_size_text(shape), self.small)]
        text_w = max([_text_width(t, self.size) for t in head] + below)
        return _Col(box, shape, head, max(body + (EDGE_MARGIN if edges else 0), text_w), body,
                    up, down, edges=edges)

    def flatten(self, chain: list) -> _Seq:
        """Units and arcs of a chain: a skip's lane inline under its arc (a shortcut with one
        layer into a `+` too, its label on the arc), other branches as stacked lanes."""
        units: list = []
        arcs: list[_Arc] = []
        for k, item in enumerate(chain):
            if isinstance(item, str):
                if units and self.folds_into_merge(item, units[-1]):
                    units[-1].foot.append(self.by_id[item].title)
                    units[-1].down += self.small * 1.25
                    units[-1].width = max(units[-1].width,
                                          _text_width(self.by_id[item].title, self.small))
                    continue
                units.append(self.col(item))
                continue
            merge = chain[k + 1] if k + 1 < len(chain) else None
            short = [lane for lane in item.lanes if len(lane) == 1 and isinstance(lane[0], str)]
            inline, label = None, ""
            if item.skip and len(item.lanes) == 1:
                inline = item.lanes[0]
            elif (not item.skip and len(item.lanes) == 2 and short and merge is not None
                  and self.by_id[merge].glyph):
                inline = next(lane for lane in item.lanes if lane is not short[-1])
                label = _label_line(self.by_id[short[-1][0]])
            start = len(units)
            if inline is not None:
                inner = self.flatten(inline)
                units += inner.units
                arcs += [_Arc(a.start + start, a.merge + start, a.level, a.label)
                         for a in inner.arcs]
                level = 1 + max((a.level for a in inner.arcs), default=0)
            else:
                units.append(self.lanes([self.flatten(lane) for lane in item.lanes]))
                level = 1
            if item.skip or label:
                arcs.append(_Arc(start, len(units), level, label))
        return _Seq(units, arcs)

    def folds_into_merge(self, box_id: str, previous) -> bool:
        """A ReLU right after a `+` is written over it rather than drawn as a box."""
        box = self.by_id[box_id]
        if not isinstance(previous, _Col) or not previous.glyph or box.scope or box.io:
            return False
        return self.model.graph.node(box.keys[0]).op.elementwise

    def lanes(self, seqs: list[_Seq]) -> _Lanes:
        out = _Lanes(seqs, [self.metrics(s.units, s.arcs) for s in seqs])
        total = sum(m.up + m.down for m in out.metrics) + LANE_GAP * (len(seqs) - 1)
        out.up = out.down = total / 2
        out.width = 2 * FORK + 2 * LANE_ARROW + max(m.width for m in out.metrics)
        return out

    def metrics(self, units: list, arcs: list[_Arc]) -> _Metrics:
        cols = [u for u in units if isinstance(u, _Col) and not u.glyph]
        glyphs = [u for u in units if isinstance(u, _Col) and u.glyph]
        top = max([u.up for u in cols] + [u.up for u in glyphs] + [0])
        lines = max([len(u.head) for u in cols + glyphs] + [0])
        head_h = lines * self.size * 1.25 + 8 if lines else 0
        up = max([head_h + top] + [u.up for u in units if isinstance(u, _Lanes)])
        if arcs:
            up += ARC_RISE + ARC_STEP * (max(a.level for a in arcs) - 1)
            if any(a.label for a in arcs):
                up += self.small + 2
        below = self.small * 1.4 + 10
        down = max([u.down + below for u in cols] + [u.down for u in units if u not in cols])
        width = sum(u.width for u in units) + GAP * (len(units) - 1)
        return _Metrics(width, head_h, top, up, down)

    # --- drawing -----------------------------------------------------------------------------
    def row(self, units: list, arcs: list[_Arc], x: float, cy: float, m: _Metrics) -> None:
        """Units side by side from x on the centre line cy, their labels on one line; arrows
        between them, kernels between cuboids, arcs over skipped units."""
        for u in units:
            u.x, u.cy = x, cy
            x += u.width + GAP
        for u in units:
            if isinstance(u, _Lanes):
                self.draw_lanes(u)
            else:
                self.draw_col(u, m)
        edge = self.theme.edge
        for a, b in zip(units, units[1:], strict=False):
            if isinstance(a, _Col) and isinstance(b, _Col) and not a.glyph:
                _kernel(self.svg, self.model, a.shape, (b.box, b.shape), a.left, b.left, cy,
                        self.theme, self.scale)
            if isinstance(b, _Lanes):
                self.svg.line(a.out_x, cy, b.in_x, cy, edge, 1.4)
            else:
                self.svg.arrow(a.out_x, b.in_x, cy, edge)
        base = cy - (m.up - ARC_RISE - ARC_STEP * (max((a.level for a in arcs), default=1) - 1)
                     - (self.small + 2 if any(a.label for a in arcs) else 0))
        for arc in arcs:
            self.arc(units, arc, base - ARC_RISE + 6 - ARC_STEP * (arc.level - 1))

    def draw_col(self, u: _Col, m: _Metrics) -> None:
        theme, svg = self.theme, self.svg
        col = theme.family(u.box.family)
        mid = u.x + u.width / 2
        top = u.cy - m.top - 8
        for j, line in enumerate(u.head):
            svg.text(mid, top - (len(u.head) - 1 - j) * self.size * 1.25, line, self.size,
                     theme.text, bold=j == 0 and bool(u.box.scope or u.box.io))
        if u.glyph:
            svg.circle(mid, u.cy, GLYPH_R, theme.background if theme.background != "white"
                       else "#ffffff", theme.edge)
            svg.line(mid - GLYPH_R * 0.55, u.cy, mid + GLYPH_R * 0.55, u.cy, theme.edge, 1.4)
            if u.glyph == "+":
                svg.line(mid, u.cy - GLYPH_R * 0.55, mid, u.cy + GLYPH_R * 0.55, theme.edge, 1.4)
            else:  # another merge symbol (Mul's ×): written
                svg.text(mid, u.cy + 4, u.glyph, self.size, theme.text)
            for j, line in enumerate(u.foot):
                svg.text(mid, u.cy + GLYPH_R + (j + 1) * self.small * 1.25, line, self.small,
                         theme.muted)
            return
        self.families.setdefault(u.box.family, None)
        _cuboid(svg, u.left, u.cy, u.shape, col.fill, col.border, theme, self.scale)
        if u.edges:
            _draw_edge_labels(svg, u.left, u.cy, u.shape, self.scale, self.small, theme.muted)
        else:
            svg.text(mid, u.cy + u.down + self.small + 6, _size_text(u.shape), self.small,
                     theme.muted)

    def draw_lanes(self, u: _Lanes) -> None:
        edge, svg = self.theme.edge, self.svg
        y = u.cy - u.up
        centres = []
        for seq, m in zip(u.lanes, u.metrics, strict=True):
            centres.append(y + m.up)
            self.row(seq.units, seq.arcs, u.in_x + LANE_ARROW, y + m.up, m)
            y += m.up + m.down + LANE_GAP
        svg.line(u.in_x, min(centres), u.in_x, max(centres), edge, 1.4)
        svg.line(u.out_x, min(centres), u.out_x, max(centres), edge, 1.4)
        for seq, cy in zip(u.lanes, centres, strict=True):
            svg.arrow(u.in_x, seq.units[0].in_x, cy, edge)
            svg.line(seq.units[-1].out_x, cy, u.out_x, cy, edge, 1.4)

    def arc(self, units: list, arc: _Arc, y: float) -> None:
        """Up from the arrow before the skipped units, over them at y, down into the merge."""
        first = units[arc.start]
        x0 = (units[arc.start - 1].out_x + first.in_x) / 2 if arc.start else \
            (PAD / 2 + first.in_x) / 2  # on the arrow in from the row above
        merge = units[arc.merge] if arc.merge < len(units) else None
        if merge is None:
            return
        x1 = merge.left + merge.body / 2 if isinstance(merge, _Col) else merge.in_x
        y1 = merge.cy - (merge.up if isinstance(merge, _Col) else 0)
        r = min(10.0, (x1 - x0) / 4, (merge.cy - y) / 2)
        colour = self.theme.edge
        dash = "5,3" if arc.label else None
        self.svg.curve([(x0, first.cy), (x0, first.cy), (x0, y + r), (x0, y + r),
                        (x0, y), (x0, y), (x0 + r, y), (x0 + r, y), (x1 - r, y), (x1 - r, y),
                        (x1, y), (x1, y), (x1, y + r), (x1, y + r), (x1, y1 - 6), (x1, y1 - 6)],
                       colour, 1.4, dash)
        self.svg.poly([(x1, y1), (x1 - 3.5, y1 - 7), (x1 + 3.5, y1 - 7)], colour, colour)
        if arc.label:
            self.svg.text((x0 + x1) / 2, y - 4, arc.label, self.small, self.theme.muted)


def _label_line(box: Box) -> str:
    return " · ".join([box.title, *box.folded])


def _breakable(seq: _Seq) -> list[bool]:
    """Where a row may start: not inside a skip (after its first skipped unit, up to its
    merge); at the first, the arc rises from the arrow that comes in from the row above."""
    ok = [True] * len(seq.units)
    for arc in seq.arcs:
        for i in range(arc.start + 1, arc.merge + 1):
            ok[i] = False
    return ok


def _u_levels(chain: list) -> tuple[list[tuple[list, list]], list] | None:
    """An encoder-decoder's scales: (encoder part, decoder part) per level from the top, and
    the bottom; None when the chain is not one: its outermost skip must span the network's
    middle (hold at least half its boxes, unlike a residual block's or a squeeze-excitation's)
    and skips nest in it at least U_DEPTH deep."""
    levels = []
    rest = chain
    while True:
        splits = [k for k, item in enumerate(rest) if isinstance(item, lanes.Split)
                  and item.skip and len(item.lanes) == 1]
        if not splits:
            break
        k = max(splits, key=lambda k: _count(rest[k].lanes[0]))
        if not levels and 2 * _count(rest[k].lanes[0]) < _count(chain):
            return None
        if len(splits) > 1 and lanes.skip_depth(rest[k].lanes[0]) == 0:
            break
        levels.append((rest[:k], rest[k + 1:]))
        rest = rest[k].lanes[0]
    return (levels, rest) if len(levels) >= U_DEPTH else None


def _count(chain: list) -> int:
    """Boxes in a chain, its branches included."""
    return sum(1 if isinstance(item, str) else sum(_count(lane) for lane in item.lanes)
               for item in chain)


def _edge_labels(shape: Shape, scale: str, small: float) -> tuple[str, str, str] | None:
    """Channels, height and width to write along a cuboid's edges, or None when they do not
    fit (a small or flat output: its size goes below it)."""
    if len(shape) != 3:
        return None
    c, h, w = (str(int(n)) for n in shape)
    d, hh, rec = _dims(shape, scale)
    room_h = hh / 2 + rec * 0.35 - 8  # the front face's lower half, under the arrow
    if rec * 0.7 * math.sqrt(2) < _text_width(w, small) + 4 or room_h < _text_width(h, small) + 4:
        return None
    return c, h, w


def _draw_edge_labels(svg: _Svg, x: float, cy: float, shape: Shape, scale: str, small: float,
                      colour: str) -> None:
    """As the LeNet and AlexNet papers: the height beside the front face's vertical edge, the
    width along the receding edge, the channels under the edge along the flow."""
    c, h, w = _edge_labels(shape, scale, small)
    d, hh, rec = _dims(shape, scale)
    bottom = cy + hh / 2 + rec * 0.35
    dx = rec * 0.7
    svg.text(x + d / 2, bottom + small + 2, c, small, colour)
    svg.text(x - 3, (cy + 8 + bottom) / 2, h, small, colour, rotate=-90)
    off = small * 0.62 + 2
    svg.text(x + d + dx / 2 + off, bottom - dx / 2 + off, w, small, colour, rotate=-45)


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
    diagram = _diagram(model, options)
    chain = lanes.structure(diagram)
    painter = _Painter(model, diagram, theme, scale, svg.blank())
    small = theme.small_size
    title = diagram.name if look.title is None else look.title
    title_h = (theme.title_size * 1.6 + small * 1.8) if title else 0
    legend_h = small * 2.2 if look.legend else 0  # none drawn when no family is
    u = _u_levels(chain)
    if u is not None:
        width, height = _draw_u(painter, u, PAD + title_h + legend_h)
    else:
        width, height = _draw_rows(painter, painter.flatten(chain), PAD + title_h + legend_h)
    drawn = [f for f in painter.families if f != "io"]
    families = [f for f in LEGEND if f in drawn]
    legend_w = sum(30 + _text_width(LEGEND[f], small) for f in families[:LEGEND_PER_ROW])
    width = max(width, legend_w + 2 * PAD, _text_width(title or "", theme.title_size) + 2 * PAD)
    height += PAD

    if not look.transparent:
        svg.background(width, height, _bg(theme.background))
    y = PAD
    if title:
        svg.text(width / 2, y + theme.title_size, title, theme.title_size, theme.text, True)
        svg.text(width / 2, y + theme.title_size * 1.6 + small, diagram.subtitle, small + 1,
                 theme.muted)
        y += title_h
    if legend_h and families:
        x = (width - legend_w) / 2
        for fam in families[:LEGEND_PER_ROW]:
            col = theme.family(fam)
            svg.poly([(x, y + 2), (x + 18, y + 2), (x + 18, y + 14), (x, y + 14)], col.fill,
                     col.border)
            svg.text(x + 24, y + 12, LEGEND[fam], small, theme.text, anchor="start")
            x += 30 + _text_width(LEGEND[fam], small)
        y += legend_h
    svg.add(painter.svg)
    return svg.document(width, height, theme, diagram.name)


def _draw_rows(painter: _Painter, seq: _Seq, top: float) -> tuple[float, float]:
    """A chain left to right, wrapped into rows of one height; returns width and bottom."""
    units = seq.units
    rows = _rows([u.width for u in units], _breakable(seq))
    parts = [([units[i] for i in row],
              [_Arc(a.start - row[0], a.merge - row[0], a.level, a.label) for a in seq.arcs
               if row[0] <= a.start and a.merge <= row[-1]]) for row in rows]
    ms = [painter.metrics(us, arcs) for us, arcs in parts]
    if not any(isinstance(u, _Lanes) for u in units):  # rows of one height, labels in line
        shared = _Metrics(0, max(m.head_h for m in ms), max(m.top for m in ms),
                          max(m.up for m in ms), max(m.down for m in ms))
        ms = [_Metrics(m.width, shared.head_h, shared.top, shared.up, shared.down) for m in ms]
    width = 0.0
    edge = painter.theme.edge
    y = top
    for r, (us, arcs) in enumerate(parts):
        cy = y + ms[r].up
        painter.row(us, arcs, PAD, cy, ms[r])
        width = max(width, 2 * PAD + ms[r].width)
        if r:  # from the end of the row above: down, back left, down, in
            prev = parts[r - 1][0][-1]
            below = y - ROW_GAP / 2
            start = prev.out_x
            painter.svg.path([(start, prev.cy), (start + GAP / 2, prev.cy),
                              (start + GAP / 2, below), (PAD / 2, below), (PAD / 2, cy)], edge)
            painter.svg.arrow(PAD / 2, us[0].in_x, cy, edge)
        y = cy + ms[r].down + ROW_GAP
    return width, y - ROW_GAP


def _draw_u(painter: _Painter, u, top: float) -> tuple[float, float]:
    """An encoder-decoder as a U: each scale a row, its encoder part on the left and its
    decoder part on the right, deeper scales lower and further in, the bottom in the middle;
    a long skip arrow across each row. Returns width and bottom."""
    levels, bottom = u
    left = [painter.flatten(enc) for enc, _ in levels]
    right = [painter.flatten(dec) for _, dec in levels]
    low = painter.flatten(bottom)
    ml = [painter.metrics(s.units, s.arcs) for s in left]
    mr = [painter.metrics(s.units, s.arcs) for s in right]
    mb = painter.metrics(low.units, low.arcs)
    n = len(levels)
    width = max([2 * PAD + 2 * k * INDENT + ml[k].width + mr[k].width + SKIP_MIN
                 for k in range(n)] + [2 * PAD + 2 * n * INDENT + mb.width])
    edge, svg = painter.theme.edge, painter.svg
    cy = top
    centres = []
    for k in range(n):
        up, down = max(ml[k].up, mr[k].up), max(ml[k].down, mr[k].down)
        cy += up
        centres.append(cy)
        m = _Metrics(0, max(ml[k].head_h, mr[k].head_h), max(ml[k].top, mr[k].top), up, down)
        painter.row(left[k].units, left[k].arcs, PAD + k * INDENT, cy, m)
        painter.row(right[k].units, right[k].arcs, width - PAD - k * INDENT - mr[k].width, cy,
                    m)
        cy += down + U_GAP
    cy += mb.up
    painter.row(low.units, low.arcs, (width - mb.width) / 2, cy, mb)
    rows = [*zip(left, right, strict=True), (low, low)]
    for k in range(n):  # the long skips, and the ways down and up
        enc, dec = rows[k]
        a, b = enc.units[-1], dec.units[0]
        svg.arrow(a.out_x, b.in_x, a.cy, painter.theme.muted)
        below = a.cy + max(ml[k].down, mr[k].down) + U_GAP / 2
        nxt_enc, nxt_dec = rows[k + 1]
        c = nxt_enc.units[0]
        x = a.out_x + GAP / 2
        svg.path([(x, a.cy), (x, below), (c.in_x - GAP / 2, below), (c.in_x - GAP / 2, c.cy)],
                 edge)
        svg.arrow(c.in_x - GAP / 2, c.in_x, c.cy, edge)
        d = nxt_dec.units[-1]
        x = d.out_x + GAP / 2
        svg.path([(d.out_x, d.cy), (x, d.cy), (x, below), (b.in_x - GAP / 2, below),
                  (b.in_x - GAP / 2, b.cy)], edge)
        svg.arrow(b.in_x - GAP / 2, b.in_x, b.cy, edge)
    return width, cy + mb.down


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
        svg.line(corner[0], corner[1], target[0], target[1], col.border, 0.8, "3,2")


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
