"""`archdsl compile SPEC`: standalone PyTorch source for a spec."""

from __future__ import annotations

import argparse

from archdsl.cli.common import OK, add_spec_arguments, load_from_args, write_output

HELP = "compile a spec to standalone PyTorch source (imports torch only)"
DESCRIPTION = """\
Write readable PyTorch source for a spec: one nn.Module class named after the
model (constructible with no arguments), a class per block, straight-line
forward methods with the output shape of each line as a comment.

examples:
  archdsl compile specs/lenet5.arch -o lenet5.py
  archdsl compile resnet50 --head "FC(2)" --freeze conv1,bn1,layer1 -o resnet50_ft.py
"""


def register(sub) -> None:
    p = sub.add_parser("compile", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_spec_arguments(p, json_flag=False)
    p.add_argument("-o", "--output", metavar="OUT", help="output file (default: stdout)")
    p.add_argument("--emit", choices=("ast", "ir", "shapes", "python"),
                   help="print a pipeline stage instead (python is the default output)")
    p.set_defaults(run=run)


def run(args) -> int:
    from archdsl.cli.check import emit_stage

    done = emit_stage(args)
    if done is not None:
        return done
    model = load_from_args(args)
    write_output(args.output, model.source())
    return OK
