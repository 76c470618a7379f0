"""Start-up: the commands that only read specs (check, summary, render, compile to Python) never
import torch, and checking an .arch spec keeps networkx and PyYAML out too; the time itself is
measured by benchmarks/startup_bench.py, not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory):
    """A PYTHONPATH on which `import torch` fails, as the acceptance check sets it up."""
    folder = tmp_path_factory.mktemp("poison")
    (folder / "torch").mkdir()
    (folder / "torch" / "__init__.py").write_text(
        "raise ImportError('this command must not import torch')\n")
    return {"PYTHONPATH": str(folder)}


@pytest.mark.slow
@pytest.mark.parametrize("args", [
    ["check", "specs/lenet5.arch"],
    ["check", "Conv-ReLU-Pool-Conv-ReLU-Pool-FC-SM", "--input", "1x28x28", "--classes", "10"],
    ["summary", "specs/lenet5.arch", "--json"],
    ["summary", "specs/densenet121.yaml", "--format", "markdown"],
    ["compile", "googlenet"],
    ["render", "resnet18", "-o", "{tmp}/r18.dot"],
], ids=lambda a: " ".join(a[:2]))
def test_reading_commands_run_where_torch_cannot_be_imported(cli, poisoned, tmp_path, args):
    proc = cli(*[a.format(tmp=tmp_path) for a in args], env=poisoned)
    assert proc.returncode == 0, proc.stderr


def test_exporting_without_torch_says_what_to_install(cli, poisoned, tmp_path):
    proc = cli("compile", "lenet5", "-o", str(tmp_path / "x.pt2"), env=poisoned)
    assert proc.returncode == 3, proc.stderr
    assert "pip install torch" in proc.stderr and "Traceback" not in proc.stderr


def test_check_leaves_heavy_packages_alone():
    code = ("import sys, json\nfrom archdsl.cli.main import main\n"
            "rc = main(['check', 'specs/lenet5.arch'])\n"
            "heavy = ['torch', 'networkx', 'yaml', 'numpy', 'onnx']\n"
            "print(json.dumps([rc, sorted(m for m in heavy if m in sys.modules)]))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.splitlines()[-1]
    rc, loaded = json.loads(out)
    # each of these costs 10-1000 ms of start-up (benchmarks/startup_bench.py); networkx is
    # imported by `Graph.to_networkx()` and diagrams, PyYAML by .yaml specs only
    assert rc == 0 and loaded == []
