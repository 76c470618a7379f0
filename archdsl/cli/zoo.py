"""`archdsl zoo`: the shipped model specs, with their figures."""

from __future__ import annotations

import argparse

from archdsl.cli.common import OK, print_json

HELP = "list the model zoo (shipped specs usable by name everywhere a SPEC is accepted)"
DESCRIPTION = """\
List the shipped specs: any of these names works where a SPEC is expected
(`archdsl summary resnet50`, `archdsl.build("resnet50")`).

examples:
  archdsl zoo
  archdsl zoo resnet          (names containing "resnet")
  archdsl zoo 'vgg1?_bn'      (a glob, as timm's list_models("resnet*"))
  archdsl zoo --json
"""


def register(sub) -> None:
    p = sub.add_parser("zoo", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pattern", nargs="?", metavar="PATTERN", help="only names matching this "
                   "glob (resnet*) or containing this text (resnet)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--columns", metavar="NAMES", help="the table's columns, comma-separated "
                   "(choices: name, params, gmacs, layers, spec, description)")
    p.set_defaults(run=run)


def _first_comment(path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("#"):
            text = line.lstrip("# ").strip()
            return text.split(" (")[0].rstrip(",.:")
    return ""


def run(args) -> int:
    import sys

    from archdsl.cli.common import UsageError
    from archdsl.loader import zoo_names, zoo_path
    from archdsl.model import load_model
    from archdsl.report import fit

    records = []
    names = zoo_names(args.pattern)
    if not names:
        raise UsageError(f"no zoo name matches {args.pattern!r}; `archdsl zoo` lists them all")
    columns = [fit.Col("Name", "text", fit.ESSENTIAL, 10, "middle"),
               fit.Col("Params", "number", fit.ESSENTIAL), fit.Col("GMACs", "number", 80),
               fit.Col("Layers", "number", 40), fit.Col("Spec", "text", 20, 12),
               fit.Col("Description", "text", 30, 16)]
    try:
        chosen = fit.choose_columns(columns, args.columns) if args.columns else None
    except ValueError as err:
        raise UsageError(f"--columns: {err}") from None
    progress = None
    if not args.json and not getattr(args, "quiet", False) and sys.stderr.isatty():
        from rich.progress import Progress

        progress = Progress(transient=True)
        progress.start()
        task = progress.add_task("checking the zoo", total=len(names))
    try:
        for name in names:
            path = zoo_path(name)
            model = load_model(name)
            records.append({"name": name, "model": model.name, "file": f"specs/{path.name}",
                            "input_shape": list(model.input_shape),
                            "outputs": len(model.outputs),
                            "params": model.totals.params, "macs": model.totals.macs,
                            "layers": len(model.layers()), "description": _first_comment(path)})
            if progress is not None:
                progress.advance(task)
    finally:
        if progress is not None:
            progress.stop()
    if args.json:
        print_json(records)
        return OK
    from rich.console import Console

    lines = [fit.Line([fit.Cell(r["name"]), fit.number_cell(r["params"]),
                       fit.Cell(f"{r['macs'] / 1e9:.2f}"), fit.Cell(str(r["layers"])),
                       fit.Cell(r["file"]), fit.Cell(r["description"])]) for r in records]
    fit.print_table(Console(highlight=False), columns, lines, fit.table_width(sys.stdout),
                    title="archdsl zoo", chosen=chosen)
    return OK
