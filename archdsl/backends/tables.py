"""The per-layer table and totals, as the notes' AlexNet table shows them.

Contract: `rows(model)` gives one `Row` per layer (name, kernel, stride, padding, output shape,
activations, parameters, MACs); `totals_lines(model, ...)` the totals. Renderers turn them into
a rich terminal table, Markdown, LaTeX (booktabs) or CSV; JSON is `Model.summary()`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from archdsl.ops.base import fmt_shape
from archdsl.passes.count import DTYPE_BYTES

COLUMNS = ("Layer", "Kind", "Kernel", "Stride", "Pad", "Output", "Activations", "Params", "MACs")


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

    def cells(self) -> list[str]:
        return [self.layer, self.kind, self.kernel, self.stride, self.padding, self.output,
                _num(self.activations), _num(self.params), _num(self.macs)]


def _num(n: int) -> str:
    return f"{n:,}" if n else ""


def rows(model) -> list[Row]:
    out = []
    for node in model.layers():
        p = node.ann.params
        kernel, stride, padding = node.op.cells(p) if p is not None else ("", "", "")
        out.append(Row(node.display, node.op.name, kernel, stride, padding,
                       fmt_shape(node.ann.out_shape), node.ann.activations,
                       node.ann.param_count, node.ann.macs, node.frozen, node.op.elementwise))
    return out


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n} B"


def totals_lines(model, batch: int | None = None, dtype: str = "float32") -> list[tuple[str, str]]:
    t = model.totals
    size = DTYPE_BYTES[dtype]
    lines = [
        ("Input", fmt_shape(model.input_shape)),
        ("Output", ", ".join(f"{name} {fmt_shape(node.ann.out_shape)}"
                             for name, node in model.outputs)),
        ("Parameters", f"{t.params:,}" + (f" ({t.trainable:,} trainable, {t.frozen:,} frozen)"
                                          if t.frozen else "")),
        ("MACs", f"{t.macs:,} (FLOPs = 2 x MACs = {2 * t.macs:,})"),
        ("Activations", f"{t.activations:,} per sample (outputs of layers that make new "
                        "feature maps)"),
        (f"Weights ({dtype})", human_bytes(t.params * size)),
        (f"Activations ({dtype})", human_bytes(t.activations * size) + " per sample"
         + (f", {human_bytes(t.activations * size * batch)} per batch of {batch}"
            if batch else "")),
    ]
    return lines


def render_rich(model, batch: int | None = None, dtype: str = "float32", console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    if console is None:
        import sys

        console = Console() if sys.stdout.isatty() else Console(width=160)
    table = Table(title=f"{model.name}", title_justify="left", header_style="bold",
                  show_lines=False, pad_edge=False)
    for col in COLUMNS:
        table.add_column(col, justify="right" if col in ("Activations", "Params", "MACs")
                         else "left", no_wrap=True, overflow="fold" if col == "Layer" else None)
    for r in rows(model):
        style = "dim" if r.elementwise and not r.params else None
        cells = r.cells()
        if r.frozen and r.params:
            cells[7] += " *"
        table.add_row(*cells, style=style)
    t = model.totals
    table.add_section()
    table.add_row("Total", "", "", "", "", fmt_shape(model.output_shape), _num(t.activations),
                  _num(t.params), _num(t.macs), style="bold")
    console.print(table)
    for key, value in totals_lines(model, batch, dtype):
        console.print(f"[bold]{key}:[/bold] {value}", highlight=False)
    if t.frozen:
        console.print("[dim]* frozen (not trained)[/dim]")


def render_markdown(model, batch: int | None = None, dtype: str = "float32") -> str:
    right = {"Activations", "Params", "MACs"}
    head = "| " + " | ".join(COLUMNS) + " |"
    rule = "|" + "|".join("---:" if c in right else "---" for c in COLUMNS) + "|"
    body = ["| " + " | ".join(_md(c) for c in r.cells()) + " |" for r in rows(model)]
    t = model.totals
    body.append(f"| **Total** | | | | | {fmt_shape(model.output_shape)} | "
                f"**{t.activations:,}** | **{t.params:,}** | **{t.macs:,}** |")
    notes = [f"- **{k}:** {_md(v)}" for k, v in totals_lines(model, batch, dtype)]
    return "\n".join([f"### {model.name}", "", head, rule, *body, "", *notes]) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_csv(model) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["layer", "kind", "kernel", "stride", "padding", "output", "activations",
                     "params", "macs", "frozen"])
    for r in rows(model):
        writer.writerow([r.layer, r.kind, r.kernel, r.stride, r.padding, r.output,
                         r.activations, r.params, r.macs, int(r.frozen)])
    return buf.getvalue()


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def render_latex(model, batch: int | None = None, dtype: str = "float32") -> str:
    lines = [r"% requires \usepackage{booktabs}", r"\begin{table}[ht]", r"\centering",
             r"\caption{" + latex_escape(model.name) + "}",
             r"\begin{tabular}{lllllrrrr}", r"\toprule",
             " & ".join(latex_escape(c) for c in COLUMNS) + r" \\", r"\midrule"]
    for r in rows(model):
        cells = [latex_escape(c) for c in r.cells()]
        cells[5] = cells[5].replace("x", r"$\times$")
        lines.append(" & ".join(cells) + r" \\")
    t = model.totals
    lines += [r"\midrule", rf"Total & & & & & & {t.activations:,} & {t.params:,} & {t.macs:,} \\",
              r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
