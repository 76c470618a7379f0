"""The API users of torchinfo, Keras and timm expect (issue 15): the table from a script,
their names for the settings, the zoo filtered and naturally sorted, a public quickstart."""

from __future__ import annotations

import io
import re

import pytest

import archdsl
from conftest import ROOT


def test_print_summary_with_depth_and_columns():
    model = archdsl.load("resnet50")
    buf = io.StringIO()
    model.print_summary(depth=1, columns=["layer", "output", "params"], file=buf)
    out = buf.getvalue()
    assert out.splitlines()[1].split() == ["Layer", "Output", "Params"]
    assert re.search(r"^layer3 +1024x14x14 +7,098,368$", out, re.M)
    assert "Parameters: 25,557,032" in out
    narrow = model.table(width=60)
    table = narrow[:narrow.index("\nInput:")].splitlines()
    assert all(len(line) <= 60 for line in table) and "25.6M" in narrow
    with pytest.raises(ValueError, match="choose from"):
        model.table(columns="layer,nope")
    assert len(repr(model).splitlines()) == 1


def test_num_classes_is_classes_and_in_chans_is_refused():
    assert archdsl.load("resnet18", num_classes=10).output_shape == (10,)
    with pytest.raises(TypeError, match='input="1x224x224"'):
        archdsl.load("resnet18", in_chans=1)
    with pytest.raises(TypeError, match="did you mean 'classes'"):
        archdsl.load("resnet18", clases=10)
    with pytest.raises(TypeError, match="disagree"):
        archdsl.load("resnet18", classes=5, num_classes=10)


def test_build_takes_num_classes():
    torch = pytest.importorskip("torch")
    net = archdsl.build("lenet5", num_classes=7)
    assert net.eval()(torch.zeros(1, 1, 32, 32)).shape == (1, 7)


def test_zoo_is_natural_and_filters():
    names = archdsl.zoo()
    assert names.index("resnet18") < names.index("resnet101")
    assert archdsl.zoo("vgg1?") == ["vgg11", "vgg13", "vgg16", "vgg19"]
    assert "zoo" in archdsl.__all__ and "print_summary" in (ROOT / "README.md").read_text()


def test_quickstart_uses_only_public_api():
    text = (ROOT / "examples" / "quickstart.py").read_text()
    assert not re.search(r"\.(op|ann|scope|graph|ir)\.", text)
    assert "print_summary" in text
