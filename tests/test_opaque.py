"""The opaque layer kind (issue 18): a module imported from PyTorch that archdsl cannot express.
It checks, counts its parameters, summarises and draws like any layer; what it computes is not
known, so its MACs and saved tensors are shown as not counted (never a made-up number), and
compiling refuses it naming the layer, its class and why."""

from __future__ import annotations

import json

import pytest

import archdsl

SPEC = """model Imported {
  input: 3x32x32
  Conv:conv1(8, 3, p=1) - ReLU
  Opaque:coord(out=(10, 32, 32), params=99, type="mypkg.CoordConv", why="unknown module type")
  ReLU - GAP - FC:fc(10)
}
"""


@pytest.fixture
def model():
    return archdsl.load(SPEC)


def test_shape_and_parameters_are_what_it_says(model):
    coord = next(n for n in model.layers() if n.name == "coord")
    assert coord.ann.out_shape == (10, 32, 32)
    assert coord.ann.param_count == 99
    assert model.totals.params == 8 * 27 + 8 + 99 + 10 * 10 + 10
    assert model.output_shape == (10,)


def test_the_model_lists_its_opaque_layers(model):
    from archdsl.model import OpaqueLayer

    assert model.opaque == (OpaqueLayer("coord", "mypkg.CoordConv", "unknown module type"),)
    assert archdsl.load("lenet5").opaque == ()


def test_vector_output():
    model = archdsl.load('Conv(4) - Opaque(out=(6,), params=5, type="m.Head") - FC(3)',
                         input="3x8x8")
    assert model.output_shape == (3,) and model.totals.params == 4 * 27 + 4 + 5 + 6 * 3 + 3


def test_macs_and_saved_tensors_are_not_counted(model):
    conv_and_fc = 8 * 27 * 32 * 32 + 10 * 10
    assert model.totals.macs == conv_and_fc  # the opaque layer adds nothing made up
    assert model.totals.uncounted("macs") == ["coord"]
    text = model.table()
    row = next(line for line in text.splitlines() if line.startswith("coord"))
    assert row.rstrip().endswith("?")
    assert f"MACs: {conv_and_fc:,} + ? (coord not counted" in text
    assert "not counting the saved tensors of coord" in text
    assert "not computed after an opaque layer" in text
    assert "? not known" in text


def test_json_says_null_not_zero(model):
    data = model.summary()
    assert data["not_counted"] == [{"layer": "coord", "figures": ["macs", "saved"]}]
    coord = next(layer for layer in data["layers"] if layer["name"] == "coord")
    assert coord["macs"] is None and coord["saved_bytes"] is None
    assert coord["params"] == 99 and coord["receptive_field"] is None
    plain = archdsl.load("lenet5").summary()
    assert plain["not_counted"] == [] and all(x["macs"] is not None for x in plain["layers"])


def test_markdown_csv_and_latex_mark_it(model):
    from archdsl.report.tables import render_csv, render_latex, render_markdown

    assert "| coord | Opaque |" in render_markdown(model)
    assert "| ? |" in render_markdown(model)
    assert "coord,Opaque,,,,10x32x32,10240,99,,," in render_csv(model)  # empty, not 0
    coord = next(r for r in render_latex(model).splitlines() if r.startswith("coord &"))
    assert coord.endswith("& ? \\\\")  # its MACs, the last of the default columns


def test_drawn_dashed_with_its_type(model):
    from archdsl.render.themes import LEGEND, theme

    dot = model.render(format="dot", view="layers").decode()
    assert "CoordConv (opaque)" in dot and "dashed" in dot
    assert "+ ? MACs" in dot
    assert "opaque" in LEGEND and theme("light").family("opaque").style == "dashed"


@pytest.mark.parametrize("call", ["source", "build"])
def test_compiling_refuses_it_at_the_layer(model, call):
    with pytest.raises(archdsl.ArchError) as err:
        getattr(model, call)()
    diag = err.value.diagnostics[0]
    assert diag.code == "not-compilable"
    assert diag.message == ("layer 'coord' is opaque: imported from mypkg.CoordConv, which "
                            "archdsl cannot express (unknown module type); it can be checked, "
                            "summarised and drawn, not compiled")
    assert diag.span.located()[1] == 4  # its line in the spec


def test_every_opaque_layer_is_named():
    model = archdsl.load('Opaque:a(out=(4, 8, 8), type="m.A") - Opaque:b(out=(4, 8, 8), '
                         'type="m.B", why="a Python if on values")', input="3x8x8")
    with pytest.raises(archdsl.ArchError) as err:
        model.source()
    assert [d.message.split(" is opaque")[0] for d in err.value.diagnostics] == \
        ["layer 'a'", "layer 'b'"]


def test_cli_summary_check_and_compile(cli_inprocess, tmp_path):
    spec = tmp_path / "imported.arch"
    spec.write_text(SPEC, encoding="utf-8")
    check = cli_inprocess("check", str(spec))
    assert check.returncode == 0 and "+ ? (coord not counted" in check.stdout
    summary = cli_inprocess("summary", str(spec), "--json")
    assert json.loads(summary.stdout)["not_counted"][0]["layer"] == "coord"
    compiled = cli_inprocess("compile", str(spec))
    assert compiled.returncode == 1 and compiled.stdout == ""
    assert "imported.arch:4:3: error: layer 'coord' is opaque" in compiled.stderr


@pytest.mark.parametrize("fmt, suffix", [("torchscript", ".ts"), ("onnx", ".onnx"),
                                         ("export", ".pt2")])
def test_exports_refuse_it_before_writing(cli_inprocess, tmp_path, fmt, suffix):
    spec = tmp_path / "imported.arch"
    spec.write_text(SPEC, encoding="utf-8")
    out = tmp_path / f"imported{suffix}"
    proc = cli_inprocess("compile", str(spec), "--format", fmt, "-o", str(out))
    assert proc.returncode == 1 and "[not-compilable]" in proc.stderr and not out.exists()


def test_diff_shows_it_like_any_layer(cli_inprocess, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # room for the long temporary paths' titles
    a, b = tmp_path / "a.arch", tmp_path / "b.arch"
    a.write_text(SPEC, encoding="utf-8")
    b.write_text(SPEC.replace("params=99", "params=120"), encoding="utf-8")
    proc = cli_inprocess("diff", str(a), str(b))
    row = next(line for line in proc.stdout.splitlines() if "coord" in line)
    assert "CoordConv (opaque)" in row and "99 → 120" in row and row.rstrip().endswith("?")
    assert "MACs (opaque layers not counted)" in proc.stdout


def test_ops_help_explains_each_argument(cli_inprocess):
    text = cli_inprocess("ops", "Opaque").stdout
    for name in ("out", "params", "type", "why"):
        assert f". {name}:" in text
    assert "as measured when it was imported" in text
