"""`archdsl <verb>`: dispatch, error handling and exit codes for every command."""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from archdsl import __version__
from archdsl.cli import check, compile, diff, import_torch, ops, render, serve, summary, zoo
from archdsl.cli.common import (
    ENVIRONMENT,
    INTERNAL,
    INVALID,
    OK,
    USAGE,
    UsageError,
    print_json,
    use_color,
)
from archdsl.cli.output import OutputError, ReaderGone, guarded_stdout, silence_broken_stdout
from archdsl.diagnostics import escaped

# Each command is a module with `register(subparsers)`; its parser sets `run`. All ship with
# archdsl (pyproject.toml lists the archdsl.cli package), so each is imported directly.
COMMANDS = [check, summary, compile, ops, zoo, render, diff, serve, import_torch]

DESCRIPTION = """\
archdsl: write a CNN as text; get a checked graph, exact figures, diagrams and PyTorch.

A SPEC is a .arch or .yaml file, a zoo name (resnet50, vgg16, ... see `archdsl zoo`),
or a layer string such as "Conv-ReLU-Pool-Conv-ReLU-Pool-FC-SM".

exit codes: 0 ok, 1 invalid spec, 2 usage error (also an -o path that cannot be written),
            3 missing tool, backend failure or unwritable standard output,
            4 specs differ (diff --exit-code), 70 internal error
"""


class Parser(argparse.ArgumentParser):
    """argparse with the help users of git and pip expect: a mistyped command or option gets a
    did-you-mean, an invalid choice lists the choices (argparse 3.10 and 3.11 do; said here
    for every version)."""

    def error(self, message: str):
        import difflib
        import re

        bad = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if bad:
            choices = re.findall(r"'([^']*)'", bad.group(2)) or re.findall(r"[\w-]+",
                                                                          bad.group(2))
            close = difflib.get_close_matches(bad.group(1), choices, n=1, cutoff=0.6)
            if close:
                message += f"; did you mean '{close[0]}'?"
        super().error(message)


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    return [o for action in parser._actions for o in action.option_strings]


def _check_options(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """An unknown option is reported by the parser it was meant for (`archdsl summary X
    --inpt` shows summary's usage, not the top level's), with the closest option."""
    import difflib

    sub = parser._subparsers._group_actions[0].choices  # the commands
    current = parser
    for token in argv:
        if token == "--":
            return
        if current is parser and token in sub:
            current = sub[token]
            continue
        if not token.startswith("--") or token in ("--help",):
            continue
        name = token.split("=", 1)[0]
        known = _option_strings(current)
        if name in known or sum(o.startswith(name) for o in known) == 1:
            continue  # argparse accepts a unique prefix
        close = difflib.get_close_matches(name, [o for o in known if o.startswith("--")], n=1,
                                          cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        current.error(f"unrecognized option {name}{hint}")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="archdsl", description=DESCRIPTION,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"archdsl {__version__}")
    parser.add_argument("--color", "--colour", choices=("auto", "always", "never"), default="auto",
                        help="colour diagnostics (default: on a terminal, unless NO_COLOR)")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    sub.required = True
    for command in COMMANDS:
        command.register(sub)
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but the "
                        "output asked for and errors: no progress, no `wrote FILE` lines")
    for command_parser in sub.choices.values():  # `archdsl check X --color never` works too
        command_parser.add_argument("--color", "--colour", choices=("auto", "always", "never"),
                                    default=argparse.SUPPRESS, help="colour diagnostics "
                                    "(default: on a terminal, unless NO_COLOR is set)")
        command_parser.add_argument("-q", "--quiet", action="store_true",
                                    default=argparse.SUPPRESS, help="no progress display and "
                                    "no `wrote FILE` lines; errors still print")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # bare `archdsl`: the help, as git and pip do
        parser.print_help()
        return OK
    _check_options(parser, argv)
    args = parser.parse_args(argv)
    try:
        with guarded_stdout():  # one policy for output errors (archdsl/cli/output.py)
            try:
                return args.run(args)
            except Exception as err:  # noqa: BLE001  (every failure gets an exit code)
                return handle_error(err, args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (BrokenPipeError, ReaderGone):  # the reader went away (`| head`): stop quietly
        silence_broken_stdout()
        return 0
    except OutputError as err:
        sys.stderr.write(f"archdsl: error: {escaped(str(err))}\n")
        return ENVIRONMENT


def handle_error(err: Exception, args) -> int:
    from archdsl.diagnostics import ArchError, BackendError, render_text

    if isinstance(err, (BrokenPipeError, OutputError, ReaderGone)):
        raise err  # main's policy for output errors, also when raised while reporting another
    if isinstance(err, ArchError):
        if getattr(args, "json", False):
            print_json({"diagnostics": [d.to_json() for d in err.diagnostics]})
        else:
            color = args.color == "always" or (args.color == "auto" and use_color(sys.stderr))
            sys.stderr.write(render_text(err.diagnostics, color))
            n = sum(1 for d in err.diagnostics if d.severity == "error")
            sys.stderr.write(f"{n} error{'s' if n != 1 else ''}\n")
        return INVALID
    if isinstance(err, UsageError):
        sys.stderr.write(f"archdsl: error: {escaped(str(err))}\n")
        return USAGE
    if isinstance(err, BackendError):
        sys.stderr.write(f"archdsl: {escaped(str(err))}\n")
        return ENVIRONMENT
    if isinstance(err, RecursionError):
        sys.stderr.write("archdsl: the spec nests too deeply to process\n")
        return INVALID
    if os.environ.get("ARCHDSL_DEBUG"):
        traceback.print_exc()
    else:
        sys.stderr.write(f"archdsl: internal error: {type(err).__name__}: {escaped(str(err))}\n"
                         "This is a bug in archdsl. Run again with ARCHDSL_DEBUG=1 for the "
                         "traceback, and please report it.\n")
    return INTERNAL


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
