"""`archdsl import MODULE:CALLABLE`: the spec a person would write of a PyTorch model (issue 18).

Imports the user's module (they named it: this runs their Python, as `python -c` would; spec text
never does), calls the callable with `--args`, reads the model on one sample of `--input`
(`archdsl.imported`), checks the spec it wrote and prints it (or writes `-o`). Layers archdsl
cannot express are listed on stderr (or in `--json`): they are `Opaque` in the spec.
"""

from __future__ import annotations

import argparse
import sys

from archdsl.cli.common import OK, UsageError, print_json
from archdsl.cli.output import check_output_path, write_output
from archdsl.cli.progress import working, wrote

HELP = "import a PyTorch model as an archdsl spec (MODULE:CALLABLE)"
DESCRIPTION = """\
Read a PyTorch model and write the spec a person would write of it: layers as
archdsl names them, one block per repeated class, the model's own module names
(so the compiled spec loads the original's state_dict). MODULE:CALLABLE names a
function or class that returns an nn.Module (or a module object); MODULE is an
importable module (the current directory is searched first) or a .py file.
The model runs once on a small random batch of --input to measure shapes.

Modules archdsl cannot express (an unknown class whose forward cannot be traced,
a Python `if` on the input's values, a call no layer kind imports) become
Opaque layers: the spec still checks, summarises and draws, but compiling it
refuses them. They are listed on stderr (in --json: "opaque").

This imports and runs the named Python module: import only code you trust.

examples:
  archdsl import torchvision.models:resnet50 --input 3x224x224 -o resnet50.arch
  archdsl import torchvision.models:resnet18 --args num_classes=10 > resnet18.arch
  archdsl import my_models.py:SmallNet --input 3x32x32 --args width=64 -o small.arch
  archdsl import torchvision.models:googlenet --args aux_logits=true --args init_weights=false
"""


def register(sub) -> None:
    p = sub.add_parser("import", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", metavar="MODULE:CALLABLE", help="what makes the model, e.g. "
                   "torchvision.models:resnet50 or my_models.py:Net")
    p.add_argument("--input", metavar="CxHxW", default="3x224x224", help="input size per "
                   "sample, without the batch (default: 3x224x224)")
    p.add_argument("--args", action="append", metavar="NAME=VALUE", default=[],
                   help="a keyword argument for the callable (repeatable); VALUE is read as "
                   "JSON when it parses (10, 0.5, true, null, [1, 2], \"text\"), else as text")
    p.add_argument("--name", metavar="NAME", help="the model's name in the spec (default: "
                   "the class name)")
    p.add_argument("-o", "--output", metavar="OUT", help="write the spec to this .arch file "
                   "(default: stdout)")
    p.add_argument("--json", action="store_true", help="print one JSON object: the spec (or "
                   "the file written), its figures and the opaque layers")
    p.set_defaults(run=run)


def run(args) -> int:
    from archdsl.imported import (
        call_target,
        from_torch,
        input_shape,
        parse_args_option,
        parse_target,
    )

    try:
        kwargs = parse_args_option(args.args)
    except ValueError as err:
        raise UsageError(f"--args: {err}") from None
    try:
        parse_target(args.target)
    except ValueError as err:
        raise UsageError(str(err)) from None
    shape = input_shape(args.input, "--input ")
    check_output_path(args.output)
    with working(args, f"importing {args.target}"):
        module = call_target(args.target, kwargs)
        model = from_torch(module, shape, origin=_origin(args.target, kwargs), name=args.name)
    text = model.spec_text
    opaque = [{"name": o.name, "type": o.type, "why": o.why} for o in model.opaque]
    if args.json:
        if args.output:
            write_output(args.output, text)
        print_json({"name": model.name, "input_shape": list(model.input_shape),
                    "output_shape": list(model.output_shape),
                    "total_params": model.totals.params, "opaque": opaque,
                    **({"output": args.output} if args.output else {"spec": text})})
        return OK
    write_output(args.output, text)
    wrote(args, args.output, f"{model.name}, {model.totals.params:,} parameters")
    if opaque:
        _list_opaque(opaque)
    return OK


def _origin(target: str, kwargs: dict) -> str:
    """Where the model came from, as the spec's first comment says it."""
    return target + "".join(f" --args {k}={v}" for k, v in kwargs.items()) if kwargs else target


def _list_opaque(opaque: list[dict]) -> None:
    """The layers archdsl cannot express: always shown (not progress; --quiet keeps them), as
    a compiler shows warnings."""
    from archdsl.diagnostics import escaped

    n = len(opaque)
    lines = [f"{n} layer{'s are' if n != 1 else ' is'} opaque (archdsl cannot express "
             f"{'them' if n != 1 else 'it'}: summary and render work, compile refuses "
             f"{'them' if n != 1 else 'it'}):"]
    width = max(len(o["name"]) for o in opaque)
    for o in opaque:
        lines.append(f"  {o['name']:<{width}}  {o['type']}: {o['why']}")
    sys.stderr.write("\n".join(escaped(line) for line in lines) + "\n")
