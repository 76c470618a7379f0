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
  archdsl zoo --json
"""


def register(sub) -> None:
    p = sub.add_parser("zoo", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print a JSON list")
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

    from archdsl.loader import zoo_names, zoo_path
    from archdsl.model import load_model

    records = []
    names = zoo_names()
    progress = None
    if not args.json and sys.stderr.isatty():
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
    from rich.table import Table

    table = Table(header_style="bold", title="archdsl zoo", title_justify="left")
    table.add_column("Name", no_wrap=True)
    table.add_column("Params", justify="right")
    table.add_column("GMACs", justify="right")
    table.add_column("Layers", justify="right")
    table.add_column("Spec", no_wrap=True)
    table.add_column("Description")
    for r in records:
        table.add_row(r["name"], f"{r['params']:,}", f"{r['macs'] / 1e9:.2f}", str(r["layers"]),
                      r["file"], r["description"])
    console = Console() if sys.stdout.isatty() else Console(width=180)
    console.print(table)
    return OK
