"""ConvNeXt in the zoo against torchvision, with randomised weights, layer scales and norms
(tests/randomised.py), at 64x64 where CI can afford it (the network is fully convolutional up to
global pooling; 64x64 leaves a 2x2 map in the last stage); tv_zoo.py checks all four at 224x224."""

from __future__ import annotations

import pytest
import torch
from autograd_saved import measure_saved_bytes
from randomised import assert_same_as_torchvision, randomise

import archdsl


def test_convnext_tiny_matches_torchvision_with_random_weights():
    assert_same_as_torchvision("convnext_tiny", 64)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["convnext_small", "convnext_base", "convnext_large"])
def test_the_larger_variants_match_torchvision(name):
    assert_same_as_torchvision(name, 64)


@pytest.mark.parametrize("name, p", [("convnext_tiny", 0.1), ("convnext_small", 0.4),
                                     ("convnext_base", 0.5), ("convnext_large", 0.5)])
def test_stochastic_depth_rises_linearly_over_the_whole_network(name, p):
    # torchvision: p * block_id / (total_blocks - 1), the block index counted across stages
    rates = [m.p for m in archdsl.build(name, device="meta").modules()
             if type(m).__name__ == "StochasticDepth"]
    assert rates == pytest.approx([p * k / (len(rates) - 1) for k in range(len(rates))])
    assert len(rates) == (18 if name == "convnext_tiny" else 36)


@pytest.mark.slow  # torchvision's initialisation of 28M weights takes seconds
def test_training_drops_the_same_samples_as_torchvision():
    # stochastic depth is live in training: with the same seed, the same samples are dropped
    import torchvision

    ref = torchvision.models.convnext_tiny()
    randomise(ref, torch.Generator().manual_seed(1), 32)
    net = archdsl.build("convnext_tiny")
    net.load_state_dict(ref.state_dict())
    ref.train()
    net.train()
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    outs = []
    for model in (ref, net):
        torch.manual_seed(3)
        outs.append(model(x))
    torch.testing.assert_close(outs[1], outs[0])


def test_saved_bytes_estimate_is_exact_for_convnext_tiny():
    # LayerNorm2d, permutations, linear layers on the last dimension, GELU, layer scale
    model = archdsl.load("convnext_tiny", input="3x64x64")
    net = model.build()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert model.saved_tensors().bytes(2) == measure_saved_bytes(net, x)
