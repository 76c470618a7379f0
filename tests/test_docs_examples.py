"""Docs that cannot drift (issue 15): every shell example in README.md and docs/*.md that shows
its output is run, and its output compared with what the docs show.

An example is a line `$ COMMAND` in a fenced block, followed by the output it shows (up to the
next `$ ` line or the end of the block); one without output lines is not run (it writes a file).
Commands run with bash in a temporary folder that links the repository's specs/ and
examples/, `archdsl` on the PATH, NO_COLOR and COLUMNS=160
(the width the docs' tables are printed at; an example may set its own, `$ COLUMNS=80 archdsl
...`). What may differ: whitespace (alignment, the JSON's line breaks) and what the docs leave
out, written `...` (a line of its own, or inside a line). Everything else must appear,
in order, exactly: a change of behaviour fails here until the docs are updated.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)


def examples() -> list[tuple[str, str, str]]:
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for block in FENCE.finditer(text):
            line_no = text[:block.start()].count("\n") + 2
            current = None
            for offset, line in enumerate(block.group(1).splitlines()):
                if line.startswith("$ "):
                    current = [f"{path.relative_to(ROOT)}:{line_no + offset}", line[2:], []]
                    found.append(current)
                elif current is not None:
                    current[2].append(line)
    return [(where, cmd, "\n".join(out)) for where, cmd, out in found if any(out)]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def check_output(shown: str, actual: str) -> str | None:
    """None when every part of `shown` (split at `...` lines) appears in `actual`, in order,
    whitespace aside; else the first part that does not."""
    flat = squeeze(actual)
    position = 0
    for part in shown.split("..."):
        want = squeeze(part)
        if not want:
            continue
        found = flat.find(want, position)
        if found < 0:
            return part.strip()
        position = found + len(want)
    return None


EXAMPLES = examples()


def test_examples_are_found():
    assert len(EXAMPLES) >= 10
    assert any(where.startswith("README.md") for where, _, _ in EXAMPLES)


@pytest.mark.parametrize(("where", "command", "shown"), EXAMPLES,
                         ids=[where for where, _, _ in EXAMPLES])
def test_doc_example_output(where, command, shown, tmp_path):
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "160", "LINES": "24",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("FORCE_COLOR", None)
    command = re.sub(r"\s+#\s[^\"']*$", "", command)  # a trailing comment
    for name in ("specs", "examples"):  # files the examples name; what they write stays here
        (tmp_path / name).symlink_to(ROOT / name)
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)
    missing = check_output(shown, proc.stdout + proc.stderr)
    assert missing is None, (f"{where}: `{command}` no longer prints what the docs show; "
                             f"first difference in:\n{missing}\n--- actual output:\n"
                             f"{proc.stdout}{proc.stderr}")


def test_check_output_rules():
    assert check_output("a  b\n...\nc", "a b\nx\ny\nc\n") is None
    assert check_output("c\n...\na", "a\nc\n") == "a"
    assert check_output("25,557,032", "25,557,03") == "25,557,032"


def test_readme_figures_are_current():
    """The figures the README quotes that the code can count."""
    from test_diagnostics_corpus import cases

    from archdsl.passes.count import DTYPE_BYTES

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    corpus = int(re.search(r"A corpus of (\d+) broken specs", readme).group(1))
    assert corpus == len(cases())
    dtypes = re.search(r"bytes per element of `--dtype` \(([^)]*)\)", readme).group(1)
    assert set(re.sub(r"\s+", " ", dtypes).replace(",", " ").split()) == set(DTYPE_BYTES)
    assert "Every command takes" not in readme  # ops and zoo take no --input
    assert "startup_bench.py" in readme[readme.index("takes about"):][:200]  # with its command
