"""`archdsl compile SPEC`: standalone PyTorch source, TorchScript, ONNX or a torch.export program.

Python source is written without importing torch; the other formats build the module, export it
and check the file against the module (`runtime/export.py`; docs/exports.md).
"""

from __future__ import annotations

import argparse
import sys

from archdsl.cli.common import OK, UsageError, add_spec_arguments, load_from_args
from archdsl.cli.output import check_output_path, write_output
from archdsl.cli.progress import quiet, working, wrote
from archdsl.runtime.formats import FORMATS

HELP = "compile a spec to PyTorch source, TorchScript, ONNX or a torch.export program"
DESCRIPTION = """\
Write a spec as readable standalone PyTorch source (the default: imports torch
only, one nn.Module class named after the model, a class per block, a shape
comment on each forward line), or export the built module:

  --format torchscript   torch.jit.script of the module (.ts)
  --format onnx          ONNX, dynamic batch axis, every output (.onnx)
  --format export        a torch.export program, dynamic batch (.pt2)

Without --format, the suffix of -o chooses (.onnx, .pt2, .ts; else Python).
Exports carry the weights of --seed (the same as archdsl.build) or of
--weights FILE, a state_dict saved with torch.save or safetensors, and are
checked against the PyTorch module after writing (ONNX with onnxruntime).

examples:
  archdsl compile specs/lenet5.arch -o lenet5.py
  archdsl compile resnet18 --format onnx --weights resnet18.pt -o resnet18.onnx
  archdsl compile googlenet -o googlenet.pt2 --optimize inference
  archdsl compile resnet50 --head "FC(2)" --freeze conv1,bn1,layer1 -o resnet50_ft.py
"""


def register(sub) -> None:
    p = sub.add_parser("compile", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_spec_arguments(p, json_flag=False)
    p.add_argument("-o", "--output", metavar="OUT", help="output file (default: stdout, "
                   "Python source only)")
    p.add_argument("--format", choices=FORMATS, help="what to write (default: from the -o "
                   "suffix, else py)")
    p.add_argument("--weights", metavar="FILE", help="load this state_dict (.pt, .pth or "
                   ".safetensors) before exporting")
    p.add_argument("--optimize", choices=("inference",), help="inference: fold BatchNorm into "
                   "the convolution before it and drop dropout")
    p.add_argument("--channels-last", action="store_true", help="export with weights in the "
                   "channels_last memory format (a CPU/GPU speed-up for convolutions)")
    p.add_argument("--outputs", choices=("all", "main"), default="all", help="models with "
                   "side outputs (Aux): export every output (default) or the main one")
    p.add_argument("--opset", type=int, metavar="N", help="ONNX opset version (default: the "
                   "exporter's)")
    p.add_argument("--no-check", action="store_true", help="skip running the exported file "
                   "against the PyTorch module")
    p.add_argument("--emit", choices=("ast", "ir", "shapes", "python"),
                   help="print a pipeline stage instead (python is the default output)")
    p.set_defaults(run=run)


def run(args) -> int:
    from archdsl.cli.check import emit_stage

    exporting = args.format not in (None, "py") or args.weights or args.optimize or \
        args.channels_last
    if args.emit and exporting:
        raise UsageError("--emit prints a pipeline stage; it does not combine with --format, "
                         "--weights or --optimize")
    done = emit_stage(args)
    if done is not None:
        return done
    fmt = _format(args)
    if fmt == "py":
        if args.weights or args.optimize or args.channels_last:
            raise UsageError("Python source carries no weights: --weights, --optimize and "
                             "--channels-last need --format torchscript, onnx or export")
        check_output_path(args.output)
        model = load_from_args(args)
        write_output(args.output, model.source())
        wrote(args, args.output, "PyTorch source")
        return OK
    if not args.output or args.output == "-":
        raise UsageError(f"--format {fmt} writes a binary file: give it a name with -o FILE")
    from archdsl.runtime.export import ExportOptionError, check_options, export

    options = dict(weights=args.weights, optimize=args.optimize,
                   channels_last=args.channels_last, outputs=args.outputs, opset=args.opset)
    try:  # the API's own checks, before the spec is loaded and the module built
        check_options(args.output, fmt, **options)
    except ExportOptionError as err:
        raise UsageError(str(err)) from None
    model = load_from_args(args)
    from archdsl.runtime.checkpoint import WeightsError

    step = "exporting and checking the reload" if not args.no_check else "exporting"
    try:
        with working(args, f"{model.name} → {args.output}: building, {step}"):
            report = export(model, args.output, fmt, verify=not args.no_check, **options)
    except WeightsError as err:
        raise UsageError(f"--weights: {err}") from None
    except OSError as err:
        raise UsageError(f"cannot write {args.output}: {err.strerror or err}") from None
    if not quiet(args):  # `wrote PATH (SIZE, format; outputs ...)`, then the check
        first, _, rest = report.describe().partition("\n")
        detail = first[first.index("(") + 1:-1] if "(" in first else ""
        wrote(args, args.output, detail)
        if rest:
            sys.stderr.write(rest + "\n")
    return OK


def _format(args) -> str:
    from archdsl.runtime.export import format_for

    return format_for(args.output if args.output != "-" else None, args.format)
