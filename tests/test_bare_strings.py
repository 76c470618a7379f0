"""Every architecture string of the lecture notes compiles from the command line.

Contract: the command's `main(argv)` runs in this process (`cli_inprocess`); the real command
in a subprocess is exercised by test_cli.py and the diagnostics corpus.
"""

import json

import pytest

import archdsl

NOTES = [
    ("Conv-ReLU-Pool-Conv-ReLU-Pool-Conv-ReLU-Pool-FC-SM", "3x32x32"),
    ("Conv-Pool-Conv-Pool-Conv-FC-FC-SM", "1x28x28"),
    ("Conv-Pool-Conv-Pool-Conv-Conv-Conv-Pool-FC-FC-SM", "3x64x64"),
    ("Conv-ReLU-Pool-Conv-ReLU-Pool-Conv-ReLU-Pool-FC-FC-SM", "3x32x32"),
    ("Conv-Pool-Norm-Conv-Pool-Norm-Conv-Conv-Conv-Pool-FC-FC-FC", "3x224x224"),
    ("Conv:1-Pool:1-Conv:2-Pool:2-Conv:3-Conv:4-Conv:5-Pool:4-FC:6-FC:7-FC:8", "3x224x224"),
    ("Conv-Pool-Conv-Pool-Conv-FC-FC (SM)", "1x28x28"),
    ("Conv-Pool-Norm-Conv-Pool-Norm-Conv- Conv-Conv-Pool-FC-FC-FC (SM)", "3x224x224"),
    ("Conv-Mpool-[Conv-ReLU-Conv-ReLU-Conv-ReLU] x 3-[Conv-ReLU-Conv-ReLU-Conv-ReLU] x 8-"
     "[Conv-ReLU-Conv-ReLU-Conv-ReLU] x 36-[Conv-ReLU-Conv-ReLU-Conv-ReLU] x 3-APool-FC-SM",
     "3x224x224"),
    ("Conv-MPool-Conv-Incept-Incept-MPool-Incept-Incept-Incept-Incept-Incept-MPool-Incept-"
     "Incept-APool-FC-SM", "3x224x224"),
]


@pytest.mark.parametrize("text,shape", NOTES)
def test_notes_string_checks_from_the_cli(cli_inprocess, text, shape):
    proc = cli_inprocess("check", text, "--input", shape, "--classes", "10", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] is True
    assert data["output_shape"] == [10]


def test_defaults_double_the_width_after_each_halving():
    model = archdsl.load("Conv-ReLU-Pool-Conv-ReLU-Pool-Conv-ReLU-Pool-FC-SM",
                         input="3x32x32", classes=10)
    convs = [n for n in model.layers() if n.op.name == "Conv"]
    assert [n.ann.out_shape for n in convs] == [(32, 32, 32), (64, 16, 16), (128, 8, 8)]
    pools = [n for n in model.layers() if n.op.name == "MPool"]
    assert all(n.ann.params.kernel == 2 for n in pools)


def test_hidden_fc_gets_512_and_the_last_fc_the_classes():
    model = archdsl.load("Conv-Pool-Conv-Pool-Conv-FC-FC-SM", input="1x28x28", classes=7)
    fcs = [n.ann.out_shape for n in model.layers() if n.op.name == "FC"]
    assert fcs == [(512,), (7,)]


def test_norm_is_local_response_normalisation():
    model = archdsl.load("Conv-Pool-Norm-FC", input="3x32x32", classes=2)
    assert [n.op.name for n in model.layers()] == ["Conv", "MPool", "LRN", "FC"]


def test_parenthesised_trailing_layer_is_included():
    model = archdsl.load("Conv-Pool-Conv-Pool-Conv-FC-FC (SM)", input="1x28x28", classes=10)
    assert model.layers()[-1].op.name == "SM"


def test_numeric_labels_name_modules_from_kind_and_number():
    model = archdsl.load("Conv:1-Pool:1-Conv:2-Pool:2-FC:6", input="3x32x32", classes=10)
    names = [n.name for n in model.layers()]
    assert names == ["conv1", "pool1", "conv2", "pool2", "fc6"]
    assert [n.display for n in model.layers()][:2] == ["Conv:1", "Pool:1"]


def test_missing_classes_is_a_diagnostic(cli_inprocess):
    proc = cli_inprocess("check", "Conv-Pool-FC", "--input", "1x28x28")
    assert proc.returncode == 1
    assert "classes" in proc.stderr and "^" in proc.stderr
