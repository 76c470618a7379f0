"""Graphviz: a `Diagram` as DOT text, and DOT laid out by `dot` into SVG, PNG or PDF.

Contract: `to_dot(diagram, look)` is a pure function: the same diagram and `Look` give
byte-identical DOT (golden files are DOT). `run_dot(source, fmt)` calls the `dot` program through
the `graphviz` package and raises `BackendError` (exit 3) with install instructions when `dot` is
missing or fails; `.dot` output never needs it.

Layout settings live in the DOT itself, so `dot -Tsvg model.dot` by hand is as fast: network
simplex is capped (`nslimit`, `nslimit1`) and crossing minimisation shortened (`mclimit`) once a
graph is big. With dot's defaults a densely wired layer graph (DenseNet-121 as torchvision runs
it) takes minutes; with these caps seconds (see `layout_caps`), and the drawing differs only in
small placement details.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from html import escape

from archdsl.describe import human
from archdsl.diagnostics import BackendError
from archdsl.render import wrap
from archdsl.render.choices import FORMATS
from archdsl.render.columns import _ranks, columns
from archdsl.render.diagram import Box, Cluster, Diagram
from archdsl.render.themes import LEGEND, Theme

BIG_GRAPH = 120  # boxes (or twice as many edges); above this the layout caps apply
LEGEND_PER_ROW = 8
UNDERSCORE_GAP = 4  # points of space under a title with an underscore (`conv2_1`, `Mixed_5b`)

INSTALL_HINT = ("install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), "
                "`brew install graphviz` (macOS) or `conda install graphviz`; "
                "or write .dot output and lay it out elsewhere")


@dataclass(frozen=True)
class Look:
    """How to draw: theme, direction and the optional parts."""

    theme: Theme
    rankdir: str = "auto"  # auto: a chain wraps into rows (16:9), anything else TB
    transparent: bool = False
    title: str | None = None  # None: the model name; "": no title
    legend: bool = True
    dpi: int | None = None  # PNG only


def _q(value: str) -> str:
    """A DOT string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _attrs(pairs: dict[str, object]) -> str:
    parts = []
    for key, value in pairs.items():
        if value is None or value == "":
            continue
        if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
            parts.append(f"{key}={value}")
        elif isinstance(value, str):
            parts.append(f"{key}={_q(value)}")
        else:
            parts.append(f"{key}={value}")
    return "[" + " ".join(parts) + "]"


def _h(text: str) -> str:
    return escape(text, quote=True)




def box_label(box: Box, theme: Theme) -> str:
    col = theme.family(box.family)
    small = f'<FONT FACE="{theme.font}" POINT-SIZE="{theme.small_size:g}" COLOR="{col.text}">'
    title = _h(box.title)
    if box.io or box.scope:
        title = f"<B>{title}</B>"
    rows = [title]
    lines = list(box.lines)
    if box.badge and lines:  # the count badge follows the composition: `Bottleneck ×4`
        lines[0] = f'{_h(lines[0])} <B><FONT COLOR="{theme.accent}">{_h(box.badge)}</FONT></B>'
        rows.append(lines[0])
        lines = lines[1:]
    elif box.badge:
        rows[0] += f' <B><FONT COLOR="{theme.accent}">{_h(box.badge)}</FONT></B>'
    if box.folded:
        rows.append(f"{small}{_h(' · '.join(box.folded))}</FONT>")
    rows += [f"{small}{_h(line)}</FONT>" for line in lines]
    if len(rows) > 1 and "_" in box.title:  # a bold underscore reaches into the next line
        rows[0] += f'<BR/><FONT POINT-SIZE="{UNDERSCORE_GAP}"> </FONT>'
    return "<" + "<BR/>".join(rows) + ">"


def box_attrs(box: Box, theme: Theme, show_params: bool) -> dict[str, object]:
    col = theme.family(box.family)
    if box.glyph:
        return {"label": box.glyph, "shape": "circle", "width": 0.34, "height": 0.34,
                "fixedsize": "true", "fontsize": 16, "style": "filled", "fillcolor": col.fill,
                "color": col.border, "fontcolor": col.text, "margin": 0}
    if show_params and box.params:
        box = dataclasses.replace(box, lines=[*box.lines, f"{human(box.params)} params"])
    style = ",".join(s for s in ("rounded", "filled", col.style) if s)
    bold = col.style == "bold" or box.scope
    return {"label": box_label(box, theme), "style": style, "fillcolor": col.fill,
            "color": col.border, "fontcolor": col.text,
            "peripheries": col.peripheries if col.peripheries != 1 else None,
            "penwidth": (2.4 if col.style == "bold" else 1.6) if bold else None}


def graph_label(diagram: Diagram, look: Look) -> str | None:
    theme = look.theme
    title = diagram.name if look.title is None else look.title
    rows = []
    if title:
        rows.append(f'<TR><TD><FONT POINT-SIZE='
                    f'"{theme.title_size:g}"><B>{_h(title)}</B></FONT></TD></TR>')
        rows.append(f'<TR><TD><FONT POINT-SIZE='
                    f'"{theme.small_size + 1:g}" COLOR="{theme.muted}">{_h(diagram.subtitle)}'
                    "</FONT></TD></TR>")
    if look.legend:
        families = diagram.families()
        ordered = [f for f in LEGEND if f in families] + [f for f in families if f not in LEGEND]
        legend = []
        for start in range(0, len(ordered), LEGEND_PER_ROW):
            cells = []
            for fam in ordered[start:start + LEGEND_PER_ROW]:
                col = theme.family(fam)
                if col.peripheries > 1:  # a double border, as the boxes have it
                    cells.append(f'<TD BORDER="1" COLOR="{col.border}" CELLPADDING="1" WIDTH="18" '
                                 f'HEIGHT="12" FIXEDSIZE="TRUE"><TABLE BORDER="1" CELLBORDER='
                                 f'"0" CELLSPACING="0" COLOR="{col.border}" BGCOLOR='
                                 f'"{col.fill}" WIDTH="14" HEIGHT="8" FIXEDSIZE="TRUE"><TR><TD>'
                                 '</TD></TR></TABLE></TD>')
                else:
                    cells.append(f'<TD BGCOLOR="{col.fill}" COLOR="{col.border}" '
                                 f'{_swatch(col)}WIDTH="18" HEIGHT="12" FIXEDSIZE="TRUE"></TD>')
                cells.append(f'<TD ALIGN="LEFT"><FONT POINT-SIZE="{theme.small_size:g}" COLOR='
                             f'"{theme.text}">{_h(LEGEND.get(fam, fam))}&#160;&#160;</FONT></TD>')
            legend.append("<TR>" + "".join(cells) + "</TR>")
        if legend:  # a table of its own, so a wide subtitle does not space its cells apart
            rows.append('<TR><TD><TABLE BORDER="0" CELLBORDER="0" CELLSPACING="4" '
                        'CELLPADDING="1">' + "".join(legend)
                        + "</TABLE></TD></TR>")
    if not rows:
        return None
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="4" CELLPADDING="1">'
            + "".join(rows) + "</TABLE>>")


def _swatch(col) -> str:
    """A legend swatch's border, as the boxes have it (the print theme tells families apart by
    border style too)."""
    if col.style in ("dashed", "dotted"):
        return f'BORDER="1" STYLE="{col.style}" '
    if col.style == "bold":
        return 'BORDER="3" '
    return 'BORDER="1" '


def layout_caps(n_boxes: int, n_edges: int) -> dict[str, object]:
    """Caps on dot's work for big graphs (see the module docstring). Measured on DenseNet-121
    wired as torchvision runs it (428 boxes, 962 edges; benchmarks/render_bench.py): 491 s
    with dot's defaults, 2.4 s with these."""
    if n_boxes <= BIG_GRAPH and n_edges <= 2 * BIG_GRAPH:
        return {}
    return {"nslimit": 0.2, "nslimit1": 0.2, "mclimit": 0.3, "searchsize": 10}


def to_dot(diagram: Diagram, look: Look, show_params: bool = False) -> str:
    """The DOT text of a diagram (deterministic)."""
    theme = look.theme
    boxes = diagram.boxes()
    legend_rows = -(-len(diagram.families()) // LEGEND_PER_ROW) if look.legend else 0
    rows = wrap.rows(diagram, theme, legend_rows) if look.rankdir == "auto" else []
    cols = columns(diagram, theme, legend_rows) if look.rankdir == "auto" and not rows else []
    row_of = {box_id: i for i, row in enumerate(rows) for box_id in row}
    col_of = {box_id: i for i, col in enumerate(cols) for box_id in col}
    rankdir = "TB" if look.rankdir == "auto" else look.rankdir
    # Side branches (auxiliary heads) of a wrapped chain hang in a rank between the rows, with
    # their output marker beside them.
    gap = 2 if rows and len(row_of) < len(boxes) else None
    graph = {
        "rankdir": rankdir,
        "bgcolor": "transparent" if look.transparent else theme.background,
        "fontname": theme.font, "fontcolor": theme.text, "fontsize": theme.font_size,
        "label": graph_label(diagram, look), "labelloc": "t", "labeljust": "c",
        "nodesep": wrap.BOX_GAP / 72 if rows else 0.25,
        "ranksep": (wrap.SIDE_RANKSEP if gap else wrap.ROW_GAP) / 72 if rows else 0.32, "pad": 0.3, "newrank": "true",
        "margin": 0,  # PDF and PostScript add half an inch round the drawing by default
        "compound": "true" if cols else None,  # lhead: an edge into a block ends at its frame
        "dpi": look.dpi, **layout_caps(len(boxes), len(diagram.edges)),
    }
    node = {"shape": "box", "fontname": theme.font, "fontsize": theme.font_size,
            "margin": "0.14,0.05", "height": 0.36, "penwidth": 1.2}
    edge = {"color": theme.edge, "fontcolor": theme.muted, "fontname": theme.font,
            "fontsize": theme.small_size - 1, "arrowsize": 0.7, "penwidth": 1.2}
    lines = [f"digraph {_q(diagram.name)} {{", f"  graph {_attrs(graph)}",
             f"  node {_attrs(node)}", f"  edge {_attrs(edge)}"]

    framed: dict[str, list[str]] = {}  # box id -> the frames around it, outermost first
    first_box: dict[str, str] = {}  # frame id -> its first (top) box

    def emit(items: list[Box | Cluster], indent: str, frames: tuple[str, ...] = ()) -> None:
        for item in items:
            if isinstance(item, Cluster) and not (_own_rows(item, rows, row_of)
                                                  and _own_rows(item, cols, col_of)):
                emit(item.items, indent, frames)  # a cluster across rows would cover other rows
            elif isinstance(item, Cluster):
                column = item.id.startswith(COLUMN)
                attrs = {"peripheries": 0, "margin": 0, "label": "<>"} if column else \
                    cluster_attrs(item, theme, two_lines=bool(cols))
                lines.append(f"{indent}subgraph {_q(item.id)} {{")
                lines.append(f"{indent}  graph {_attrs(attrs)}")
                emit(item.items, indent + "  ", frames if column else (*frames, item.id))
                lines.append(f"{indent}}}")
            else:
                framed[item.id] = list(frames)
                for frame in frames:
                    first_box.setdefault(frame, item.id)
                lines.append(f"{indent}{_q(item.id)} "
                             f"{_attrs(box_attrs(item, theme, show_params))}")

    emit(_columnise(diagram.items, col_of) if cols else diagram.items, "  ")
    for row in rows:
        lines.append("  {rank=same; " + " ".join(_q(i) for i in row) + "}")
    for e in diagram.edges if gap else ():
        if e.dst.startswith("out_") and e.src not in row_of:
            lines.append(f"  {{rank=same; {_q(e.src)} {_q(e.dst)}}}")
    for above, below in zip(rows, rows[1:], strict=False):  # rows start flush left
        lines.append(f"  {_q(above[0])} -> {_q(below[0])} "
                     f"{_attrs({'style': 'invis', 'weight': 20, 'minlen': gap})}")
    if cols:  # columns start on one rank, in order
        heads = [min(col, key=lambda i: (rank_of[i], col.index(i))) for col in cols] \
            if (rank_of := _ranks(diagram)) else []
        lines.append("  {rank=same; " + " ".join(_q(h) for h in heads) + "}")
        for left, right in zip(heads, heads[1:], strict=False):
            lines.append(f"  {_q(left)} -> {_q(right)} [style=invis]")
    for e in diagram.edges:
        between_rows = e.src in row_of and e.dst in row_of and row_of[e.src] != row_of[e.dst]
        between_cols = col_of.get(e.src) != col_of.get(e.dst)
        attrs = _attrs({"label": f" {e.label} " if e.label else None,
                        "weight": 0 if between_rows else None,
                        "minlen": gap if between_rows else None,
                        "constraint": "false" if between_cols else None,
                        **(_past_titles(e.src, e.dst, framed, first_box)
                           if cols and not between_cols else {})})
        lines.append(f"  {_q(e.src)} -> {_q(e.dst)}" + (f" {attrs}" if attrs != "[]" else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


COLUMN = "cluster_column"  # the id of an invisible cluster holding a column's parts


def _columnise(items: list, col_of: dict[str, int]) -> list[Cluster]:
    """The items in one invisible cluster per column, a cluster over several columns cut into
    one frame per column (`layer3`, `layer3 (continued)`): Graphviz keeps top-level clusters
    in the order of their heads, but not clusters nested in a cluster, nor loose nodes."""
    out: list[Cluster] = []
    for col, part in (p for item in items for p in _parts(item, col_of)):
        if not out or out[-1].id != f"{COLUMN}{col}":
            out.append(Cluster(f"{COLUMN}{col}", ""))
        out[-1].items.append(part)
    return out


def _parts(item, col_of: dict[str, int]) -> list[tuple[int, Box | Cluster]]:
    if isinstance(item, Box):
        return [(col_of[item.id], item)]
    inner = [p for x in item.items for p in _parts(x, col_of)]
    out: list[tuple[int, Box | Cluster]] = []
    for col, part in inner:
        if not out or out[-1][0] != col:
            title = item.title if not out else f"{item.title} (continued)"
            # `cluster_layer2_1` is block layer2.1's: DOT would take both for one subgraph
            out.append((col, Cluster(item.id if not out else f"{item.id}:continued{len(out)}",
                                     title, call=item.call if not out else "")))
        out[-1][1].items.append(part)
    return out


def _own_rows(cluster: Cluster, rows: list[list[str]], row_of: dict[str, int]) -> bool:
    """Whether a cluster can be framed: it lies in one row, or the rows it spans hold only its
    own boxes (wrap.rows gives a stage wider than a row rows of its own)."""
    spanned = _rows_of(cluster, row_of)
    if len(spanned) <= 1:
        return True
    mine = {b for b in _box_ids(cluster)}
    return all(box_id in mine for r in spanned for box_id in rows[r])


def _box_ids(cluster: Cluster) -> list[str]:
    out = []
    for item in cluster.items:
        out.extend(_box_ids(item) if isinstance(item, Cluster) else [item.id])
    return out


def _rows_of(cluster: Cluster, row_of: dict[str, int]) -> set[int]:
    found = set()
    for item in cluster.items:
        if isinstance(item, Cluster):
            found |= _rows_of(item, row_of)
        elif item.id in row_of:
            found.add(row_of[item.id])
    return found


def _past_titles(src: str, dst: str, framed: dict[str, list[str]],
                 first_box: dict[str, str]) -> dict[str, str]:
    """Keep an edge in a column off the titles of the frames it enters (a title sits at the
    top of its frame, where the edge comes in): one into a frame's first box ends at the
    frame (`lhead`, the arrow reads "into layer2.1"); one into a box further down (a skip line
    to the `+`) leaves and enters on the right, beside the titles, which are left-aligned."""
    entered = [f for f in framed.get(dst, []) if f not in framed.get(src, [])]
    if not entered:
        return {}
    if all(first_box[f] == dst for f in entered):
        return {"lhead": entered[0]}
    return {"tailport": "e", "headport": "e"}


def cluster_attrs(cluster: Cluster, theme: Theme, two_lines: bool = False) -> dict[str, object]:
    """A frame's look; `two_lines`: a block's call on a line under its name, so the title is
    narrow and skip lines pass beside it (the columns of a deep layers view)."""
    label = f'<<B>{_h(cluster.title)}</B>>'
    if two_lines and cluster.call and cluster.title.endswith(f": {cluster.call}"):
        name = cluster.title.removesuffix(f": {cluster.call}")
        label = f'<<B>{_h(name)}</B><BR ALIGN="LEFT"/>{_h(cluster.call)}<BR ALIGN="LEFT"/>>'
    return {"label": label, "labeljust": "l", "style": "rounded,filled",
            "fillcolor": theme.cluster_fill, "color": theme.cluster_border,
            "fontcolor": theme.muted, "fontsize": theme.small_size + 1, "margin": 10}


def run_dot(source: str, fmt: str) -> bytes:
    """Lay out DOT text with `dot` and return the SVG, PNG or PDF bytes."""
    import graphviz

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    renderer = "cairo" if fmt in ("png", "pdf") else None
    try:
        return graphviz.pipe("dot", fmt, source.encode("utf-8"), renderer=renderer, quiet=True)
    except graphviz.ExecutableNotFound:
        raise BackendError(f"cannot render .{fmt}: Graphviz's `dot` program was not found; "
                           f"{INSTALL_HINT}") from None
    except graphviz.CalledProcessError as err:
        detail = (err.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise BackendError(f"Graphviz `dot` failed to render .{fmt}"
                           + (f": {detail[-1]}" if detail else "")
                           + "; check that your Graphviz has the cairo renderer "
                           "(`dot -Tpng:` lists renderers)") from None
