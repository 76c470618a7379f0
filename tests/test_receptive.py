"""Receptive fields: the notes' 3x3 arithmetic, published figures, branches, global layers, and
the field checked against torch itself (the input pixels a unit's gradient reaches)."""

from __future__ import annotations

import json

import pytest
import torch

import archdsl
from archdsl.report import tables


def fields(spec: str, input: str = "3x32x32") -> dict[str, dict]:
    model = archdsl.load(spec, input=input, classes=10)
    return {layer["name"]: layer["receptive_field"] for layer in model.summary()["layers"]}


def test_three_3x3_convolutions_see_7x7_as_the_notes_say():
    rf = fields("Conv(8, 3, p=1) - ReLU - Conv(8, 3, p=1) - ReLU - Conv(8, 3, p=1) - ReLU")
    assert [rf[n]["size"] for n in ("conv1", "conv2", "conv3", "relu3")] == \
        [[3, 3], [5, 5], [7, 7], [7, 7]]
    assert rf["conv3"]["jump"] == [1, 1] and rf["conv3"]["start"] == [0.5, 0.5]


def test_the_table_shows_7x7(cli):
    result = cli("summary", "Conv(8,3,p=1)-ReLU-Conv(8,3,p=1)-ReLU-Conv(8,3,p=1)-GAP-FC",
                 "--input", "3x32x32", "--classes", "10", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    rows = {line.split("|")[1].strip(): line for line in result.stdout.splitlines()
            if line.startswith("| ")}
    column = tables.COLUMNS.index("RF")
    cell = {name: line.strip("|").split("|")[column].strip() for name, line in rows.items()}
    assert (cell["conv1"], cell["conv2"], cell["conv3"]) == ("3x3", "5x5", "7x7")
    assert cell["avgpool1"] == "global" and cell["fc1"] == "global"
    assert "**Receptive field:** 7x7, jump 1 (largest, at conv3)" in result.stdout


@pytest.mark.parametrize("spec, layer, size", [
    ("vgg16", "features.30", 212),        # Araujo et al., Distill 2019, table of networks
    ("alexnet", "pool5", 195),            # the same table (alexnet_v2)
    ("resnet50", "layer4.2.conv2", 427),  # torchvision's ResNet-50 (stride on the 3x3)
    ("resnet18", "layer4.1.conv2", 435),
])
def test_published_fields_of_zoo_models(spec, layer, size):
    model = archdsl.load(spec)
    widest = model.receptive_field()
    assert widest.name == layer
    assert widest.ann.rf.size == (size, size) and widest.ann.rf.jump == (32, 32)
    assert model.summary()["receptive_field"]["size"] == [size, size]


def test_stride_padding_and_dilation():
    rf = fields("Conv(8, 3, s=2) - Conv(8, 3, d=2, p=2) - MPool(3, s=2, p=1) - Conv(8, 3, p=2)")
    assert rf["conv1"] == {"size": [3, 3], "jump": [2, 2], "start": [1.5, 1.5], "global": False,
                           "covers_input": False}
    assert rf["conv2"]["size"] == [11, 11] and rf["conv2"]["start"] == [1.5, 1.5]
    assert rf["pool1"]["size"] == [15, 15] and rf["pool1"]["jump"] == [4, 4]
    assert rf["conv3"]["size"] == [23, 23]
    assert rf["conv3"]["start"] == [-2.5, -2.5]  # the first unit is centred in the padding


def test_non_square_kernels_keep_each_dimension():
    rf = fields("Conv(8, (1, 7), p=(0, 3)) - Conv(8, (3, 1), s=(2, 1), p=(1, 0))")
    assert rf["conv1"]["size"] == [1, 7]
    assert rf["conv2"]["size"] == [3, 7] and rf["conv2"]["jump"] == [2, 1]


def test_branches_take_the_union_of_their_paths():
    rf = fields("Conv(8, 3, p=1) - Add[Conv(8, 3, p=1) - Conv(8, 3, p=1), Id] - "
                "Concat[Conv(8, (1, 3), p=(0, 1)), Conv(8, (3, 1), p=(1, 0))]")
    assert rf["add1"]["size"] == [7, 7]           # the longest path
    assert rf["concat1"]["size"] == [9, 9]        # 1x3 and 3x1 branches: 9x9 together


def test_global_layers_see_everything_and_are_marked():
    model = archdsl.load("Conv(8, 3, p=1) - MPool - GAP - FC", input="3x8x8", classes=10)
    rf = {n.name: n.ann.rf for n in model.layers()}
    assert rf["avgpool1"].global_ and rf["avgpool1"].covers_input
    assert rf["avgpool1"].size == (10, 10)  # 4x4 in the padded 10x10 around the 8x8 image
    assert rf["fc1"].global_
    assert not rf["pool1"].covers_input
    assert model.receptive_field().name == "pool1"  # the largest field of local windows


def test_adaptive_pooling_uses_its_largest_window_and_mean_stride():
    rf = fields("Conv(8, 1) - AdaptiveAPool(4)", input="3x14x14")
    assert rf["avgpool1"]["size"] == [4, 4] and rf["avgpool1"]["jump"] == [3.5, 3.5]
    assert not rf["avgpool1"]["global"]


def test_a_vector_model_has_no_field(cli):
    model = archdsl.load("FC(32) - ReLU - FC(10)", input="64")
    assert model.summary()["receptive_field"] is None
    assert all(layer["receptive_field"] is None for layer in model.summary()["layers"])
    result = cli("summary", "FC(32) - ReLU - FC(10)", "--input", "64", "--json")
    assert json.loads(result.stdout)["receptive_field"] is None


# --- against torch: the input pixels a unit's gradient reaches are exactly its field -----------
TORCH_SPECS = [
    "Conv(4, 3, p=1) - Conv(4, 3, p=1) - Conv(4, 3, p=1)",
    "Conv(4, 3, s=2) - APool(3, s=2, p=1) - Conv(4, 3, d=2, p=2) - Conv(4, 5, s=3, p=1)",
    "Conv(4, (1, 5), p=(0, 2)) - Conv(4, (3, 1), s=(2, 1)) - APool(2)",
    "Conv(4, 3, p=1) - Add[Conv(4, 3, p=1) - Conv(4, 3, s=2, p=1), Conv(4, 1, s=2)] - Conv(4, 3)",
    "Concat[Conv(4, 5, p=2), APool(3, s=1, p=1) - Conv(4, 1), Conv(4, (1, 7), p=(0, 3))] - "
    "Conv(4, 3, s=2)",
    "Conv(4, 7, s=2, p=3) - APool(3, s=2, p=1) - DWConv(3, s=2) - PWConv(4)",
    "Conv(4, 3, p=1) - Add[Conv(8, 3, s=2, p=1) - BN - Conv(8, 3, p=1), Shortcut] - Conv(4, 3)",
]


@pytest.mark.slow
@pytest.mark.parametrize("spec", TORCH_SPECS)
def test_field_matches_the_gradient_footprint_in_torch(spec):
    model = archdsl.load(spec, input="1x41x37")
    net = model.build().eval()  # BatchNorm as a positive per-channel scale
    for p in net.parameters():  # positive weights: no gradient cancels inside the field
        torch.nn.init.constant_(p, 0.1)
    out_node = model.outputs[0][1]
    rf, (_, oh, ow) = out_node.ann.rf, out_node.ann.out_shape
    image = model.input_shape[1:]
    for uh, uw in {(0, 0), (oh // 2, ow // 2), (oh - 1, ow - 1)}:
        x = torch.ones(1, *model.input_shape, requires_grad=True)
        net(x)[0, 0, uh, uw].backward()
        reached = x.grad[0, 0] != 0
        for d, unit in ((0, uh), (1, uw)):
            left = rf.start[d] + unit * rf.jump[d] - rf.size[d] / 2
            lo, hi = max(0, int(left)), min(image[d], int(left + rf.size[d]))
            hits = reached.any(dim=1 - d).nonzero().flatten().tolist()
            assert (hits[0], hits[-1] + 1) == (lo, hi), (spec, d, unit)
