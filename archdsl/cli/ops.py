"""`archdsl ops`: the layer kinds the language knows."""

from __future__ import annotations

from archdsl.cli.common import OK, print_json

HELP = "list the layer kinds, their aliases and arguments"


def register(sub) -> None:
    p = sub.add_parser("ops", help=HELP, description="List every layer kind of the op catalog "
                       "with its aliases, arguments (in positional order) and an example.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    from archdsl.ops import all_ops
    from archdsl.plugins import load_plugins

    load_plugins()
    records = []
    for op in all_ops():
        if not op.listed:  # the input: a setting, not a layer
            continue
        records.append({"name": op.name, "aliases": list(op.aliases), "family": op.family,
                        "arguments": list(op.Params.model_fields),
                        "keywords": dict(op.keywords), "summary": op.summary,
                        "example": op.example})
    if args.json:
        print_json(records)
        return OK
    from rich.console import Console
    from rich.table import Table

    table = Table(header_style="bold")
    for col in ("Layer", "Also", "Arguments", "Example"):
        table.add_column(col)
    for r in records:
        table.add_row(r["name"], ", ".join(r["aliases"]), ", ".join(r["arguments"]),
                      r["example"])
    Console().print(table)
    return OK
