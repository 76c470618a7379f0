"""The layer kinds torchvision's MobileNetV3, EfficientNet, RegNetY, ConvNeXt and ShuffleNetV2
need: Mul, StochasticDepth, ChannelShuffle, LayerNorm2d, Permute, FC(flatten=false),
LN(dims=K), LayerScale, Dropout(inplace) and AdaptiveAPool's size as written. Each is checked
against torchvision's own module or function: shapes, counts, names, repr and outputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models.convnext import CNBlock
from torchvision.models.convnext import LayerNorm2d as TvLayerNorm2d
from torchvision.models.shufflenetv2 import channel_shuffle
from torchvision.ops import SqueezeExcitation
from torchvision.ops import StochasticDepth as TvStochasticDepth

import archdsl
from archdsl.diagnostics import ArchError

CN_BLOCK = """
block CNBlock(dim, layer_scale=1e-6, sd=0.0) {
  Add[ [block: [ Conv(dim, 7, p=3, g=dim, bias=true) - Permute(0, 2, 3, 1) - LN(eps=1e-6, dims=1)
                - FC(4 * dim, flatten=false) - GELU - FC(dim, flatten=false) - Permute(0, 3, 1, 2) ]]
       - LayerScale:layer_scale(layer_scale) - StochasticDepth:stochastic_depth(sd), Id ]
}
model Net {
  input: 16x8x8
  CNBlock:blk(16, layer_scale=0.5, sd=0.25)
}
"""

SE_BLOCK = """
block SE(c, s) {
  Mul[ Id, AdaptiveAPool:avgpool(1) - Conv:fc1(s, 1) - ReLU:activation - Conv:fc2(c, 1)
       - Hardsigmoid:scale_activation ]
}
model Net {
  input: 32x6x6
  SE:se(32, 8)
}
"""


def errors(spec: str, **settings) -> list:
    with pytest.raises(ArchError) as err:
        archdsl.load(spec, **settings)
    return err.value.diagnostics


def only_layer(spec: str, input: str):
    model = archdsl.load(spec, input=input, classes=10)
    return model, [n for n in model.layers()]


# --- end to end, against torchvision's modules -------------------------------------------------
def test_convnext_block_equals_torchvisions_cnblock():
    model = archdsl.load(CN_BLOCK)
    ours = model.build().blk
    theirs = CNBlock(16, layer_scale=0.5, stochastic_depth_prob=0.25)
    theirs.load_state_dict(ours.state_dict())  # strict: same names and shapes
    assert ours.layer_scale.shape == (16, 1, 1) and "layer_scale" in dict(ours.named_parameters())
    assert repr(ours) == repr(theirs)  # Permute, LayerNorm, StochasticDepth(p=0.25, mode=row)
    x = torch.randn(4, 16, 8, 8)
    for training in (False, True):
        ours.train(training), theirs.train(training)
        torch.manual_seed(0)
        a = ours(x)
        torch.manual_seed(0)
        torch.testing.assert_close(a, theirs(x), rtol=0, atol=0)
    # counts: depthwise 7x7 (+bias), LayerNorm, two Linears, the scale
    assert model.totals.params == sum(p.numel() for p in theirs.parameters())
    assert model.totals.macs == 16 * 49 * 64 + 2 * 16 * 64 * 64


def test_squeeze_excitation_equals_torchvisions():
    model = archdsl.load(SE_BLOCK)
    ours = model.build().se
    theirs = SqueezeExcitation(32, 8, scale_activation=nn.Hardsigmoid)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 32, 6, 6)
    torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)
    assert repr(ours.avgpool) == "AdaptiveAvgPool2d(output_size=1)"
    assert "x * out" in model.source() or " * " in model.source()


def test_channel_shuffle_equals_torchvisions_function():
    model = archdsl.load("ChannelShuffle(3)", input="12x5x4")
    x = torch.randn(2, 12, 5, 4)
    torch.testing.assert_close(model.build()(x), channel_shuffle(x, 3), rtol=0, atol=0)
    assert "nn.Module" not in model.source().split("class ")[-1].split("__init__")[1].split(
        "forward")[0].replace("super().__init__()", "")  # no module of its own


def test_layernorm2d_equals_torchvisions():
    model = archdsl.load("LayerNorm2d(eps=1e-6)", input="8x5x5")
    net = model.build()
    ours = next(m for m in net.modules() if type(m).__name__ == "LayerNorm2d")
    theirs = TvLayerNorm2d(8, eps=1e-6)
    with torch.no_grad():
        ours.weight.normal_(), ours.bias.normal_()
    theirs.load_state_dict(ours.state_dict())
    assert ours.weight.shape == (8,) and repr(ours) == repr(theirs)
    x = torch.randn(3, 8, 5, 5)
    torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)
    assert model.totals.params == 16
    assert errors("FC(8) - LN2d", input="3x4x4")[0].code == "rank-mismatch"


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_is_torchvisions(mode):
    model = archdsl.load(f"StochasticDepth(0.5, mode={mode})", input="4x3x3")
    ours = model.build()
    module = next(m for m in ours.modules() if type(m).__name__ == "StochasticDepth")
    theirs = TvStochasticDepth(0.5, mode)
    assert repr(module) == repr(theirs) and module.p == 0.5 and module.mode == mode
    x = torch.randn(16, 4, 3, 3)
    torch.manual_seed(3)
    a = ours(x)
    torch.manual_seed(3)
    torch.testing.assert_close(a, theirs(x), rtol=0, atol=0)
    assert not torch.equal(a, x)  # some samples dropped, the rest scaled
    ours.eval()
    assert torch.equal(ours(x), x)


def test_stochastic_depth_not_applied_is_built_but_not_called():
    model = archdsl.load("Conv(4, 1) - StochasticDepth:sd(0.9, applied=false)", input="4x3x3")
    net = model.build()
    assert repr(net.sd) == "StochasticDepth(p=0.9, mode=row)"
    assert "self.sd(" not in model.source()
    x = torch.randn(8, 4, 3, 3)
    torch.testing.assert_close(net(x), net.conv1(x))  # in training: passed on unchanged
    assert model.saved_tensors().bytes(8) == 8 * 4 * 9 * 4  # only the convolution's input


# --- shapes, counts and diagnostics ------------------------------------------------------------
def test_mul_broadcasts_a_gate_over_the_map():
    model = archdsl.load("Mul[Id, GAP - Conv(8, 1) - Sigmoid]", input="8x4x6")
    assert model.output_shape == (8, 4, 6)
    assert archdsl.load("Multiply[GAP, Id]", input="8x4x6").output_shape == (8, 4, 6)
    diag = errors("Mul[Id, APool(2)]", input="8x4x6")[0]
    assert diag.code == "shape-mismatch" and "cannot broadcast 8x4x6 with 8x2x3" in diag.message
    assert errors("Mul[Id, Id, Id]", input="8x4x6")[0].code == "shape-mismatch"
    assert errors("Mul[Id, Flatten]", input="8x4x6")[0].code == "shape-mismatch"


def test_permute_follows_torchs_dimension_order():
    model = archdsl.load("Permute(0, 2, 3, 1)", input="8x4x6")
    assert model.output_shape == (4, 6, 8)
    assert "Permute([0, 2, 3, 1])" in model.source()
    assert errors("Permute(0, 2, 1)", input="8x4x6")[0].code == "rank-mismatch"
    assert errors("Permute(1, 0, 2, 3)", input="8x4x6")[0].code == "bad-argument"
    assert errors("Permute(0, 1, 1, 2)", input="8x4x6")[0].code == "bad-argument"
    assert archdsl.load("FC(5) - Permute(0, 1)", input="8").output_shape == (5,)


def test_channel_shuffle_needs_groups_that_divide_the_channels():
    diag = errors("ChannelShuffle(3)", input="8x4x4")[0]
    assert diag.code == "bad-groups" and "do not divide the 8 channels" in diag.message


def test_fc_without_flatten_maps_the_last_dimension():
    model = archdsl.load("Permute(0, 2, 3, 1) - FC(12, flatten=false)", input="8x4x5")
    assert model.output_shape == (4, 5, 12)
    assert model.totals.params == 8 * 12 + 12
    assert model.totals.macs == 8 * 12 * 4 * 5
    assert "nn.Linear(8, 12)" in model.source() and "flatten" not in model.source()
    flat = archdsl.load("FC(12)", input="8x4x5")  # the default still flattens
    assert flat.output_shape == (12,) and flat.totals.params == 160 * 12 + 12


def test_layer_norm_over_the_last_dims():
    model = archdsl.load("Permute(0, 2, 3, 1) - LN(eps=1e-6, dims=1)", input="96x4x4")
    ln = next(m for m in model.build().modules() if isinstance(m, nn.LayerNorm))
    assert repr(ln) == repr(nn.LayerNorm(96, eps=1e-06))
    assert model.totals.params == 2 * 96
    two = archdsl.load("LN(dims=2)", input="3x4x5")
    assert "nn.LayerNorm([4, 5])" in two.source() and two.totals.params == 2 * 20
    assert archdsl.load("LN", input="3x4x5").totals.params == 2 * 60  # default: all dims
    assert errors("LN(dims=4)", input="3x4x5")[0].code == "rank-mismatch"


def test_layer_scale_is_a_parameter_of_its_block():
    model = archdsl.load(CN_BLOCK)
    source = model.source()
    assert "self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)" in source
    assert "self.layer_scale * " in source and "self.dim = dim" not in source
    state = model.build().state_dict()
    assert state["blk.layer_scale"].shape == (16, 1, 1)
    assert torch.all(state["blk.layer_scale"] == 0.5)
    # not a module: it takes no position in a labelled group's numbering, and cannot be in one
    diag = errors("stage: Conv(8, 1) - LayerScale(0.1)", input="8x4x4")[0]
    assert diag.code == "parameter-placement"
    vector = archdsl.load("FC(6) - LayerScale:gamma(2.0)", input="4")
    assert "nn.Parameter(torch.ones(6) * 2.0)" in vector.source()
    assert vector.totals.params == 4 * 6 + 6 + 6


def test_dropout_in_place_and_adaptive_pool_sizes_are_written_as_torchvision_writes_them():
    model = archdsl.load("AdaptiveAPool(1) - Conv(4, 1) - AdaptiveAPool((1, 1)) - Flatten - "
                         "Dropout(0.2, inplace=true) - FC(3)", input="4x6x6")
    reprs = [m.extra_repr() for m in model.build().modules()
             if isinstance(m, (nn.AdaptiveAvgPool2d, nn.Dropout))]
    assert reprs == ["output_size=1", "output_size=(1, 1)", "p=0.2, inplace=True"]
    assert "nn.AdaptiveAvgPool2d((1, 1))" in archdsl.load("GAP", input="4x6x6").source()


def test_ops_lists_the_new_kinds(cli_inprocess):
    out = cli_inprocess("ops").stdout
    for name in ("Mul", "StochasticDepth", "ChannelShuffle", "LayerNorm2d", "Permute",
                 "LayerScale"):
        assert name in out
