"""`archdsl summary SPEC`: the per-layer table and totals."""

from __future__ import annotations

import argparse

from archdsl.cli.common import OK, UsageError, add_spec_arguments, load_from_args, print_json
from archdsl.cli.output import check_output_path
from archdsl.passes.count import DTYPE_BYTES
from archdsl.passes.memory import OPTIMIZER_STATE
from archdsl.report.tables import COLUMNS

HELP = ("per-layer table: kernel, stride, padding, output size, activations, params, MACs, "
        "receptive field; memory for training")
DESCRIPTION = """\
Print the per-layer table of a spec with its totals: parameters (trainable and
frozen), MACs, activations, and memory for weights and activations.

Counting conventions: shapes are per sample; MACs are multiply-accumulates of
convolutions and FC layers (FLOPs = 2 x MACs); activations are outputs of layers
that make a new feature map (elementwise layers such as ReLU, BN, dropout and
softmax add none), as the lecture notes count "nodes". RF is the receptive field:
the part of the input one output unit sees (three 3x3 convolutions see 7x7).
Training memory is an estimate: weights + gradients + optimizer state + the
tensors autograd keeps for backward (checked against torch within 10%).

examples:
  archdsl summary specs/alexnet.arch
  archdsl summary resnet50 --format markdown > resnet50.md
  archdsl summary specs/alexnet.arch --format latex --columns layer,kernel,output,params
  archdsl summary resnet50 --json --batch 32 --dtype float16
  archdsl summary resnet50 --batch 8 --optimizer adam
  archdsl summary resnet152 --depth 2 --columns layer,output,params,macs
"""
FORMATS = ("table", "markdown", "latex", "csv", "json")


def register(sub) -> None:
    p = sub.add_parser("summary", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_spec_arguments(p)
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="output format (default: a table on the terminal)")
    p.add_argument("--batch", type=int, metavar="N", help="also give activation memory for a "
                   "batch of N")
    p.add_argument("--dtype", choices=list(DTYPE_BYTES), default="float32",
                   help="element type for memory figures (default: float32)")
    p.add_argument("--optimizer", choices=list(OPTIMIZER_STATE), default="sgd",
                   help="optimizer whose state the training memory estimate includes: sgd "
                   "(none), momentum (one tensor per parameter), adam (two); default: sgd")
    p.add_argument("--depth", type=int, metavar="N", help="fold layers more than N blocks deep "
                   "into one row for their block or stage (torchinfo's depth; default: all)")
    p.add_argument("--columns", metavar="NAMES", help="the table's columns, comma-separated, "
                   "e.g. layer,output,params,macs (choices: " + ", ".join(
                       c.lower() for c in COLUMNS) + "); default: all that fit the terminal")
    p.add_argument("--all-rows", action="store_true",
                   help="LaTeX: keep the rows of layers that add to no count (ReLU, LRN, "
                   "dropout; left out by default, as in the notes' table, so it fits a slide)")
    p.add_argument("--units", choices=("compact", "exact"), default=None,
                   help="LaTeX: counts as 34.9K and 1.1G (compact, the default, so the table "
                   "fits an article column and a slide) or 34,944 (exact)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(run=run)


def run(args) -> int:
    from archdsl.cli.output import write_output
    from archdsl.report import tables

    if args.batch is not None and args.batch < 1:
        raise UsageError("--batch must be at least 1")
    if args.depth is not None and args.depth < 1:
        raise UsageError("--depth must be at least 1")
    try:
        tables.column_choice(args.columns)
    except ValueError as err:
        raise UsageError(f"--columns: {err}") from None
    fmt = "json" if args.json else (args.format or "table")
    if fmt != "latex" and args.units:
        raise UsageError("--units shapes the LaTeX table: give --format latex")
    if fmt != "latex" and args.all_rows:
        raise UsageError("--all-rows shapes the LaTeX table (the others list every layer): "
                         "give --format latex")
    check_output_path(args.output)
    model = load_from_args(args)
    if fmt == "json":
        summary = model.summary(batch=args.batch, dtype=args.dtype, optimizer=args.optimizer)
        if args.output:
            import json

            write_output(args.output, json.dumps(summary, indent=2) + "\n")
        else:
            print_json(summary)
    elif fmt == "markdown":
        write_output(args.output, tables.render_markdown(model, args.batch, args.dtype,
                                                         args.optimizer, depth=args.depth))
    elif fmt == "latex":
        try:
            text = tables.render_latex(model, args.batch, args.dtype, args.columns,
                                       args.units or "compact", depth=args.depth,
                                       all_rows=args.all_rows)
        except ValueError as err:
            raise UsageError(f"--columns: {err}") from None
        write_output(args.output, text)
    elif fmt == "csv":
        write_output(args.output, tables.render_csv(model))
    else:
        if args.output:
            from rich.console import Console

            from archdsl.cli.output import open_output

            with open_output(args.output) as fh:
                tables.render_rich(model, args.batch, args.dtype,
                                   Console(file=fh, color_system=None, highlight=False),
                                   optimizer=args.optimizer, depth=args.depth,
                                   columns=args.columns)
        else:
            tables.render_rich(model, args.batch, args.dtype, optimizer=args.optimizer,
                               depth=args.depth, columns=args.columns)
    from archdsl.cli.progress import wrote

    wrote(args, args.output, f"{fmt}")
    return OK
