"""Fitting a deep branchy diagram to a 16:9 slide: its parts in columns read left to right.

The layers view of a ResNet is not a chain (`wrap.rows` does not apply): drawn top to bottom it
is a strip (ResNet-50: 1:13) no slide holds. Cut between its parts, like a newspaper's text,
it keeps slide proportions.

Contract: `columns(diagram, theme)` returns the box ids in columns (every box in exactly one,
in network order), or `[]` when one column is closest to 16:9 or the diagram has side outputs (GoogLeNet's auxiliary
heads branch off mid-column and pull the columns out of order). The cuts fall between whole
parts: a cluster (a block, a stage) that fits a column stays in one; one taller than a column
starts a column and has its columns to itself, so its frame covers nothing else. Heights are
estimated from ranks (the longest path from the input to a box) and label sizes, so no layout
has to run; the result is deterministic. `graphviz_render` puts the first box of each column
on one rank and lets the edges between columns bend across.
"""

from __future__ import annotations

import math

import networkx as nx

from archdsl.render.diagram import Cluster, Diagram
from archdsl.render.themes import Theme
from archdsl.render.wrap import BOX_GAP, SLIDE, box_size

RANKSEP = 0.32 * 72  # points between ranks (the TB layout's ranksep)
FRAME = 24.0  # points a cluster's title and margin add
MIN_BOXES = 24  # smaller diagrams fit a slide drawn top to bottom


def _ranks(diagram: Diagram) -> dict[str, int]:
    g = nx.DiGraph()
    g.add_nodes_from(b.id for b in diagram.boxes())
    g.add_edges_from((e.src, e.dst) for e in diagram.edges)
    rank: dict[str, int] = {}
    for box_id in nx.topological_sort(g):
        rank[box_id] = max((rank[p] + 1 for p in g.predecessors(box_id)), default=0)
    return rank


def _ids(item) -> list[str]:
    if isinstance(item, Cluster):
        return [i for x in item.items for i in _ids(x)]
    return [item.id]


class _Sizes:
    def __init__(self, diagram: Diagram, theme: Theme):
        self.rank = _ranks(diagram)
        self.size = {b.id: box_size(b, theme) for b in diagram.boxes()}
        self.rank_h: dict[int, float] = {}
        for box_id, r in self.rank.items():
            self.rank_h[r] = max(self.rank_h.get(r, 0.0), self.size[box_id][1])

    def height(self, ids: list[str], frames: int = 0) -> float:
        ranks = [self.rank[i] for i in ids]
        span = range(min(ranks), max(ranks) + 1)
        return sum(self.rank_h.get(r, 0.0) + RANKSEP for r in span) + FRAME * frames

    def width(self, ids: list[str], frames: int = 0) -> float:
        by_rank: dict[int, list[float]] = {}
        for i in ids:
            by_rank.setdefault(self.rank[i], []).append(self.size[i][0])
        return max(sum(w) + BOX_GAP * (len(w) - 1) for w in by_rank.values()) + FRAME * frames


def _depth(item) -> int:
    if not isinstance(item, Cluster):
        return 0
    return 1 + max((_depth(x) for x in item.items), default=0)


def _pack(items: list, limit: float, sizes: _Sizes) -> list[list[str]]:
    """Columns about `limit` high: parts that fit share a column, a taller one starts a column
    and is cut between its own parts."""
    out: list[list[str]] = []
    col: list[str] = []
    used = 0.0
    for item in items:
        ids = _ids(item)
        if not ids:
            continue
        h = sizes.height(ids, _depth(item))
        if h > limit and isinstance(item, Cluster):
            if col:
                out.append(col)
            # as many columns as its height needs, about equally high
            n = math.ceil(h / limit - 1e-9)
            out.extend(_pack(item.items, h / n * 1.05, sizes))
            col, used = [], 0.0
            continue
        if col and used + h > limit:
            out.append(col)
            col, used = [], 0.0
        col.extend(ids)
        used += h
    if col:
        out.append(col)
    return out


def columns(diagram: Diagram, theme: Theme, legend_rows: int = 1) -> list[list[str]]:
    """The boxes in columns, or [] (see the module docstring)."""
    boxes = diagram.boxes()
    outputs = [b for b in boxes if b.id.startswith("out_")]
    if len(boxes) < MIN_BOXES or len(outputs) != 1:  # side heads would cut across columns
        return []
    sizes = _Sizes(diagram, theme)
    title = theme.title_size * 1.4 + theme.small_size * 1.5 + legend_rows * theme.small_size * 1.8
    total = sizes.height([b.id for b in boxes])
    best: tuple[float, list[list[str]]] | None = None
    for n in range(1, 40):
        split = _pack(diagram.items, total / n, sizes)
        width = sum(sizes.width(c, 1) for c in split) + BOX_GAP * (len(split) - 1)
        height = max(sizes.height(c) for c in split) + title
        score = abs(math.log(width / height / SLIDE))
        if best is None or score < best[0] - 1e-9:
            best = (score, split)
        if len(split) > len(boxes) // 3:
            break
    assert best is not None
    split = best[1]
    if len(split) > 1 and all(i.startswith("out_") for i in split[-1]):
        split = [*split[:-2], split[-2] + split[-1]]  # the output marker under the last part
    return split if len(split) > 1 else []
