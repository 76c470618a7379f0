"""The corpus of broken specs: each one through the `archdsl` command, output golden.

Cases live in `tests/diagnostics/<topic>/`: `.arch` and `.yaml` files are passed as paths, a
`.txt` file holds a bare layer string (as typed in quotes on the command line). A first line
`# archdsl: <command> <flags>` says how to run it (default: `check`); in a `.txt` it is not part
of the string. Files under a `lib/` folder are only imported by cases. The expected output of
`case.ext` is `case.expected`: the command line, the exit status, stdout and stderr, exactly.
Refresh with ARCHDSL_ACCEPT=1 and review the diff.

Every case must exit 1 (invalid spec) or 2 (usage) with no traceback, and the Python API must
raise `ArchError` with the same diagnostics the command printed.

Contract: each case runs the CLI's `main(argv)` in this process (`cli_inprocess`: the
environment and working directory the subprocess gets, so the output is the same bytes); a
handful of cases, chosen to cover stdout, stderr, colour, exit 1 and exit 2, also run the real
`archdsl` command in a subprocess against the same golden files.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

import archdsl
from archdsl.diagnostics import render_text
from conftest import ROOT, check_golden

CORPUS = Path(__file__).parent / "diagnostics"
SUFFIXES = (".arch", ".yaml", ".txt")
DIRECTIVE = "# archdsl:"


def cases() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.suffix in SUFFIXES and "lib" not in
                  p.relative_to(CORPUS).parts[:-1])


def command_of(case: Path) -> tuple[list[str], str]:
    """(the argv after `archdsl`, the command line as shown in the golden file)."""
    text = case.read_text(encoding="utf-8", errors="replace")
    first, _, rest = text.partition("\n")
    words = shlex.split(first[len(DIRECTIVE):]) if first.startswith(DIRECTIVE) else ["check"]
    if case.suffix == ".txt":
        spec = (rest if first.startswith(DIRECTIVE) else text).removesuffix("\n")
    else:
        spec = str(case.relative_to(ROOT))
    argv = [words[0], spec, *words[1:]]
    shown = "$ archdsl " + " ".join(shlex.quote(a) for a in argv)
    return argv, shown


def run_case(cli, case: Path) -> tuple[str, subprocess.CompletedProcess]:
    argv, shown = command_of(case)
    proc = cli(*argv)
    out = [shown, f"exit {proc.returncode}"]
    if proc.stdout:
        out += ["--- stdout", proc.stdout.rstrip("\n")]
    if proc.stderr:
        out += ["--- stderr", proc.stderr.rstrip("\n")]
    return "\n".join(out) + "\n", proc


def test_the_corpus_is_big_enough():
    assert len(cases()) >= 60
    topics = {p.relative_to(CORPUS).parts[0] for p in cases()}
    assert {"syntax", "layers", "arguments", "shapes", "blocks", "yaml", "limits",
            "safety"} <= topics


def check_case(cli, case: Path) -> None:
    text, proc = run_case(cli, case)
    check_golden(case.with_suffix(".expected"), text)
    assert proc.returncode in (1, 2), text
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    if proc.returncode == 1 and "--json" not in text.splitlines()[0]:
        assert proc.stderr.rstrip().endswith(("1 error", "errors")), "summary count missing"


@pytest.mark.parametrize("case", cases(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_broken_spec(cli_inprocess, case: Path):
    check_case(cli_inprocess, case)


# The real command: stdout (JSON), stderr with and without colour, exit 1 and 2, file specs.
SUBPROCESS_CASES = [CORPUS / name for name in (
    "cli/json.txt", "cli/color.txt", "cli/bad-limit-flag.txt", "cli/summary-table.txt",
    "syntax/extra-brace.arch", "yaml/alias-bomb.yaml")]


@pytest.mark.parametrize("case", SUBPROCESS_CASES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_broken_spec_through_the_real_command(cli, case: Path):
    check_case(cli, case)


def _api_args(argv: list[str]):
    from archdsl.cli.common import limits_from, roots_from, settings_from
    from archdsl.cli.main import build_parser

    args = build_parser().parse_args(argv)
    return dict(model=args.model, limits=limits_from(args), roots=roots_from(args),
                **settings_from(args)), args


@pytest.mark.parametrize("case", cases(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_api_raises_the_same_diagnostics(case: Path, monkeypatch):
    """The API (archdsl.load) raises ArchError, and renders what the command printed."""
    monkeypatch.chdir(ROOT)
    argv, _ = command_of(case)
    golden = case.with_suffix(".expected").read_text(encoding="utf-8")
    if "\nexit 1\n" not in golden or argv[0] not in ("check", "summary") or \
            "--json" in argv or "--color" in argv:
        pytest.skip("not an invalid-spec case of check/summary in text form")
    kwargs, _ = _api_args(argv)
    with pytest.raises(archdsl.ArchError) as info:
        archdsl.load(argv[1], **{k: v for k, v in kwargs.items() if k != "head" or v})
    assert render_text(info.value.diagnostics) in golden
