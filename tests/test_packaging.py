"""The wheel ships every subpackage, the grammar and the zoo (an editable install hides gaps)."""

import subprocess
import sys
import zipfile

import pytest
import tomllib

from conftest import ROOT


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {".".join(p.relative_to(ROOT).parts[:-1]) for p in (ROOT / "archdsl").rglob(
        "__init__.py")}
    assert on_disk <= listed, on_disk - listed
    assert {"archdsl.grammars", "archdsl.specs", "archdsl.specs.blocks"} <= listed


@pytest.mark.slow
def test_the_wheel_holds_the_grammar_the_zoo_and_all_modules(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("archdsl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "archdsl/grammars/archdsl.lark" in names
    assert "archdsl/prelude.arch" in names
    assert "archdsl/specs/resnet50.arch" in names and "archdsl/specs/densenet121.yaml" in names
    assert "archdsl/specs/blocks/resnet.yaml" in names
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "archdsl").rglob("*.py")}
    assert modules <= names, sorted(modules - names)[:5]


def test_the_readme_test_command_is_what_ci_runs():
    """README promises its test command is .ci/run's: one install line, graphviz, chromium and
    TeX (for the pdflatex tests) included."""
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    (command,) = [line for line in ci.splitlines() if line.startswith("python3 -m venv")]
    assert command in readme.splitlines()
    assert "texlive-pictures" in command and "command -v pdflatex" in command
