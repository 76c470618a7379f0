"""`archdsl diff A B`: two specs side by side, layer by layer, with the figures that differ.

The comparison is `archdsl.report.compare` (pure data); this module only renders it: a rich
table (coloured on a terminal, unless NO_COLOR or `--color never`; plain text when piped) or
`--json`. Exit 0 whether or not the specs differ; with `--exit-code`, 4 when they differ, so the
shared exit codes (1 invalid spec, 2 usage, ...) keep their meaning. Torch is never imported.
"""

from __future__ import annotations

import argparse
import sys

from archdsl.cli.common import (
    DIFFERENT,
    OK,
    SPEC_HELP,
    UsageError,
    add_spec_arguments,
    print_json,
    use_color,
)
from archdsl.passes.count import DTYPE_BYTES
from archdsl.passes.memory import OPTIMIZER_STATE
from archdsl.report.fit import table_width

HELP = "compare two specs layer by layer: added, removed and changed layers, totals with deltas"
DESCRIPTION = """\
Compare two specs layer by layer. Layers pair up by module name when both
models name their modules alike (ResNet-50 and ResNeXt-50), else by aligning
the two graph orders (VGG-16 and VGG-19: the extra convolutions are added
rows). Each row shows the layer's kind, output size, parameters and MACs;
a cell that differs reads "A → B". Rows are marked
  +  only in B (added)      -  only in A (removed)      ~  changed
Layers that are the same (module names aside: they shift when a layer is
inserted) are elided as "… N the same"; --all shows them. Under the table:
the totals of both (parameters, MACs, activations, receptive field, memory)
and their differences.

Settings (--input, --classes, --freeze, ...) apply to both specs; --model
picks a model of a multi-model file for both, --model-a / --model-b for one.

Exit code 0 whether or not the specs differ; with --exit-code, 4 when they
differ (a layer added, removed or changed, or a total that differs).

examples:
  archdsl diff vgg16 vgg19
  archdsl diff resnet50 resnext50_32x4d --all
  archdsl diff specs/lenet5.arch my_lenet.arch --exit-code
  archdsl diff nets.arch nets.arch --model-a Small --model-b Large
  archdsl diff resnet50 resnet101 --json --batch 32 --optimizer adam
"""
ARROW = " → "
MARKS = {"same": " ", "changed": "~", "added": "+", "removed": "-"}
STYLES = {"changed": "yellow", "added": "green", "removed": "red"}


def register(sub) -> None:
    p = sub.add_parser("diff", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec_a", metavar="A", help="the first spec: " + SPEC_HELP)
    p.add_argument("spec_b", metavar="B", help="the second spec (the same forms)")
    add_spec_arguments(p, spec=False)
    p.add_argument("--model-a", metavar="NAME", help="which model of A's file (overrides "
                   "--model)")
    p.add_argument("--model-b", metavar="NAME", help="which model of B's file (overrides "
                   "--model)")
    p.add_argument("--all", action="store_true", help="show the layers that are the same too")
    p.add_argument("--columns", metavar="NAMES", help="the table's columns, comma-separated "
                   "(choices: layer, kind, output, params, macs); default: all that fit")
    p.add_argument("--exit-code", action="store_true", help="exit with 4 when the specs "
                   "differ (default: 0 either way)")
    p.add_argument("--batch", type=int, metavar="N", help="batch size for the memory totals "
                   "(default: 1)")
    p.add_argument("--dtype", choices=list(DTYPE_BYTES), default="float32",
                   help="element type for memory totals (default: float32)")
    p.add_argument("--optimizer", choices=list(OPTIMIZER_STATE), default="sgd",
                   help="optimizer whose state the training memory includes (default: sgd)")
    p.set_defaults(run=run)


def load_both(args):
    """Both models; the diagnostics of both specs in one ArchError when either is invalid."""
    from archdsl.cli.common import load_from_args
    from archdsl.diagnostics import ArchError

    models, diagnostics = [], []
    for letter, spec, model in (("A", args.spec_a, args.model_a),
                                ("B", args.spec_b, args.model_b)):
        side = argparse.Namespace(**{**vars(args), "spec": spec, "model": model or args.model})
        try:
            models.append(load_from_args(side))
        except ArchError as err:  # say which side: two layer strings are both `<string>`
            diagnostics.extend(d.with_note(f"in {letter}: {_short(spec)}", None)
                               for d in err.diagnostics)
    if diagnostics:
        raise ArchError(diagnostics)
    return models


def _short(spec: str, width: int = 60) -> str:
    return spec if len(spec) <= width else spec[:width - 3] + "..."


def run(args) -> int:
    from archdsl.report.compare import compare

    if args.batch is not None and args.batch < 1:
        raise UsageError("--batch must be at least 1")
    a, b = load_both(args)
    result = compare(a, b, args.batch, args.dtype, args.optimizer)
    if args.json:
        print_json(result.to_json(args.spec_a, args.spec_b))
    else:
        color = args.color == "always" or (args.color == "auto" and use_color(sys.stdout))
        render(result, _console(color), show_all=args.all,
               labels=side_labels(result, args.spec_a, args.spec_b),
               width=table_width(sys.stdout), columns=args.columns)
    return DIFFERENT if args.exit_code and result.differ else OK


def _console(color: bool):
    from rich.console import Console

    if sys.stdout.isatty():
        return Console(color_system="auto" if color else None, highlight=False)
    return Console(width=table_width(sys.stdout) or 160,
                   color_system="standard" if color else None, highlight=False)


# --- rendering ---------------------------------------------------------------------------------
def _cells(f, with_padding: bool) -> list:
    from archdsl.report.fit import Cell, number_cell

    kind = f.kind + (f", pad {f.padding}" if with_padding and f.padding else "")
    return [Cell(f.name), Cell(kind), Cell("x".join(map(str, f.output))),
            number_cell(f.params, " *" if f.frozen and f.params else ""),
            Cell("?") if "macs" in f.node.op.unknown_figures else number_cell(f.macs)]


def row_cells(row, color: bool) -> list:
    """Layer, Kind, Output, Params, MACs (archdsl.report.fit cells, each with its compact
    form); a changed cell reads `A → B` (yellow in colour)."""
    from archdsl.report.fit import Cell

    if row.a is None or row.b is None:
        return _cells(row.a or row.b, False)
    pad = "padding" in row.differs
    out = []
    for x, y in zip(_cells(row.a, pad), _cells(row.b, pad), strict=True):
        if x.text == y.text:
            out.append(x)
        elif x.text.strip() or y.text.strip():
            compact = None
            if x.compact is not None or y.compact is not None:
                compact = (x.compact or "0") + ARROW + (y.compact or "0")
            out.append(Cell((x.text or "0") + ARROW + (y.text or "0"), compact,
                            "yellow" if color else None))
        else:
            out.append(Cell(""))
    return out


# The diff's columns: the marker and the layer name are never hidden, nor a number cut.
def _diff_columns():
    from archdsl.report import fit

    return [fit.Col("", "fixed", fit.ESSENTIAL), fit.Col("Layer", "text", fit.ESSENTIAL, 12,
                                                         "middle"),
            fit.Col("Kind", "text", 60, 8), fit.Col("Output", "fixed", 40),
            fit.Col("Params", "number", fit.ESSENTIAL), fit.Col("MACs", "number", 80)]


def _delta(total) -> str:
    from archdsl.report.tables import human_bytes

    if total.unit == "text":
        return "differs" if total.differs else ""
    d = total.delta
    if not d:
        return ""
    text = (f"{d:+,}" if total.unit == "count" else
            ("+" if d > 0 else "-") + human_bytes(abs(d)))
    return text + (f" ({d / total.a:+.1%})" if total.a else "")


def side_labels(result, spec_a: str, spec_b: str) -> tuple[str, str]:
    """What to call A and B: the model names, or the specs when the names are alike."""
    if result.a.name != result.b.name:
        return result.a.name, result.b.name
    if spec_a != spec_b:
        return _short(spec_a, 30), _short(spec_b, 30)
    return "A", "B"


def render(result, console, show_all: bool = False,
           labels: tuple[str, str] | None = None, width: int | None = None,
           columns: str | None = None) -> None:
    """The rows that differ (all with `show_all`) fitted to `width` (archdsl.report.fit), the
    counts, then the totals of both with their differences."""
    from rich.markup import escape

    from archdsl.report import fit
    from archdsl.report.tables import human_bytes

    color = console.color_system is not None
    name_a, name_b = (escape(x) for x in labels or (result.a.name, result.b.name))
    counts = result.counts()
    specs = _diff_columns()
    chosen = None
    if columns:
        chosen = [0] + [i for i in fit.choose_columns(specs, columns) if i != 0]
    lines: list = []
    elided = 0

    def flush() -> None:
        nonlocal elided
        if elided:
            lines.append(fit.Line(["", f"… {elided:,} the same", "", "", "", ""], "dim"))
            elided = 0

    for row in result.rows:
        if row.status == "same" and not show_all:
            elided += 1
            continue
        flush()
        style = STYLES.get(row.status) if color and row.status != "changed" else None
        lines.append(fit.Line([MARKS[row.status], *row_cells(row, color)], style))
    flush()
    if show_all or counts["same"] < len(result.rows):
        from rich.text import Text

        fit.print_table(console, specs, lines, width,
                        title=Text.from_markup(f"{name_a}{ARROW}{name_b}").plain, chosen=chosen)
    if result.differ:
        words = [f"{counts[k]:,} {k}" for k in ("added", "removed", "changed", "same")]
        console.print(f"{name_a} and {name_b} differ: {', '.join(words)}"
                      + (" (not shown; --all shows them)" if counts["same"] and not show_all
                         else ""))
    else:
        console.print(f"{name_a} and {name_b} are the same: {len(result.rows):,} layers")

    totals_columns = [fit.Col("", "text", fit.ESSENTIAL, 12), fit.Col(name_a, "number", fit.ESSENTIAL),
                      fit.Col(name_b, "number", fit.ESSENTIAL), fit.Col("Δ", "fixed", fit.ESSENTIAL)]
    total_lines = []
    for t in result.totals:
        if t.unit == "count":
            a, b = fit.number_cell(t.a), fit.number_cell(t.b)
            a, b = (c if c.text else fit.Cell("0") for c in (a, b))
        else:
            fmt = human_bytes if t.unit == "bytes" else str
            a, b = fit.Cell(fmt(t.a)), fit.Cell(fmt(t.b))
        style = "yellow" if color and t.differs else None
        total_lines.append(fit.Line([fit.Cell(f"{t.label}:"), a, b, fit.Cell(_delta(t))], style))
    fit.print_table(console, totals_columns, total_lines, width)
