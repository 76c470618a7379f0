"""The paths of a diagram from its input to its main output, as series and parallel parts.

The feature-map style draws a model as a chain of outputs; where paths part and meet again
(a residual shortcut, an Inception module, U-Net's long skips) it needs to know which boxes
lie on which branch. This module finds that from the diagram's edges alone.

Contract: `structure(diagram)` returns the chain of box ids from the input to the box before
the main output, in order, with a `Split` wherever paths part: its `lanes` are the branches
(each again such a chain, in source order) and `skip` says that an edge also goes straight
from the box before the split to the box after it (an identity shortcut). The box after a
`Split` is where the branches merge. Boxes not on a path to the main output (side heads) are
left out. `skip_depth(chain)` is how deeply skips nest (ResNet: 1, U-Net: one per scale).
Deterministic: lanes in source order.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from archdsl.render.diagram import Diagram


@dataclass
class Split:
    lanes: list[list]  # each a chain: box ids and Splits
    skip: bool  # an edge from the box before straight to the box after (identity shortcut)


def structure(diagram: Diagram) -> list:
    """The series-parallel chain of the diagram (see the module docstring)."""
    boxes = diagram.boxes()
    order = {b.id: i for i, b in enumerate(boxes)}
    g = nx.DiGraph()
    g.add_nodes_from(b.id for b in boxes)
    g.add_edges_from((e.src, e.dst) for e in diagram.edges)
    start, end = boxes[0].id, "out_main"
    if end not in g or not nx.has_path(g, start, end):
        return [start]
    keep = (nx.descendants(g, start) | {start}) & (nx.ancestors(g, end) | {end})
    chain = _series(nx.DiGraph(g.subgraph(keep)), start, end, order)
    return chain[:-1]


def _series(g: nx.DiGraph, entry: str, exit_: str, order: dict[str, int]) -> list:
    """The chain from `entry` to `exit_` (both included) of a graph whose every node lies on a
    path between them."""
    dom = nx.immediate_dominators(g, entry)
    trunk = [exit_]
    while trunk[-1] != entry:
        trunk.append(dom[trunk[-1]])
    trunk.reverse()
    out: list = [entry]
    for a, b in zip(trunk, trunk[1:], strict=False):
        between = (nx.descendants(g, a) & nx.ancestors(g, b)) - {a, b}
        if between:
            parts = sorted((sorted(c, key=order.__getitem__) for c in
                            nx.weakly_connected_components(g.subgraph(between))),
                           key=lambda c: order[c[0]])
            skip = g.has_edge(a, b)
            if len(parts) == 1 and not skip and len(trunk) == 2:
                # no box between a and b that every path passes, yet one connected part: its
                # branches cross; drawn as one lane in source order
                out.append(Split([_topological(g, parts[0], order)], False))
            else:
                lanes = []
                for part in parts:
                    sub = nx.DiGraph(g.subgraph(set(part) | {a, b}))
                    if sub.has_edge(a, b):
                        sub.remove_edge(a, b)
                    lanes.append(_series(sub, a, b, order)[1:-1])
                out.append(Split(lanes, skip))
        out.append(b)
    return out


def _topological(g: nx.DiGraph, part: list[str], order: dict[str, int]) -> list[str]:
    return list(nx.lexicographical_topological_sort(g.subgraph(part), key=order.__getitem__))


def skip_depth(chain: list) -> int:
    """How deeply skips (Splits with `skip`) nest in a chain."""
    deepest = 0
    for item in chain:
        if isinstance(item, Split):
            inner = max((skip_depth(lane) for lane in item.lanes), default=0)
            deepest = max(deepest, inner + (1 if item.skip else 0))
    return deepest
