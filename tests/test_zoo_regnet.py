"""RegNetX and RegNetY of the zoo against torchvision: randomised weights and measured BatchNorm
statistics (tests/randomised.py) at 64x64, where CI can afford it (the networks are fully
convolutional up to global pooling); tv_zoo.py checks all fifteen at 224x224. The stages are
computed in the spec from the paper's d, w0, wa, wm, g: every variant's depths, widths and group
widths are checked against torchvision's BlockParams, on the meta device (no weights)."""

from __future__ import annotations

import pytest
import torch
from autograd_saved import measure_saved_bytes
from randomised import assert_same_as_torchvision

import archdsl

REGNETS = [f"regnet_{kind}_{size}" for kind, size in
           [("x", s) for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")]
           + [("y", s) for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf",
                                 "128gf")]]


@pytest.mark.parametrize("name", ["regnet_x_400mf", "regnet_y_400mf"])
def test_matches_torchvision_with_random_weights(name):
    assert_same_as_torchvision(name, 64)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["regnet_x_800mf", "regnet_x_8gf", "regnet_y_800mf",
                                  "regnet_y_3_2gf"])
def test_more_variants_match_torchvision(name):
    # x_8gf: the group width is cut to the first stage's width (80 < 120); y_800mf and y_3_2gf:
    # widths moved to a multiple of the group width, and a one-block last stage
    assert_same_as_torchvision(name, 64)


def _stages(net: torch.nn.Module) -> list[tuple[int, int, int]]:
    """(depth, width, group width) of each stage, read from the built blocks."""
    out = []
    for stage in net.trunk_output.children():
        conv = next(iter(stage.children())).f.b[0]
        out.append((len(list(stage.children())), conv.out_channels,
                    conv.out_channels // conv.groups))
    return out


@pytest.mark.parametrize("name", REGNETS)
def test_stages_are_torchvisions_block_params(name, monkeypatch):
    from torchvision.models import regnet

    # torchvision's builder, stopped where it has computed the stages from the paper's numbers
    monkeypatch.setattr(regnet, "_regnet", lambda params, weights, progress, **kwargs: params)
    p = getattr(regnet, name)()
    expected = list(zip(p.depths, p.widths, p.group_widths, strict=True))
    assert _stages(archdsl.build(name, device="meta")) == expected


def test_squeeze_width_is_a_quarter_of_the_block_input():
    net = archdsl.build("regnet_y_400mf", device="meta")
    first = getattr(net.trunk_output.block2, "block2-0")
    second = getattr(net.trunk_output.block2, "block2-1")
    assert first.f.se.fc1.out_channels == round(0.25 * 48)  # the previous stage's width
    assert second.f.se.fc1.out_channels == round(0.25 * 104)
    assert first.f.se.fc1.in_channels == 104  # it squeezes the bottleneck's width


@pytest.mark.parametrize("name", ["regnet_x_400mf", "regnet_y_400mf"])
def test_saved_bytes_estimate_is_exact(name):
    # grouped convolutions, in-place ReLUs after the residual sums, squeeze-excitation's product
    model = archdsl.load(name, input="3x64x64")
    net = model.build()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert model.saved_tensors().bytes(2) == measure_saved_bytes(net, x)
