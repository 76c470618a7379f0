"""Tables that never lie (issue 15): at any width, the tables of `summary`, `diff` and `zoo` fit
by choosing and condensing columns; a number or a shape is whole or in compact units, never
cut; an ellipsis only ever shortens text."""

from __future__ import annotations

import re

import pytest

from archdsl.report import fit

WIDTHS = (60, 80, 120, 200)


def table_lines(out: str) -> list[str]:
    """The lines of the first table: from its header to the note or blank line after it."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("─")) - 1
    end = next((i for i in range(start + 2, len(lines))
                if lines[i].startswith("(") or not lines[i].strip()
                or re.match(r"^\S[^─]*:", lines[i])), len(lines))
    return lines[start:end]


@pytest.mark.parametrize("width", WIDTHS)
def test_summary_fits_and_keeps_numbers_whole(cli_inprocess, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    out = cli_inprocess("summary", "resnet50").stdout
    table = table_lines(out)
    assert all(len(line) <= width for line in table), [ln for ln in table if len(ln) > width]
    conv1 = next(line for line in table if line.startswith("conv1 "))
    assert "64x112x112" in conv1  # a shape is never cut
    assert re.search(r"\b(9,408|9\.4K)\b", conv1)
    total = next(line for line in table if line.startswith("Total"))
    assert re.search(r"(25,557,032|25\.6M)( |$)", total)
    assert re.search(r"(4,089,184,256|4\.1G)( |$)", total) or width < 80
    if width >= 120:  # room for everything: exact figures, no column hidden
        assert "25,557,032" in total and "hidden" not in out and "Pad" in table[0]
    else:
        assert "K/M/G" in out  # the abbreviation is explained


@pytest.mark.parametrize("width", WIDTHS)
def test_diff_keeps_markers_and_numbers(cli_inprocess, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    out = cli_inprocess("diff", "resnet50", "resnext50_32x4d").stdout
    table = table_lines(out)
    assert all(len(line) <= width for line in table)
    conv2 = next(line for line in table if "layer1.0.conv2" in line)
    assert conv2.startswith("~  ")  # the +/-/~ marker is never hidden
    assert re.search(r"(36,864 → 4,608|36\.9K → 4\.6K)", conv2)


@pytest.mark.parametrize("width", WIDTHS)
def test_zoo_fits(cli_inprocess, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    out = cli_inprocess("zoo", "vgg").stdout
    table = table_lines(out)
    assert all(len(line) <= width for line in table)
    vgg16 = next(line for line in table if line.startswith("vgg16 "))
    assert re.search(r"(138,357,544|138M)", vgg16) and "15.47" in vgg16
    assert len([line for line in table if line.startswith("vgg")]) == 10  # one line each


def test_zoo_pattern_and_natural_order(cli_inprocess):
    import archdsl

    names = archdsl.zoo("resnet*")
    assert names[:5] == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
    assert archdsl.zoo("resnet") == names + ["wide_resnet50_2", "wide_resnet101_2"]
    assert cli_inprocess("zoo", "nothing-like-this").returncode == 2


def test_columns_and_depth(cli_inprocess, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = cli_inprocess("summary", "resnet152", "--depth", "1", "--columns",
                        "layer,output,params").stdout
    table = table_lines(out)
    assert table[0].split() == ["Layer", "Output", "Params"]
    layer3 = next(line for line in table if line.startswith("layer3 "))
    assert layer3.split()[1] == "1024x14x14"  # the stage's output
    assert len(table) < 20  # 556 layers fold into their stages
    assert "25,557,032" not in out and "60,192,808" in out  # totals unchanged by folding
    bad = cli_inprocess("summary", "lenet5", "--columns", "layer,nope")
    assert bad.returncode == 2 and "Activations" in bad.stderr  # the choices are listed
    assert cli_inprocess("summary", "lenet5", "--depth", "0").returncode == 2


def test_depth_sums_equal_the_totals():
    import archdsl
    from archdsl.report.tables import rows

    model = archdsl.load("resnet50")
    for depth in (1, 2, 3):
        assert sum(r.params for r in rows(model, depth)) == model.totals.params
        assert sum(r.macs for r in rows(model, depth)) == model.totals.macs


@pytest.mark.parametrize(("n", "text"), [(0, ""), (512, "512"), (9_408, "9.4K"),
                                         (118_013_952, "118M"), (25_557_032, "25.6M"),
                                         (4_089_184_256, "4.1G"), (999_999, "1.0M")])
def test_compact(n, text):
    assert fit.compact(n) == text


def test_text_shortens_numbers_never():
    cols = [fit.Col("Name", "text", fit.ESSENTIAL, 4), fit.Col("N", "number", fit.ESSENTIAL)]
    lines = [fit.Line([fit.Cell("a-very-long-name"), fit.number_cell(123_456_789)])]
    lay = fit.layout(cols, lines, 12)
    rendered = [t.plain for t in fit.render(cols, lines, lay)]
    assert rendered[2] == "a-ver…  123M"
    lay = fit.layout(cols, lines, 5)  # impossible: wider than asked rather than cut
    assert "123M" in fit.render(cols, lines, lay)[2].plain
