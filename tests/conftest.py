"""Test setup: torchvision importable with CPU torch, golden-file helper, CLI runners.

Contract: `cli` runs the real `archdsl` command in a subprocess (exit codes, streams, start-up
as a user meets them); `cli_inprocess` runs `archdsl.cli.main.main(argv)` in the test's own
process under the same conditions (working directory, no colour, an 80-column terminal), so
both give the same exit status, stdout and stderr, in a fraction of the time. Slow tests carry
the `slow` marker (`pytest -m "not slow"` is the quick loop; plain `pytest` runs everything).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import tv_shim  # noqa: F401  (defines torchvision's missing op schemas before anyone imports it)

ROOT = Path(__file__).resolve().parents[1]
ACCEPT = bool(os.environ.get("ARCHDSL_ACCEPT"))

# archdsl's cache directory (parsed ASTs, the parser's tables: archdsl/syntax/cache.py) is a fresh
# one per test session, for this process and the commands it starts, so no test reads what an
# earlier run or the user's own commands left in ~/.cache/archdsl.
CACHE_HOME = tempfile.mkdtemp(prefix="archdsl-tests-")
os.environ["XDG_CACHE_HOME"] = CACHE_HOME
os.environ.pop("ARCHDSL_NO_CACHE", None)
atexit.register(shutil.rmtree, CACHE_HOME, True)


def check_golden(path: Path, actual: str) -> None:
    """Compare text with a reviewed golden file; ARCHDSL_ACCEPT=1 rewrites it instead."""
    if ACCEPT or not path.exists():
        if not ACCEPT:
            pytest.fail(f"golden file {path} is missing: run with ARCHDSL_ACCEPT=1 to create it "
                        "and review the diff")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{path} differs (ARCHDSL_ACCEPT=1 to accept, then review)"


def run_cli(*args: str, env: dict | None = None, timeout: float = 120, cwd=None,
            input: str | None = None) -> subprocess.CompletedProcess:
    """Run the real `archdsl` command as a user would."""
    exe = Path(sys.executable).with_name("archdsl")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "archdsl"]
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout,
                          env=full_env, cwd=cwd or ROOT, input=input)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def cli_inprocess(monkeypatch, capsys):
    """`cli` without the subprocess: `main(argv)` here, its streams captured."""
    from archdsl.cli.main import main

    # What the subprocess sees: NO_COLOR, and no terminal (argparse and rich wrap at a width
    # they take from COLUMNS, else from the terminal pytest may be running in).
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("ARCHDSL_DEBUG", raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")
    monkeypatch.chdir(ROOT)

    def run(*args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse's usage errors, --help, --version
            code = 0 if exit_.code is None else exit_.code
            if not isinstance(code, int):  # as the interpreter does: the message, status 1
                print(code, file=sys.stderr)
                code = 1
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["archdsl", *args], code, out, err)

    return run
