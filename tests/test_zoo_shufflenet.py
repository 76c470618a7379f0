"""ShuffleNetV2 in the zoo against torchvision, with randomised weights and measured BatchNorm
statistics (tests/randomised.py), at 64x64 where CI can afford it (the network is fully
convolutional up to the global mean); tv_zoo.py checks all four at 224x224."""

from __future__ import annotations

import pytest
import torch
from autograd_saved import measure_saved_bytes
from randomised import assert_same_as_torchvision

import archdsl


def test_shufflenet_v2_x0_5_matches_torchvision_with_random_weights():
    assert_same_as_torchvision("shufflenet_v2_x0_5", 64)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["shufflenet_v2_x1_0", "shufflenet_v2_x1_5",
                                  "shufflenet_v2_x2_0"])
def test_the_larger_variants_match_torchvision(name):
    assert_same_as_torchvision(name, 64)


def test_a_basic_unit_passes_the_first_half_through_and_shuffles():
    # torchvision's unit: chunk in two, branch2 on the second half, concatenate, shuffle (2
    # groups): output channel 2k is input channel k of the untouched half
    unit = archdsl.build("shufflenet_v2_x0_5").stage2[1].eval()
    x = torch.randn(1, 48, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = unit(x)
    torch.testing.assert_close(y[:, 0::2], x[:, :24])
    assert not hasattr(unit, "branch1")  # torchvision's is an empty Sequential: no weights


def test_saved_bytes_estimate_is_exact_for_shufflenet_v2_x0_5():
    # channel slices, concatenation, the shuffle as a view, in-place ReLUs
    model = archdsl.load("shufflenet_v2_x0_5", input="3x64x64")
    net = model.build()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert model.saved_tensors().bytes(2) == measure_saved_bytes(net, x)
