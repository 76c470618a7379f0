"""The user's mistakes on the command line, reported as the user's (issue 15): did-you-mean for
commands and options, a subcommand's own usage, the choices of an invalid choice, a batch
dimension in --input, bare `archdsl`, JSON for `check --json --emit`, and the scripts that need
an extra naming it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.parametrize(("argv", "usage", "words"), [
    (["summry", "lenet5"], "usage: archdsl [", ["did you mean 'summary'?"]),
    (["summary", "lenet5", "--inpt", "3x32x32"], "usage: archdsl summary",
     ["unrecognized option --inpt; did you mean --input?"]),
    (["check", "lenet5", "--colr", "never"], "usage: archdsl check",
     ["did you mean --color?"]),
    (["--colr", "never", "check", "lenet5"], "usage: archdsl [", ["did you mean --color?"]),
    (["check", "lenet5", "--colour", "nevr"], "usage: archdsl check",
     ["'auto', 'always', 'never'", "did you mean 'never'?"]),
    (["summary", "lenet5", "--format", "jsn"], "usage: archdsl summary",
     ["'table', 'markdown', 'latex', 'csv', 'json'", "did you mean 'json'?"]),
    (["check", "lenet5", "--color", "nevr"], "usage: archdsl check",
     ["'auto', 'always', 'never'", "did you mean 'never'?"]),
])
def test_typos(cli_inprocess, argv, usage, words):
    proc = cli_inprocess(*argv)
    assert proc.returncode == 2
    assert usage in proc.stderr
    for word in words:
        assert word in proc.stderr


@pytest.mark.parametrize("argv", [["check", "lenet5", "--colour", "never"],
                                  ["--colour", "always", "check", "lenet5"]])
def test_british_spelling_of_color(cli_inprocess, argv):
    assert cli_inprocess(*argv).returncode == 0


def test_unique_prefix_still_works(cli_inprocess):
    assert cli_inprocess("check", "lenet5", "--inp", "1x32x32").returncode == 0


def test_bare_archdsl_prints_help(cli_inprocess):
    proc = cli_inprocess()
    assert proc.returncode == 0 and "usage: archdsl" in proc.stdout and "summary" in proc.stdout


def test_batch_in_input_points_at_batch(cli_inprocess):
    proc = cli_inprocess("summary", "resnet18", "--input", "1x3x224x224")
    assert proc.returncode == 1
    assert "write 3x224x224" in proc.stderr and "--batch 1" in proc.stderr


def test_check_json_emit(cli_inprocess):
    data = json.loads(cli_inprocess("check", "lenet5", "--json", "--emit", "shapes").stdout)
    assert data["emit"] == "shapes" and data["layers"][0]["out_shape"] == [6, 28, 28]
    data = json.loads(cli_inprocess("check", "lenet5", "--json", "--emit", "ir").stdout)
    assert data["emit"] == "ir" and data["text"].startswith("model LeNet5")


def test_numpy_is_a_dependency():
    text = (ROOT / "pyproject.toml").read_text()
    deps = text[text.index("dependencies = ["):text.index("]", text.index("dependencies = ["))]
    assert '"numpy' in deps  # else torch warns "Failed to initialize NumPy" on every build


@pytest.mark.parametrize(("script", "hidden", "extra"), [
    ("fuzz/run.py", "hypothesis", ".[test]"),
    ("benchmarks/run.py", "torchinfo", ".[bench]"),
])
def test_scripts_name_their_extra(script, hidden, extra):
    code = (f"import sys, runpy; sys.modules[{hidden!r}] = None; "
            f"sys.argv = [{script!r}, '--quick']; "
            f"runpy.run_path({script!r}, run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120,
                          env={"PYTHONPATH": f"{ROOT}:{ROOT / 'benchmarks'}", "PATH": "/usr/bin"})
    assert proc.returncode != 0
    assert extra in proc.stderr and hidden in proc.stderr
