"""The command line as users and scripts meet it: verbs, help, exit codes, JSON, --emit."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT, check_golden

GOLDEN = ROOT / "tests" / "golden" / "emit"


def test_help_teaches(cli):
    proc = cli("--help")
    assert proc.returncode == 0
    for verb in ("check", "summary", "compile", "zoo", "ops"):
        assert verb in proc.stdout
    assert "exit codes" in proc.stdout
    proc = cli("check", "--help")
    assert proc.returncode == 0 and "examples:" in proc.stdout and "--emit" in proc.stdout


@pytest.mark.parametrize("args,code", [
    (["check", "specs/alexnet.arch"], 0),
    (["check", "Conv-ReLU-Poool-FC", "--input", "1x28x28"], 1),
    (["check", "Conv-Pool-FC"], 1),  # no input size
    (["check", "specs/nope.arch"], 1),
    (["check", "lenet5", "--input", "3xax3"], 1),
    (["check"], 2),
    (["frobnicate", "lenet5"], 2),
    (["summary", "lenet5", "--batch", "0"], 2),
    (["summary", "lenet5", "--dtype", "float7"], 2),
    (["check", "lenet5", "--limit", "max_cats=3"], 2),
])
def test_exit_codes(cli_inprocess, args, code):
    proc = cli_inprocess(*args)  # `entry()` exits with this status (real exits: the corpus)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_invalid_spec_with_json_prints_diagnostics(cli):
    proc = cli("check", "Conv-ReLU-Poool-FC", "--input", "1x28x28", "--json")
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    (diag,) = data["diagnostics"]
    assert diag["code"] == "unknown-layer" and diag["line"] == 1 and diag["column"] == 11
    assert diag["hint"] == "did you mean 'Pool'?"
    proc = cli("summary", "Conv-Pool-FC", "--json")
    assert proc.returncode == 1 and "diagnostics" in json.loads(proc.stdout)


def test_diagnostics_go_to_stderr_without_colour_when_piped(cli):
    proc = cli("check", "Conv-ReLU-Poool-FC", "--input", "1x28x28")
    assert proc.stdout == ""
    assert "\x1b[" not in proc.stderr
    assert proc.stderr.rstrip().endswith("1 error")
    coloured = cli("--color", "always", "check", "Conv-Poool", "--input", "1x8x8")
    assert "\x1b[" in coloured.stderr


def test_several_errors_at_once(cli):
    proc = cli("check", "Conv(0, 3) - Poool - Dropout(1.5)", "--input", "1x8x8")
    assert proc.returncode == 1
    assert proc.stderr.rstrip().endswith("3 errors")


def test_internal_errors_are_short_and_exit_70(cli, monkeypatch, tmp_path):
    # a spec can't trigger a bug on purpose, so break a module archdsl imports lazily
    fake = tmp_path / "archdsl_break"
    fake.mkdir()
    (fake / "sitecustomize.py").write_text(
        "import archdsl.model as m\n"
        "def boom(*a, **k):\n    raise RuntimeError('simulated bug')\n"
        "m.load_stage = boom\n")
    proc = cli("check", "lenet5", env={"PYTHONPATH": str(fake)})
    assert proc.returncode == 70
    assert "internal error" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli("check", "lenet5", env={"PYTHONPATH": str(fake), "ARCHDSL_DEBUG": "1"})
    assert proc.returncode == 70 and "Traceback" in proc.stderr


def test_check_json_summary_fields(cli):
    data = json.loads(cli("check", "resnet18", "--json").stdout)
    assert data["ok"] is True and data["total_params"] == 11_689_512
    assert "layers" not in data


def test_summary_formats(cli):
    for fmt, marker in (("markdown", "| Layer"), ("csv", "layer,"), ("latex", "\\toprule")):
        proc = cli("summary", "lenet5", "--format", fmt)
        assert proc.returncode == 0 and marker in proc.stdout, fmt
    assert "Conv:1" in cli("summary", "lenet5").stdout


@pytest.mark.parametrize("stage", ["ast", "ir", "shapes"])
def test_emit_stages_are_golden(cli, stage):
    proc = cli("check", "specs/lenet5.arch", "--emit", stage)
    assert proc.returncode == 0, proc.stderr
    check_golden(GOLDEN / f"lenet5.{stage}", proc.stdout)


def test_emit_python_equals_compile(cli):
    a = cli("check", "lenet5", "--emit", "python").stdout
    b = cli("compile", "lenet5").stdout
    assert a == b and "class LeNet5(nn.Module):" in a


def test_compile_writes_a_file(cli, tmp_path):
    out = tmp_path / "m.py"
    proc = cli("compile", "Conv-ReLU-Pool-FC-SM", "--input", "1x28x28", "--classes", "10",
               "-o", str(out))
    assert proc.returncode == 0 and out.read_text().startswith('"""Net, compiled by archdsl')


def test_zoo_and_ops_listings(cli):
    zoo = json.loads(cli("zoo", "--json").stdout)
    by_name = {r["name"]: r for r in zoo}
    assert by_name["resnet50"]["params"] == 25_557_032
    assert by_name["googlenet"]["outputs"] == 3
    ops = json.loads(cli("ops", "--json").stdout)
    conv = next(o for o in ops if o["name"] == "Conv")
    assert conv["arguments"][:2] == ["out_channels", "kernel"] and "k" in conv["keywords"]


def test_googlenet_summary_counts_the_aux_heads_and_shows_three_outputs(cli):
    proc = cli("summary", "specs/googlenet.arch")
    assert proc.returncode == 0
    assert "13,004,888" in proc.stdout
    assert "main 1000" in proc.stdout and "aux2 1000" in proc.stdout and "aux1 1000" in proc.stdout


def test_settings_override_the_file(cli):
    data = json.loads(cli("summary", "lenet5", "--json", "--classes", "3").stdout)
    assert data["output_shape"] == [3]
    data = json.loads(cli("summary", "resnet18", "--json", "--input", "3x64x64").stdout)
    assert data["layers"][0]["output_shape"] == [64, 32, 32]
