"""What every command shares: the spec arguments, loading, output streams and exit codes.

Exit codes (the same for every command; README, "Exit codes"):
  0  success
  1  the spec is invalid (diagnostics were printed)
  2  usage error (bad flags or arguments, an -o path that cannot be written)
  3  the environment lacks something or a backend failed (e.g. no Graphviz `dot`, an export
     error), or standard output cannot be written; the message says what to do
  4  `archdsl diff --exit-code`: the specs differ
  70 internal error (a bug): a short message; the traceback only with ARCHDSL_DEBUG=1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

OK, INVALID, USAGE, ENVIRONMENT, DIFFERENT, INTERNAL = 0, 1, 2, 3, 4, 70

SPEC_HELP = ("a spec file (.arch or .yaml), a zoo name (e.g. resnet50; see `archdsl zoo`) or a "
             "layer string in quotes (e.g. \"Conv-ReLU-Pool-FC-SM\")")


class UsageError(Exception):
    """Bad command-line arguments: exit code 2."""


def add_spec_arguments(parser: argparse.ArgumentParser, json_flag: bool = True,
                       spec: bool = True) -> None:
    """SPEC (unless `spec=False`: a command taking two adds its own) and the settings."""
    if spec:
        parser.add_argument("spec", metavar="SPEC", help=SPEC_HELP)
    group = parser.add_argument_group("settings (override or supply the spec's own)")
    group.add_argument("--input", metavar="CxHxW", help="input size per sample, e.g. 3x224x224")
    group.add_argument("--classes", type=int, metavar="N", help="number of classes: the size "
                       "of a final FC written without one (and of `classes` in the spec)")
    group.add_argument("--model", metavar="NAME", help="which model of a file that defines "
                       "several (default: the first)")
    group.add_argument("--freeze", action="append", metavar="NAMES",
                       help="freeze modules by name, stage or glob (comma-separated, "
                       "repeatable), e.g. --freeze conv1,bn1,layer1")
    group.add_argument("--head", metavar="LAYERS", help="replace the classifier, e.g. "
                       "--head 'FC(2)'")
    group.add_argument("--seed", type=int, metavar="N", help="seed for weight initialisation "
                       "(default: the spec's seed, else 0)")
    group.add_argument("--limit", action="append", metavar="KEY=VALUE", default=[],
                       help="raise or lower a safety limit, e.g. --limit max_layers=200000")
    group.add_argument("--no-escape", action="store_true",
                       help="refuse `use` imports outside the spec's own directory")
    if json_flag:
        parser.add_argument("--json", action="store_true",
                            help="print one JSON object on stdout (diagnostics too)")


def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given as flags (those of archdsl/settings.py's table marked `cli`)."""
    from archdsl.settings import SETTINGS

    values = {s.key: getattr(args, s.key) for s in SETTINGS if s.cli}
    if values.get("freeze"):  # repeatable and comma-separated
        values["freeze"] = [name.strip() for item in values["freeze"]
                            for name in item.split(",") if name.strip()]
    return values


def limits_from(args: argparse.Namespace):
    from archdsl.limits import Limits

    try:
        return Limits.parse(args.limit or [])
    except ValueError as err:
        raise UsageError(f"--limit: {err}") from None


def roots_from(args: argparse.Namespace):
    if not getattr(args, "no_escape", False):
        return None
    from pathlib import Path

    from archdsl.loader import classify
    from archdsl.paths import PathProblem, resolved

    kind, path = classify(args.spec)
    try:
        return [resolved(path).parent if path is not None else Path.cwd()]
    except PathProblem:  # reading the spec reports it (archdsl.paths)
        return [Path.cwd()]


def load_from_args(args: argparse.Namespace, stage: str = "model"):
    """The checked model for a command's SPEC and settings, or the output of an earlier stage
    of the pipeline (`archdsl.model.load_stage`); raises ArchError."""
    from archdsl.model import load_stage

    if args.classes is not None and args.classes < 1:
        raise UsageError("--classes must be at least 1")
    return load_stage(args.spec, stage, model=args.model, limits=limits_from(args),
                      roots=roots_from(args), **settings_from(args))


def use_color(stream) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
