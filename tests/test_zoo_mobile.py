"""The mobile family of the zoo against torchvision: MobileNetV2, MobileNetV3 and MNASNet, with
randomised weights and measured BatchNorm statistics (tests/randomised.py), at 64x64 where CI
can afford it (the networks are fully convolutional up to global pooling); tv_zoo.py checks all
seven at 224x224."""

from __future__ import annotations

import pytest
import torch
from autograd_saved import measure_saved_bytes
from randomised import assert_same_as_torchvision

import archdsl


@pytest.mark.parametrize("name", ["mobilenet_v2", "mobilenet_v3_small", "mnasnet0_5"])
def test_matches_torchvision_with_random_weights(name):
    assert_same_as_torchvision(name, 64)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mobilenet_v3_large", "mnasnet0_75", "mnasnet1_0",
                                  "mnasnet1_3"])
def test_the_larger_variants_match_torchvision(name):
    assert_same_as_torchvision(name, 96)


def test_squeeze_widths_round_as_torchvisions_make_divisible():
    from torchvision.models._utils import _make_divisible

    net = archdsl.build("mobilenet_v3_large")
    ses = [m for m in net.modules() if hasattr(m, "fc1")]
    assert [m.fc1.out_channels for m in ses] == \
        [_make_divisible(m.fc1.in_channels // 4, 8) for m in ses]
    assert 24 in [m.fc1.out_channels for m in ses]  # 72 // 4 = 18: 16 would lose over 10%


@pytest.mark.parametrize("name, alpha", [("mnasnet0_5", 0.5), ("mnasnet0_75", 0.75),
                                         ("mnasnet1_3", 1.3)])
def test_mnasnet_depths_round_as_torchvision(name, alpha):
    from torchvision.models.mnasnet import _get_depths

    layers = archdsl.build(name).layers
    got = [layers[0].out_channels, layers[6].out_channels] + \
          [stack[0].layers[6].out_channels for stack in list(layers)[8:14]]
    assert got == _get_depths(alpha)


def test_mnasnet_keeps_torchvisions_batchnorm_momentum():
    momenta = {m.momentum for m in archdsl.build("mnasnet0_5").modules()
               if isinstance(m, torch.nn.BatchNorm2d)}
    assert momenta == {1 - 0.9997}


def test_saved_bytes_estimate_is_exact_for_mobilenet_v3_small():
    # hard-swish and ReLU in place, squeeze-excitation's broadcast product, in-place residuals
    model = archdsl.load("mobilenet_v3_small", input="3x64x64")
    net = model.build()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert model.saved_tensors().bytes(2) == measure_saved_bytes(net, x)
