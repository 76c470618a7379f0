"""Long work shows progress on a terminal only; every file written is announced with its size,
the same way; --quiet silences all but errors (issue 15)."""

from __future__ import annotations

import io
import re
import sys
import types

import pytest

from archdsl.cli import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal(monkeypatch):
    args = types.SimpleNamespace(quiet=False)
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    with progress.working(args, "exporting resnet50"):
        pass
    assert pipe.getvalue() == ""  # piped or logged: nothing extra
    tty = Terminal()
    monkeypatch.setattr("sys.stderr", tty)
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm")
    with progress.working(args, "exporting resnet50"):
        pass
    assert "exporting resnet50" in tty.getvalue()
    quiet = Terminal()
    monkeypatch.setattr("sys.stderr", quiet)
    with progress.working(types.SimpleNamespace(quiet=True), "exporting resnet50"):
        pass
    assert quiet.getvalue() == ""


@pytest.mark.parametrize(("argv", "name", "detail"), [
    (["summary", "lenet5", "-o"], "s.txt", "table"),
    (["summary", "lenet5", "--format", "markdown", "-o"], "s.md", "markdown"),
    (["compile", "lenet5", "-o"], "l.py", "PyTorch source"),
    (["render", "lenet5", "-o"], "l.svg", "svg"),
    (["check", "lenet5", "--emit", "shapes", "-o"], "s.txt", "shapes"),
])
def test_every_written_file_is_announced(cli_inprocess, tmp_path, argv, name, detail):
    if argv[0] == "check":  # check has no -o; compile --emit does
        argv = ["compile", "lenet5", "--emit", "shapes", "-o"]
    path = tmp_path / name
    proc = cli_inprocess(*argv, str(path))
    assert proc.returncode == 0, proc.stderr
    size = path.stat().st_size
    m = re.fullmatch(rf"wrote {re.escape(str(path))} \(([\d.,]+ (B|KiB|MiB)), {detail}.*\)\n",
                     proc.stderr)
    assert m, proc.stderr
    assert m.group(1).startswith(f"{size:,}") or m.group(2) != "B"
    quiet = cli_inprocess(*argv, str(path), "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert cli_inprocess("-q", *argv, str(path)).stderr == ""


def test_quiet_keeps_errors(cli_inprocess):
    proc = cli_inprocess("check", "Conv-Poool", "--input", "3x8x8", "-q")
    assert proc.returncode == 1 and "unknown layer" in proc.stderr


def test_the_fuzzer_shows_progress_on_a_terminal_only(monkeypatch):
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("fuzz_run", ROOT / "fuzz" / "run.py")
    fuzz = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "fuzz_run", fuzz)  # its dataclasses look themselves up
    spec.loader.exec_module(fuzz)
    campaign = types.SimpleNamespace(stats={"grammar": types.SimpleNamespace(tried=1234,
                                                                             crashes=0)})
    pipe = io.StringIO()
    with fuzz.progress_shown(campaign, 60, pipe) as update:
        update()
    assert pipe.getvalue() == ""  # piped or logged: the summary only
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm")
    tty = Terminal()
    with fuzz.progress_shown(campaign, 60, tty) as update:
        update()
    assert "fuzzing" in tty.getvalue() and "1,234 inputs, 0 crashes" in tty.getvalue()
