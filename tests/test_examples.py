"""Every example runs as a user would run it."""

import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.slow
@pytest.mark.parametrize("script,args", [("quickstart.py", []),
                                         ("train_synthetic.py", ["--steps", "60"]),
                                         ("transfer_learning.py", ["--steps", "2"]),
                                         ("custom_layers.py", [])])
def test_example_runs(script, args):
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / script), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    if script == "train_synthetic.py":
        line = proc.stdout.strip().splitlines()[-1]
        first, last = (float(w) for w in line.replace(",", "").split() if "." in w)
        assert last < first  # it learns
    if script == "transfer_learning.py":
        assert "loaded all but ['fc.weight', 'fc.bias']" in proc.stdout
    if script == "custom_layers.py":  # imported, the gate opaque, compiling refused
        assert "opaque: gate (__main__.Gate)" in proc.stdout
        assert "[not-compilable]" in proc.stdout


def test_custom_block_example(cli):
    proc = cli("check", "examples/custom_block.arch")
    assert proc.returncode == 0 and "TinyResNet" in proc.stdout
