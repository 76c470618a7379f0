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

from archdsl.render.diagram import Box, Cluster, Diagram
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
    """The trunk in rows (box ids), or [] when the diagram is better drawn top to bottom.

    Rows follow stages: a cluster (a stage, a block drawn as its parts) starts a new row and
    has its rows to itself, so its frame covers nothing else and reads in order (Graphviz does
    not keep the order of clusters that share a rank); one wider than a row wraps inside its
    frame, its own clusters again on rows of their own. Of the row widths tried, the one whose
    drawing comes closest to 16:9 wins."""
    boxes = diagram.boxes()
    chain = trunk(diagram)
    if len(boxes) <= MIN_BOXES or len(chain) < TRUNK_SHARE * len(boxes):
        return []
    by_id = {b.id: b for b in boxes}
    on_trunk = set(chain)
    width_of = {i: box_size(by_id[i], theme)[0] for i in chain}
    height_of = {i: box_size(by_id[i], theme)[1] for i in chain}
    side = len(chain) < len(boxes) - sum(1 for b in boxes if b.io and b.id not in chain)
    gap = 2 * SIDE_RANKSEP + SIDE_RANK if side else ROW_GAP
    title = theme.title_size * 1.4 + theme.small_size * 1.5 + legend_rows * theme.small_size * 1.8
    order = {box_id: n for n, box_id in enumerate(chain)}
    items = _trunk_items(diagram.items, on_trunk, order)
    total = sum(width_of.values()) + BOX_GAP * (len(chain) - 1)
    widest = max(width_of.values())
    best: tuple[float, list[list[str]]] | None = None
    for n_rows in range(1, len(chain) + 1):
        limit = max(widest, total / n_rows)
        split = _pack(items, limit, width_of)
        width = max(sum(width_of[j] for j in row) + BOX_GAP * (len(row) - 1) for row in split)
        height = sum(max(height_of[j] for j in row) for row in split) + \
            gap * (len(split) - 1) + title
        score = abs(math.log(width / height / SLIDE))
        if best is None or score < best[0] - 1e-9:
            best = (score, split)
    assert best is not None
    return best[1]


def _trunk_items(items: list, on_trunk: set[str], order: dict[str, int]) -> list:
    """The diagram's items reduced to the trunk: box ids and clusters (as nested lists), in
    trunk order."""
    out = []
    for item in items:
        if isinstance(item, Cluster):
            inner = _trunk_items(item.items, on_trunk, order)
            if inner:
                out.append(inner)
        elif item.id in on_trunk:
            out.append(item.id)
    return sorted(out, key=lambda x: order[_first(x)])


def _first(item) -> str:
    return item if isinstance(item, str) else _first(item[0])


def _ids(item) -> list[str]:
    return [item] if isinstance(item, str) else [i for x in item for i in _ids(x)]


def _pack(items: list, limit: float, width_of: dict[str, float]) -> list[list[str]]:
    """Rows about `limit` wide; see `rows`. A run of boxes between stages is split into as many
    rows as its width needs, evenly by count (longer rows first)."""
    out: list[list[str]] = []
    run: list[str] = []

    def width(ids: list[str]) -> float:
        return sum(width_of[i] for i in ids) + BOX_GAP * (len(ids) - 1)

    def flush() -> None:
        if run:
            n_rows = max(1, math.ceil(width(run) / limit - 1e-9))
            out.extend([run[j] for j in row] for row in _split(len(run), min(n_rows, len(run))))
            run.clear()

    for item in items:
        if isinstance(item, str):
            run.append(item)
            continue
        flush()  # a stage starts a row, and has its rows to itself
        ids = _ids(item)
        out.extend([ids] if width(ids) <= limit else _pack(item, limit, width_of))
    flush()
    return out
