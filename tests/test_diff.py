"""`archdsl diff A B` through the CLI: alignment (VGG-16/19, ResNet-50/ResNeXt-50), exact
totals, exit codes, JSON, diagnostics for either side, no torch; one golden text diff.

Contract: the alignment figures and the no-torch check come from the real command in a
subprocess; the other cases call its `main(argv)` in process (`cli_inprocess`).
Refresh the golden file with ARCHDSL_ACCEPT=1 and review the diff."""

from __future__ import annotations

import json
import re

import pytest

import archdsl
from archdsl.report.compare import ADDED, compare
from conftest import ROOT, check_golden

GOLDEN = ROOT / "tests" / "golden" / "diff"
VGG16_PARAMS, VGG19_PARAMS = 138_357_544, 143_667_240
RESNET50 = {"params": 25_557_032, "macs": 4_089_184_256}
RESNEXT50 = {"params": 25_028_904, "macs": 4_230_479_872}


def diff_json(cli, *args: str) -> dict:
    proc = cli("diff", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def vgg(request):
    from conftest import run_cli

    return diff_json(run_cli, "vgg16", "vgg19")


@pytest.fixture(scope="module")
def resnets():
    from conftest import run_cli

    return diff_json(run_cli, "resnet50", "resnext50_32x4d")


def test_vgg19_adds_one_conv_to_each_of_stages_3_to_5(vgg):
    assert vgg["differ"] is True
    assert vgg["counts"] == {"same": 39, "changed": 0, "added": 6, "removed": 0}
    added = [row["b"] for row in vgg["layers"] if row["status"] == ADDED]
    convs = [layer for layer in added if layer["op"] == "Conv"]
    assert [c["output_shape"] for c in convs] == [[256, 56, 56], [512, 28, 28], [512, 14, 14]]
    assert sorted(layer["op"] for layer in added) == ["Conv"] * 3 + ["ReLU"] * 3
    params = vgg["totals"]["params"]
    assert (params["a"], params["b"]) == (VGG16_PARAMS, VGG19_PARAMS)
    assert params["delta"] == VGG19_PARAMS - VGG16_PARAMS == 5_309_696
    assert sum(layer["params"] for layer in added) == params["delta"]


def test_vgg_text_shows_added_rows_and_exact_delta(cli_inprocess, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # wide enough for every exact figure
    proc = cli_inprocess("diff", "vgg16", "vgg19")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "VGG16 → VGG19" in out
    added = [line for line in out.splitlines() if line.startswith("+  ")]
    assert len(added) == 6 and sum("Conv 3x3" in line for line in added) == 3
    assert "+5,309,696" in out and "143,667,240" in out and "138,357,544" in out
    assert "… 16 the same" in out  # stages 1-2 and stage 3's first convolutions, elided
    assert "\x1b[" not in out  # piped: no colour


def test_resnet50_against_resnext50_pairs_every_layer_by_name(resnets):
    counts = resnets["counts"]
    assert counts["added"] == counts["removed"] == 0
    assert resnets["a"]["layers"] == resnets["b"]["layers"] == 182
    rows = resnets["layers"]
    assert all(row["a"]["name"] == row["b"]["name"] and not row["renamed"] for row in rows)
    conv2 = [row for row in rows if row["a"]["name"].endswith(".conv2")]
    assert len(conv2) == 16
    for row in conv2:  # grouped 3x3 convolution, twice as wide: kind, params and MACs differ
        assert row["status"] == "changed"
        assert {"kind", "params", "macs"} <= set(row["differs"])
        assert row["b"]["kind"].endswith("g32") and row["b"]["params"] < row["a"]["params"]
    totals = resnets["totals"]
    for key in ("params", "macs"):
        assert (totals[key]["a"], totals[key]["b"]) == (RESNET50[key], RESNEXT50[key])
        assert totals[key]["delta"] == RESNEXT50[key] - RESNET50[key]
    assert totals["layers"] == {"a": 182, "b": 182, "delta": 0}


def test_resnext_text_marks_changed_cells(cli_inprocess, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # wide enough for every exact figure
    out = cli_inprocess("diff", "resnet50", "resnext50_32x4d").stdout
    row = next(line for line in out.splitlines() if "layer1.0.conv2 " in line)
    assert row.startswith("~  ") and "Conv 3x3, 64 → Conv 3x3, 128, g32" in row
    assert "36,864 → 4,608" in row
    assert "-528,128" in out  # 25,028,904 - 25,557,032


@pytest.mark.parametrize("flag", [[], ["--exit-code"]])
def test_identical_specs_exit_0(cli_inprocess, flag):
    proc = cli_inprocess("diff", "lenet5", "specs/lenet5.arch", *flag)
    assert proc.returncode == 0, proc.stderr
    assert "lenet5 and specs/lenet5.arch are the same: 12 layers" in proc.stdout
    assert "Kind" not in proc.stdout  # no layer table when nothing differs
    data = diff_json(cli_inprocess, "lenet5", "specs/lenet5.arch")
    assert data["differ"] is False and data["counts"]["same"] == 12
    assert all(t.get("delta", 0) == 0 for t in data["totals"].values())


@pytest.mark.parametrize(("flags", "code"), [([], 0), (["--exit-code"], 4),
                                             (["--exit-code", "--json"], 4)])
def test_exit_code_only_when_asked(cli_inprocess, flags, code):
    proc = cli_inprocess("diff", "resnet18", "resnet34", *flags)
    assert proc.returncode == code, proc.stderr


def test_json_shape(cli_inprocess):
    data = diff_json(cli_inprocess, "lenet5", "alexnet", "--batch", "8", "--dtype", "float16",
                     "--optimizer", "adam")
    assert data["schema_version"] == 1
    assert set(data) == {"schema_version", "a", "b", "differ", "dtype", "batch", "optimizer",
                         "counts", "totals", "layers"}
    assert data["a"] == {"spec": "lenet5", "name": "LeNet5", "layers": 12}
    assert (data["dtype"], data["batch"], data["optimizer"]) == ("float16", 8, "adam")
    assert sum(data["counts"].values()) == len(data["layers"])
    for row in data["layers"]:
        assert set(row) == {"status", "differs", "renamed", "a", "b"}
        assert all("kind" in side for side in (row["a"], row["b"]) if side is not None)
        assert (row["a"] is None) == (row["status"] == "added")
        assert (row["b"] is None) == (row["status"] == "removed")
    assert data["totals"]["param_bytes"]["a"] == 61_706 * 2
    assert {"a", "b", "delta"} == set(data["totals"]["training_memory"])
    assert set(data["totals"]["receptive_field"]) == {"a", "b"}


def test_all_shows_every_row(cli_inprocess, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # wide enough for every exact figure
    args = ("diff", "resnet18", "resnet34")
    short, full = cli_inprocess(*args).stdout, cli_inprocess(*args, "--all").stdout
    assert "the same" in short and "… " not in full
    layer_rows = [line for line in full.splitlines()
                  if re.match(r"[ +~-]  \S", line) and not line.startswith("   Layer")]
    assert len(layer_rows) == 134  # 70 same + 64 added


def test_model_selection_per_side(cli_inprocess, tmp_path):
    spec = tmp_path / "nets.arch"
    spec.write_text("model Small {\n  input: 1x28x28\n  Conv(8, 3) - ReLU - GAP - FC(10)\n}\n"
                    "model Large {\n  input: 1x28x28\n  Conv(32, 3) - ReLU - GAP - FC(10)\n}\n")
    data = diff_json(cli_inprocess, str(spec), str(spec), "--model-a", "Small",
                     "--model-b", "Large")
    assert (data["a"]["name"], data["b"]["name"]) == ("Small", "Large")
    assert data["differ"] is True
    same = diff_json(cli_inprocess, str(spec), str(spec), "--model", "Large")
    assert same["differ"] is False and same["a"]["name"] == "Large"


def test_errors_in_both_specs_are_reported_with_their_side(cli_inprocess, tmp_path):
    bad = tmp_path / "bad.arch"
    bad.write_text("model M {\n  input: 3x32x32\n  Conv(8, 3) - Foo - FC(10)\n}\n")
    proc = cli_inprocess("diff", str(bad), "Conv-ReLU-Poool-FC", "--input", "3x32x32",
                         "--exit-code")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "unknown layer 'Foo'" in proc.stderr and "did you mean 'Pool'?" in proc.stderr
    assert "note: in A: " in proc.stderr and "note: in B: Conv-ReLU-Poool-FC" in proc.stderr
    assert proc.stderr.rstrip().endswith("2 errors")
    proc = cli_inprocess("diff", "lenet5", "Conv-ReLU-Poool-FC", "--input", "3x32x32", "--json")
    assert proc.returncode == 1
    [diag] = json.loads(proc.stdout)["diagnostics"]
    assert diag["code"] == "unknown-layer"


def test_usage_errors_exit_2(cli_inprocess):
    assert cli_inprocess("diff", "lenet5").returncode == 2
    assert cli_inprocess("diff", "lenet5", "lenet5", "--batch", "0").returncode == 2


def test_help_teaches(cli_inprocess):
    proc = cli_inprocess("diff", "--help")
    assert proc.returncode == 0
    assert "examples:" in proc.stdout and "archdsl diff vgg16 vgg19" in proc.stdout
    assert "--exit-code" in proc.stdout and "4 when they" in proc.stdout
    assert "diff" in cli_inprocess("--help").stdout


def test_diff_never_imports_torch(cli, tmp_path):
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(
        "raise ImportError('this command must not import torch')\n")
    env = {"PYTHONPATH": str(tmp_path)}
    assert cli("diff", "resnet50", "resnext50_32x4d", env=env).returncode == 0
    assert cli("diff", "vgg16", "vgg19", "--json", env=env).returncode == 0


def test_golden_small_diff(cli_inprocess):
    proc = cli_inprocess("diff", "tests/golden/diff/small_a.arch",
                         "tests/golden/diff/small_b.arch")
    assert proc.returncode == 0, proc.stderr
    check_golden(GOLDEN / "small.expected", proc.stdout)


def test_vgg16_bn_adds_a_batchnorm_after_each_conv():
    result = compare(archdsl.load("vgg16"), archdsl.load("vgg16_bn"))
    added = [row.b for row in result.rows if row.status == ADDED]
    assert [f.op for f in added] == ["BN"] * 13
    assert result.counts()["same"] == 39 and not any(r.renamed and r.differs
                                                     for r in result.rows)
