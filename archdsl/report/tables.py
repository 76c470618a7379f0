"""The per-layer table and totals, as the notes' AlexNet table shows them.

Contract: `rows(model)` gives one `Row` per layer (name, kind, kernel, stride, padding, output
shape, activations, parameters, MACs, receptive field) in graph order; `total_cells(model)` the
totals row; `totals_lines(model, ...)` the figures under the table (incl. the largest receptive
field and the training memory estimate for an optimizer). `COLUMNS` is the one list of columns:
every renderer (a rich terminal table, Markdown, LaTeX with booktabs, CSV, HTML for notebooks)
reads it, so a new column is one entry there. JSON is `Model.summary()`. Numbers are exact
(thousands separated); a layer that adds nothing to a count shows an empty cell. Output is
deterministic text.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from html import escape

from archdsl.ops.base import fmt_shape
from archdsl.passes.count import DTYPE_BYTES
from archdsl.report import fit


@dataclass(frozen=True)
class Column:
    header: str
    key: str  # the Row attribute
    numeric: bool = False


COLUMN_SPECS = (
    Column("Layer", "layer"), Column("Kind", "kind"), Column("Kernel", "kernel"),
    Column("Stride", "stride"), Column("Pad", "padding"), Column("Output", "output"),
    Column("Activations", "activations", True), Column("Params", "params", True),
    Column("MACs", "macs", True), Column("RF", "rf"),
)
COLUMNS = tuple(c.header for c in COLUMN_SPECS)
LONG_TABLE = 40  # LaTeX rows beyond which the table is a longtable that breaks across pages


@dataclass(frozen=True)
class Row:
    layer: str
    kind: str
    kernel: str
    stride: str
    padding: str
    output: str
    activations: int
    params: int
    macs: int
    frozen: bool
    elementwise: bool
    rf: str = ""  # receptive field, `7x7` (archdsl.passes.receptive); `global` after global pooling
    macs_known: bool = True  # False: an opaque layer's MACs (or a fold holding one) are unknown

    def cells(self) -> list[str]:
        out = []
        for column in COLUMN_SPECS:
            value = getattr(self, column.key)
            if column.key == "macs" and not self.macs_known:
                out.append(unknown_part(value))
            else:
                out.append(_num(value) if column.numeric else str(value))
        return out


def _num(n: int) -> str:
    return f"{n:,}" if n else ""


def unknown_part(n: int, compact: bool = False) -> str:
    """A count with a part not known (an opaque layer's MACs): `?`, or `1,234 + ?`."""
    if not n:
        return "?"
    from archdsl.describe import human

    return f"{human(n) if compact else f'{n:,}'} + ?"


UNKNOWN_NOTE = "? not known: a layer archdsl cannot express (opaque); the totals leave it out"


def _macs_known(node) -> bool:
    return "macs" not in node.op.unknown_figures


def _row(node) -> Row:
    p = node.ann.params
    kernel, stride, padding = node.op.cells(p) if p is not None else ("", "", "")
    return Row(node.display, node.op.name, kernel, stride, padding,
               fmt_shape(node.ann.out_shape), node.ann.activations,
               node.ann.param_count, node.ann.macs, node.frozen, node.op.elementwise,
               rf=node.ann.rf.cell() if node.ann.rf is not None else "",
               macs_known=_macs_known(node))


def _scope_at(node, depth: int):
    """The scope `depth` levels below the model that holds `node`, or None when the node sits
    no deeper than `depth` (it is a row of its own)."""
    chain = []
    scope = node.scope
    while scope is not None and scope.parent is not None:
        chain.append(scope)
        scope = scope.parent
    chain.reverse()
    return chain[depth - 1] if len(chain) >= depth else None


def _scope_kind(scope) -> str:
    """A block's name (`Bottleneck`); a stage of like blocks as `3 x Bottleneck`."""
    if scope.kind == "block" and scope.block is not None:
        return scope.block.definition.name
    parts = {c.block.definition.name if isinstance(c, type(scope)) and c.block is not None
             else None for c in scope.children}
    if len(parts) == 1 and None not in parts:
        return f"{len(scope.children)} x {parts.pop()}"
    return scope.written or scope.kind


def rows(model, depth: int | None = None) -> list[Row]:
    """One row per layer; with `depth` (torchinfo's), the layers more than `depth` scopes deep
    fold into one row for their block or stage at that depth: its name and block kind, the
    summed counts, the output and receptive field of its last layer."""
    if depth is None:
        return [_row(node) for node in model.layers()]
    if depth < 1:
        raise ValueError("depth must be at least 1")
    out: list[Row] = []
    folded: dict[int, list] = {}  # id(scope) -> its layers, in order
    order: list = []  # a Node, or the Scope its first folded layer opened
    for node in model.layers():
        scope = _scope_at(node, depth)
        if scope is None:
            order.append(node)
        else:
            if id(scope) not in folded:
                folded[id(scope)] = []
                order.append(scope)
            folded[id(scope)].append(node)
    for item in order:
        if id(item) not in folded:
            out.append(_row(item))
            continue
        nodes = folded[id(item)]
        last = nodes[-1]
        if len(nodes) == 1:
            out.append(_row(last))
            continue
        kind = _scope_kind(item)
        if item.kind == "block":
            kind = f"{kind} ({len(nodes)} layers)"
        out.append(Row(item.name or kind, kind, "", "", "",
                       fmt_shape(last.ann.out_shape), sum(n.ann.activations for n in nodes),
                       sum(n.ann.param_count for n in nodes), sum(n.ann.macs for n in nodes),
                       all(n.frozen for n in nodes), False,
                       rf=last.ann.rf.cell() if last.ann.rf is not None else "",
                       macs_known=all(_macs_known(n) for n in nodes)))
    return out


def total_cells(model) -> list[str]:
    """The totals row: `Total`, the model's output shape and the summed counts."""
    t = model.totals
    totals = {"layer": "Total", "output": fmt_shape(model.output_shape),
              "activations": f"{t.activations:,}", "params": f"{t.params:,}",
              "macs": unknown_part(t.macs) if t.uncounted("macs") else f"{t.macs:,}"}
    return [totals.get(c.key, "") for c in COLUMN_SPECS]


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n} B"


def totals_lines(model, batch: int | None = None, dtype: str = "float32",
                 optimizer: str = "sgd") -> list[tuple[str, str]]:
    t = model.totals
    size = DTYPE_BYTES[dtype]
    lines = [
        ("Input", fmt_shape(model.input_shape)),
        ("Output", ", ".join(f"{name} {fmt_shape(node.ann.out_shape)}"
                             for name, node in model.outputs)),
        ("Parameters", f"{t.params:,}" + (f" ({t.trainable:,} trainable, {t.frozen:,} frozen)"
                                          if t.frozen else "")),
        ("MACs", f"{t.macs:,} (FLOPs = 2 x MACs = {2 * t.macs:,})" if not t.uncounted("macs")
         else f"{t.macs:,} + ? ({', '.join(t.uncounted('macs'))} not counted; FLOPs = 2 x "
              f"MACs = {2 * t.macs:,} + ?)"),
        ("Activations", f"{t.activations:,} per sample (outputs of layers that make new "
                        "feature maps)"),
        (f"Weights ({dtype})", human_bytes(t.params * size)),
        (f"Activations ({dtype})", human_bytes(t.activations * size) + " per sample"
         + (f", {human_bytes(t.activations * size * batch)} per batch of {batch}"
            if batch else "")),
    ]
    widest = model.receptive_field()
    if widest is not None:
        rf = widest.ann.rf
        jump = rf.jump[0] if rf.jump[0] == rf.jump[1] else "x".join(map(str, rf.jump))
        ends = list(dict.fromkeys(n.op.field_ends_after for n in model.layers()
                                  if n.op.ends_receptive_field))  # why no field after them
        lines.insert(5, ("Receptive field", f"{rf.cell()}, jump {jump} (largest, at "
                                            f"{widest.display}" + (
                                                "; not computed after " + " or ".join(ends)
                                                + ")" if ends else ")")))
    train = model.training_memory(batch or 1, dtype, optimizer)
    saved_1 = model.saved_tensors(dtype).bytes(1)
    lines.append((f"Saved for backward ({dtype})", human_bytes(saved_1) + " at batch 1"
                  + (f", {human_bytes(train.saved)} per batch of {batch}" if batch else "")
                  + " (estimate" + _leaves_out(t, "saved") + ")"))
    lines.append((f"Training memory ({optimizer}, batch {train.batch})",
                  f"{human_bytes(train.total)} = weights {human_bytes(train.weights)} + "
                  f"gradients {human_bytes(train.gradients)} + optimizer "
                  f"{human_bytes(train.optimizer_state)} + saved {human_bytes(train.saved)} + "
                  f"buffers {human_bytes(train.buffers)} (estimate"
                  + _leaves_out(t, "saved") + ")"))
    return lines


def _leaves_out(totals, figure: str) -> str:
    """`; not counting the saved tensors of coord`, for the layers a figure is unknown for."""
    layers = totals.uncounted(figure)
    return f"; not counting the saved tensors of {', '.join(layers)}" if layers else ""


def _frozen_cells(r: Row) -> list[str]:
    cells = r.cells()
    if r.frozen and r.params:
        i = COLUMNS.index("Params")
        cells[i] += " *"
    return cells


# How the terminal table condenses (archdsl.report.fit): what is hidden first when space is short,
# and which columns are never hidden. Layer names shorten in the middle (the end says which).
FIT_COLUMNS = {
    "layer": fit.Col("Layer", "text", fit.ESSENTIAL, 12, "middle"),
    "kind": fit.Col("Kind", "text", 60, 6),
    "kernel": fit.Col("Kernel", "fixed", 40),
    "stride": fit.Col("Stride", "fixed", 30),
    "padding": fit.Col("Pad", "fixed", 20),
    "output": fit.Col("Output", "fixed", fit.ESSENTIAL),
    "activations": fit.Col("Activations", "number", 10),
    "params": fit.Col("Params", "number", fit.ESSENTIAL),
    "macs": fit.Col("MACs", "number", 80),
    "rf": fit.Col("RF", "fixed", 15),
}


def _fit_cells(r: Row) -> list:
    out = []
    for column in COLUMN_SPECS:
        value = getattr(r, column.key)
        if column.key == "macs" and not r.macs_known:
            out.append(fit.Cell(unknown_part(value), unknown_part(value, compact=True)))
        elif column.numeric:
            star = " *" if column.key == "params" and r.frozen and value else ""
            out.append(fit.number_cell(value, star))
        else:
            out.append(fit.Cell(str(value)))
    return out


def _total_fit_cells(model) -> list:
    t = model.totals
    figures = {"activations": t.activations, "params": t.params, "macs": t.macs}
    out = []
    for column in COLUMN_SPECS:
        if column.key == "macs" and t.uncounted("macs"):
            out.append(fit.Cell(unknown_part(t.macs), unknown_part(t.macs, compact=True)))
        elif column.key in figures:
            out.append(fit.number_cell(figures[column.key]))
        elif column.key == "layer":
            out.append(fit.Cell("Total"))
        elif column.key == "output":
            out.append(fit.Cell(fmt_shape(model.output_shape)))
        else:
            out.append(fit.Cell(""))
    return out


def column_choice(columns: str | None) -> list[int] | None:
    """`--columns layer,output,params`: the column indexes; ValueError naming the choices."""
    if not columns:
        return None
    return fit.choose_columns([FIT_COLUMNS[c.key] for c in COLUMN_SPECS], columns)


def render_rich(model, batch: int | None = None, dtype: str = "float32", console=None,
                optimizer: str = "sgd", *, width: int | None = None, depth: int | None = None,
                columns: str | None = None) -> None:
    """The table on a terminal, fitted to `width` (None: as wide as it needs; see
    archdsl.report.fit), then the totals. `columns` chooses columns (`"layer,output,params"`),
    `depth` folds deeper layers into their blocks (`rows`)."""
    from rich.console import Console

    if console is None:
        import sys

        console = Console(highlight=False)
        width = width if width is not None else fit.table_width(sys.stdout)
    chosen = column_choice(columns)
    specs = [FIT_COLUMNS[c.key] for c in COLUMN_SPECS]
    lines = [fit.Line(_fit_cells(r), "dim" if r.elementwise and not r.params else None)
             for r in rows(model, depth)]
    lines += [fit.Line([], rule=True), fit.Line(_total_fit_cells(model), "bold")]
    fit.print_table(console, specs, lines, width, title=model.name, chosen=chosen)
    for key, value in totals_lines(model, batch, dtype, optimizer):
        console.print(f"[bold]{key}:[/bold] {value}", highlight=False, soft_wrap=True)
    if model.totals.frozen:
        console.print("[dim]* frozen (not trained)[/dim]")
    if model.totals.uncounted("macs"):
        console.print(f"[dim]{UNKNOWN_NOTE}[/dim]", highlight=False)


# --- Markdown (GitHub-flavoured: renders in a README) ------------------------------------------
_MD_SPECIAL = re.compile(r"([\\|*_`<>\[\]])")


def md_escape(text: str) -> str:
    """Escape what Markdown would read as markup or a table border."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def render_markdown(model, batch: int | None = None, dtype: str = "float32",
                    optimizer: str = "sgd", depth: int | None = None) -> str:
    head = "| " + " | ".join(COLUMNS) + " |"
    rule = "|" + "|".join("---:" if c.numeric else "---" for c in COLUMN_SPECS) + "|"
    body = ["| " + " | ".join(md_escape(c) for c in _frozen_cells(r)) + " |"
            for r in rows(model, depth)]
    body.append("| " + " | ".join(f"**{md_escape(c)}**" if c else "" for c in total_cells(model))
                + " |")
    notes = [f"- **{md_escape(k)}:** {md_escape(v)}"
             for k, v in totals_lines(model, batch, dtype, optimizer)]
    if model.totals.frozen:
        notes.append("- \\* frozen (not trained)")
    if model.totals.uncounted("macs"):
        notes.append(f"- {md_escape(UNKNOWN_NOTE)}")
    return "\n".join([f"### {md_escape(model.name)}", "", head, rule, *body, "", *notes]) + "\n"


def render_csv(model) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.key for c in COLUMN_SPECS] + ["frozen"])
    for r in rows(model):
        writer.writerow(["" if c.key == "macs" and not r.macs_known else getattr(r, c.key)
                         for c in COLUMN_SPECS] + [int(r.frozen)])  # unknown: empty, not 0
    return buf.getvalue()


# --- LaTeX (booktabs) --------------------------------------------------------------------------
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}"}
_TIMES = re.compile(r"(?<=\d)x(?=\d)")


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _latex_cell(text: str) -> str:
    """Escaped, with `3x3` and `64x56x56` set as 3$\\times$3."""
    return _TIMES.sub(r"$\\times$", latex_escape(text))


LATEX_HEADERS = {"activations": "Act.", "stride": "Str."}  # narrow columns, not wide words
LATEX_SETUP = (r"\footnotesize", r"\setlength{\tabcolsep}{3pt}")  # fits a column and a slide
# the notes' columns: with the receptive field too, ResNet-50's table is 36 pt wider than an
# article's column (`columns=` adds it back)
LATEX_COLUMNS = tuple(c for c in COLUMN_SPECS if c.key != "rf")
UNITS = ("compact", "exact")


def select_columns(names) -> tuple[Column, ...]:
    """Columns by header or key, in the order given (`--columns layer,output,params`); all
    columns for None. ValueError names the ones there are."""
    if not names:
        return COLUMN_SPECS
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    by_name = {c.key.lower(): c for c in COLUMN_SPECS} | {c.header.lower(): c for c in COLUMN_SPECS}
    unknown = [n for n in names if n.strip().lower() not in by_name]
    if unknown:
        raise ValueError(f"unknown column {', '.join(unknown)}; columns: "
                         + ", ".join(c.key for c in COLUMN_SPECS))
    return tuple(by_name[n.strip().lower()] for n in names)


def _compact(n: int) -> str:
    from archdsl.describe import human

    return human(n) if n else ""


def render_latex(model, batch: int | None = None, dtype: str = "float32", columns=None,
                 units: str = "compact", depth: int | None = None,
                 all_rows: bool = False) -> str:
    """A booktabs table (`\\usepackage{booktabs}`) in footnote size with narrow column gaps and
    compact counts (`34.9K`, `1.1G`; `units="exact"`: `34,944`), so the tables of AlexNet and
    ResNet-50 fit an article's column and AlexNet's the width of a 16:9 beamer slide; `columns`
    chooses columns (`select_columns`; default: LATEX_COLUMNS, all but the receptive field),
    `depth` folds blocks into rows as `rows` does. Layers that add to no count (no parameters,
    MACs or new activations: ReLU, LRN, dropout) are left out, as the notes' table leaves them
    out, and named in the caption (`all_rows` keeps them): AlexNet's 24 rows would run off a
    slide, its 11 fit. A longtable (`\\usepackage{longtable}`) when it has more than LONG_TABLE
    rows, so it breaks across pages."""
    if units not in UNITS:
        raise ValueError(f"unknown units {units!r}; choose one of {', '.join(UNITS)}")
    cols = select_columns(columns) if columns else LATEX_COLUMNS
    table_rows = rows(model, depth)
    silent = [] if all_rows else [r.kind for r in table_rows
                                  if not (r.activations or r.params or r.macs)]
    if silent:
        table_rows = [r for r in table_rows if r.activations or r.params or r.macs]
    long = len(table_rows) > LONG_TABLE
    spec = "".join("r" if c.numeric else "l" for c in cols)
    header = " & ".join(latex_escape(LATEX_HEADERS.get(c.key, c.header)) for c in cols) + \
        r" \\"
    kinds = list(dict.fromkeys(silent))
    caption = r"\caption{" + latex_escape(model.name) + (
        f"; not listed: {latex_escape(', '.join(kinds))} (no parameters, MACs or new "
        "activations)" if kinds else "") + "}"
    if long:
        lines = [r"% requires \usepackage{booktabs} and \usepackage{longtable}",
                 "{" + LATEX_SETUP[0], LATEX_SETUP[1],
                 r"\begin{longtable}{" + spec + "}", caption + r" \\", r"\toprule", header,
                 r"\midrule", r"\endhead", r"\bottomrule", r"\endfoot"]
    else:
        lines = [r"% requires \usepackage{booktabs}", r"\begin{table}[ht]", r"\centering",
                 *LATEX_SETUP, caption, r"\begin{tabular}{" + spec + "}", r"\toprule", header,
                 r"\midrule"]

    def cells(r: Row | None) -> list[str]:
        if r is None:
            t = model.totals
            values = {"activations": t.activations, "params": t.params, "macs": t.macs}
            text = dict(zip((c.key for c in COLUMN_SPECS), total_cells(model), strict=True))
        else:
            values = {c.key: getattr(r, c.key) for c in COLUMN_SPECS}
            text = dict(zip((c.key for c in COLUMN_SPECS), _frozen_cells(r), strict=True))
        out = []
        for c in cols:
            cell = text[c.key]
            if c.numeric and units == "compact" and not cell.endswith("?"):
                cell = _compact(values[c.key]) + (" *" if cell.endswith(" *") else "")
            elif c.numeric and units == "compact":
                cell = unknown_part(values[c.key], compact=True)
            out.append(_latex_cell(cell))
        return out

    for r in table_rows:
        lines.append(" & ".join(cells(r)) + r" \\")
    lines += [r"\midrule", " & ".join(cells(None)) + r" \\"]
    if long:
        lines += [r"\end{longtable}", "}"]
    else:
        lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


# --- HTML (notebooks) --------------------------------------------------------------------------
def render_html(model, batch: int | None = None, dtype: str = "float32",
                optimizer: str = "sgd") -> str:
    """A plain HTML table with the totals under it (Jupyter's `_repr_html_`)."""
    right = ' style="text-align:right"'
    head = "".join(f"<th{right if c.numeric else ''}>{escape(c.header)}</th>"
                   for c in COLUMN_SPECS)
    body = []
    for cells in [_frozen_cells(r) for r in rows(model)] + [total_cells(model)]:
        body.append("<tr>" + "".join(f"<td{right if c.numeric else ''}>{escape(v)}</td>"
                                     for c, v in zip(COLUMN_SPECS, cells, strict=True))
                    + "</tr>")
    body[-1] = body[-1].replace("<td", "<td style=\"font-weight:bold\"", 1)
    notes = "".join(f"<li><b>{escape(k)}:</b> {escape(v)}</li>"
                    for k, v in totals_lines(model, batch, dtype, optimizer))
    return (f"<table><caption>{escape(model.name)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table><ul>{notes}</ul>")
