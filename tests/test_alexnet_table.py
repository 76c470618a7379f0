"""The lecture notes' AlexNet table, row by row (DESIGN.md: how we know it is right)."""

import json

import archdsl

# (label, output shape, parameters) for each row of the notes' table
TABLE = [
    ("Conv:1", [96, 55, 55], 34_944),
    ("Pool:1", [96, 27, 27], 0),
    ("Conv:2", [256, 27, 27], 614_656),
    ("Pool:2", [256, 13, 13], 0),
    ("Conv:3", [384, 13, 13], 885_120),
    ("Conv:4", [384, 13, 13], 1_327_488),
    ("Conv:5", [256, 13, 13], 884_992),
    ("Pool:5", [256, 6, 6], 0),
    ("FC:6", [4096], 37_752_832),
    ("FC:7", [4096], 16_781_312),
    ("FC:8", [1000], 4_097_000),
]


def test_every_row_of_the_notes_table():
    summary = archdsl.load("specs/alexnet.arch").summary()
    rows = {layer["label"]: layer for layer in summary["layers"]}
    for label, shape, params in TABLE:
        assert rows[label]["output_shape"] == shape, label
        assert rows[label]["params"] == params, label


def test_totals_match_the_notes():
    summary = archdsl.load("specs/alexnet.arch").summary()
    assert summary["activations"] == 781_736  # the notes' "nodes"
    assert summary["total_params"] == 62_378_344  # with biases (the notes' 58,621,952 omits
    # them and the conv weights)
    assert summary["param_bytes"] == 62_378_344 * 4
    assert summary["activation_bytes"] == 781_736 * 4


def test_summary_json_from_the_cli(cli):
    proc = cli("summary", "specs/alexnet.arch", "--json", "--batch", "8")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["schema_version"] == 1
    assert data["name"] == "AlexNet"
    assert data["input_shape"] == [3, 224, 224]
    assert data["total_params"] == data["trainable_params"] == 62_378_344
    assert data["activations"] == 781_736
    assert data["batch"] == 8 and data["batch_activation_bytes"] == 781_736 * 4 * 8
    params = [layer["params"] for layer in data["layers"] if layer["params"]]
    assert params == [p for _, _, p in TABLE if p]
    for layer in data["layers"]:
        assert set(layer) >= {"name", "op", "output_shape", "params", "macs"}


def test_conv_macs_are_output_elements_times_kernel_volume():
    rows = {layer["label"]: layer for layer in archdsl.load("alexnet").summary()["layers"]}
    assert rows["Conv:1"]["macs"] == 96 * 55 * 55 * 11 * 11 * 3
    assert rows["FC:6"]["macs"] == 9216 * 4096
