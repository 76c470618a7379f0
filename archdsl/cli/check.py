"""`archdsl check SPEC`: parse, elaborate and shape-check a spec; print what it is."""

from __future__ import annotations

import argparse

from archdsl.cli.common import OK, add_spec_arguments, load_from_args, print_json

HELP = "check a spec: syntax, layers, arguments and shapes"
DESCRIPTION = """\
Check a spec without building anything (torch is not imported).

Prints one line about the model, or diagnostics that point at the mistake
(file:line:col, the line, a caret, and a hint). Use --emit to stop at a pipeline
stage and print it.

examples:
  archdsl check specs/alexnet.arch
  archdsl check "Conv-ReLU-Pool-Conv-ReLU-Pool-FC-SM" --input 1x28x28 --classes 10
  archdsl check resnet50 --emit shapes
"""
EMITS = ("ast", "ir", "shapes", "python")


def register(sub) -> None:
    p = sub.add_parser("check", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_spec_arguments(p)
    p.add_argument("--emit", choices=EMITS, help="print a pipeline stage: the parsed program "
                   "(ast), the elaborated graph (ir), shapes per layer, or the Python source")
    p.set_defaults(run=run)


def emit_stage(args) -> int | None:
    """Handle --emit for check and compile; None when no stage was asked for."""
    if not args.emit:
        return None
    from archdsl.cli.output import write_output
    from archdsl.report import dump

    if args.emit == "ast":
        text = dump.dump_ast(load_from_args(args, "ast").program)
    elif args.emit == "ir":
        text = dump.dump_ir(load_from_args(args, "ir"))
    else:
        model = load_from_args(args)
        text = dump.dump_shapes(model) if args.emit == "shapes" else model.source()
        if args.emit == "shapes" and getattr(args, "json", False):
            print_json({"ok": True, "emit": "shapes", "model": model.name,
                        "input_shape": list(model.input_shape),
                        "layers": [{"name": node.name, "op": node.op.name,
                                    "in_shapes": [list(s) for s in node.ann.in_shapes],
                                    "out_shape": list(node.ann.out_shape)}
                                   for node in model.layers()]})
            return OK
    if getattr(args, "json", False):  # the stage's text, as one JSON string
        print_json({"ok": True, "emit": args.emit, "text": text})
        return OK
    write_output(getattr(args, "output", None), text)
    from archdsl.cli.progress import wrote

    wrote(args, getattr(args, "output", None), args.emit)
    return OK


def run(args) -> int:
    done = emit_stage(args)
    if done is not None:
        return done
    model = load_from_args(args)
    t = model.totals
    if args.json:
        summary = model.summary()
        summary.pop("layers")
        print_json({"ok": True, **summary})
        return OK
    outs = ", ".join(f"{name} {'x'.join(map(str, node.ann.out_shape))}"
                     for name, node in model.outputs) if len(model.outputs) > 1 else \
        "x".join(map(str, model.output_shape))
    print(f"ok: {model.name}: {'x'.join(map(str, model.input_shape))} -> {outs}, "
          f"{len(model.layers())} layers, {t.params:,} parameters, {t.macs:,} MACs"
          + (f" + ? ({', '.join(t.uncounted('macs'))} not counted: opaque)"
             if t.uncounted("macs") else ""))
    return OK
