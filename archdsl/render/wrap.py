"""Fitting a chain-like diagram to a 16:9 slide: its trunk wrapped into rows read left to right.

A chain drawn top to bottom is a tall strip and drawn left to right a long band; either shrinks
to unreadable type on a slide. Wrapped into rows, like text, it keeps slide proportions.

Contract: `trunk(diagram)` lists the boxes every path from the input to the main output passes
through, in order. `rows(diagram, theme)` splits the trunk into rows when the diagram is
chain-like (at least `TRUNK_SHARE` of its boxes on the trunk, more than `MIN_BOXES` in all),
choosing the number of rows whose estimated drawing is closest to 16:9; otherwise it returns
`[]` and the diagram is drawn top to bottom. Sizes are estimated from label lengths (Helvetica's
average advance is about 0.55 em), so no layout has to run; the result is deterministic.
"""

from __future__ import annotations

import math

import networkx as nx

from archdsl.render.diagram import Box, Diagram
from archdsl.render.themes import Theme

TRUNK_SHARE = 0.8
MIN_BOXES = 6
SLIDE = 16 / 9
ROW_GAP = 0.5 * 72  # points between rows (ranksep)
SIDE_RANKSEP = 0.25 * 72  # with side branches: rows two ranks apart, these closer
SIDE_RANK = 42.0  # estimated height of the rank holding side branches
BOX_GAP = 0.45 * 72  # points between boxes in a row (nodesep)
EM = 0.56


def trunk(diagram: Diagram) -> list[str]:
    """Box ids that dominate the main output, from the input on."""
    g = nx.DiGraph()
    for box in diagram.boxes():
        g.add_node(box.id)
    for e in diagram.edges:
        g.add_edge(e.src, e.dst)
    start = diagram.boxes()[0].id
    end = "out_main" if "out_main" in g else None
    if end is None or not nx.has_path(g, start, end):
        return []
    dom = nx.immediate_dominators(g, start)
    chain = [end]
    while chain[-1] != start:
        chain.append(dom[chain[-1]])
    return chain[::-1]


def box_size(box: Box, theme: Theme) -> tuple[float, float]:
    """Estimated width and height of a box, in points."""
    if box.glyph:
        return 24.0, 24.0
    big = theme.font_size * EM * (1.08 if box.scope or box.io else 1.0)
    small = theme.small_size * EM
    widths = [len(box.title + (" " + box.badge if box.badge and not box.lines else "")) * big]
    lines = list(box.lines) + ([" · ".join(box.folded)] if box.folded else [])
    for i, line in enumerate(lines):
        extra = len(box.badge) + 1 if box.badge and i == 0 else 0
        size = big if box.badge and i == 0 else small
        widths.append((len(line) + extra) * size)
    height = theme.font_size * 1.25 + len(lines) * theme.small_size * 1.25 + 8
    return max(widths) + 22, max(height, 26.0)


def _split(n: int, n_rows: int) -> list[list[int]]:
    """0..n-1 in `n_rows` rows as even as can be, longer rows first."""
    per, extra = divmod(n, n_rows)
    out, start = [], 0
    for r in range(n_rows):
        size = per + (1 if r < extra else 0)
        out.append(list(range(start, start + size)))
        start += size
    return out


def rows(diagram: Diagram, theme: Theme, legend_rows: int = 1) -> list[list[str]]:
    """The trunk in rows (box ids), or [] when the diagram is better drawn top to bottom."""
    boxes = diagram.boxes()
    chain = trunk(diagram)
    if len(boxes) <= MIN_BOXES or len(chain) < TRUNK_SHARE * len(boxes):
        return []
    by_id = {b.id: b for b in boxes}
    sizes = [box_size(by_id[i], theme) for i in chain]
    side = len(chain) < len(boxes) - sum(1 for b in boxes if b.io and b.id not in chain)
    gap = 2 * SIDE_RANKSEP + SIDE_RANK if side else ROW_GAP
    title = theme.title_size * 1.4 + theme.small_size * 1.5 + legend_rows * theme.small_size * 1.8
    best: tuple[float, list[list[str]]] | None = None
    for n_rows in range(1, len(chain) + 1):
        split = _split(len(chain), n_rows)
        width = max(sum(sizes[j][0] for j in row) + BOX_GAP * (len(row) - 1) for row in split)
        height = sum(max(sizes[j][1] for j in row) for row in split) + \
            gap * (len(split) - 1) + title
        score = abs(math.log(width / height / SLIDE))
        if best is None or score < best[0] - 1e-9:
            best = (score, [[chain[j] for j in row] for row in split])
    assert best is not None
    return best[1]
