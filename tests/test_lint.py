"""The tree stays ruff clean (the rules in pyproject.toml), so style drift fails in CI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # ruff over the whole tree; run before you push

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_check_passes_on_the_whole_tree():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "archdsl", "tests",
                           "benchmarks", "examples", "fuzz"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
