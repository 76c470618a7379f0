"""Help that teaches (issue 15): `archdsl ops NAME` explains each argument; the keys of
`summary --json` are documented, and the documentation is checked against the output."""

from __future__ import annotations

import json
import re

import archdsl
from conftest import ROOT


def test_ops_name_shows_types_defaults_keywords_meaning(cli_inprocess):
    out = cli_inprocess("ops", "mpool").stdout  # any case, aliases too
    assert out.startswith("MPool: max pooling")
    assert "2. stride: int > 0 or (int > 0, int > 0) or none = none  also s=" in out
    assert "none: the kernel size" in out  # MPool(2) strides by its kernel
    assert "ceil: bool = false  also ceil_mode=" in out
    assert "example: MPool(3, s=2)" in out
    conv = cli_inprocess("ops", "Conv2d").stdout
    assert "padding: int ≥ 0 or (int ≥ 0, int ≥ 0) or 'same' or 'valid' = 0" in conv
    assert "filters=" in conv and "kernel_size=" in conv
    data = json.loads(cli_inprocess("ops", "conv", "--json").stdout)
    kernel = next(a for a in data["arguments"] if a["name"] == "kernel")
    assert kernel["default"] == "3" and "kernel_size" in kernel["keywords"]


def test_every_argument_has_a_meaning(cli_inprocess):
    from archdsl.cli.ops import arguments
    from archdsl.ops import all_ops

    missing = [f"{op.name}.{a['name']}" for op in all_ops() if op.listed
               for a in arguments(op) if not a["meaning"]]
    assert not missing


def test_unknown_op_suggests(cli_inprocess):
    proc = cli_inprocess("ops", "mpol")
    assert proc.returncode == 2 and "did you mean" in proc.stderr


def documented_keys(section: str) -> set[str]:
    text = (ROOT / "docs" / "analysis.md").read_text(encoding="utf-8")
    part = text[text.index(section):]
    table = part[part.index("| key |"):]
    table = table[:table.index("\n\n")] if "\n\n" in table else table
    return {k for row in table.splitlines()[2:] for k in re.findall(r"`(\w+)`",
                                                                    row.split("|")[1])}


def test_summary_json_keys_are_documented():
    model = archdsl.load("lenet5")
    data = model.summary(batch=4)
    assert documented_keys("## The JSON of `archdsl summary --json`") == set(data)
    layer_section = "Each of `layers`:"
    assert documented_keys(layer_section) == set(data["layers"][0])
