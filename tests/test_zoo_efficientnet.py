"""EfficientNet B0-B7 and V2-S/M/L (specs/blocks/efficientnet.arch) against torchvision, with
randomised weights and measured BatchNorm statistics (tests/randomised.py), at sizes CI can
afford: the network is the same at any input size."""

from __future__ import annotations

import pytest
import torch
from randomised import assert_same_as_torchvision

import archdsl


@pytest.mark.parametrize("name", ["efficientnet_b0", "efficientnet_v2_s"])
def test_the_smallest_of_each_generation_is_torchvisions(name):
    assert_same_as_torchvision(name, 64)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["efficientnet_b3", "efficientnet_b5", "efficientnet_v2_m"])
def test_scaled_variants_are_torchvisions(name):
    # B3 rounds a width up (_make_divisible's 10% rule), B5 has TensorFlow's BatchNorm settings
    assert_same_as_torchvision(name, 64)


def test_stochastic_depth_grows_over_the_whole_networks_blocks():
    net = archdsl.build("efficientnet_b0", device="meta")
    rates = [m.p for m in net.modules() if type(m).__name__ == "StochasticDepth"]
    assert rates == pytest.approx([0.2 * k / 16 for k in range(16)])


def test_a_block_without_residual_keeps_its_stochastic_depth_unapplied():
    # features.2.0 strides, so torchvision's MBConv has no residual but holds the module
    net = archdsl.build("efficientnet_b0").eval()
    block = net.features[2][0]
    block.stochastic_depth.train()
    block.stochastic_depth.p = 1.0  # dropped every time it runs: it must not run
    x = torch.randn(1, 16, 16, 16)
    with torch.no_grad():
        assert torch.equal(block(x), block.block(x))
