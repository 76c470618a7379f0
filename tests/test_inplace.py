"""Layers that run in place (`archdsl.passes.inplace`): which Adds overwrite a branch, how the
generated forward writes it, and that autograd gives exactly what the out-of-place sum gives."""

from __future__ import annotations

import pytest
import torch

import archdsl
from archdsl.codegen import pysource
from archdsl.passes.inplace import inplace_layers

# spec -> the forward line of its Add
ADDS = {
    # the residual sum of ResNet: BatchNorm keeps its input, so its output may take the sum
    "Conv(8, 3, p=1) - Add[Conv(16, 3, s=2, p=1) - BN, Shortcut] - ReLU - FC": "out += x",
    # ReLU keeps its output for backward: the other branch (a BatchNorm's) is overwritten
    "Conv(8, 3, p=1) - Add[Conv(8, 3, p=1) - ReLU, Conv(8, 1) - BN] - FC": "x += out",
    # the first branch is read by the Conv beside it too
    "Conv(8, 3, p=1) - BN - Add[Id, Conv(8, 3, p=1) - BN] - ReLU - FC": "out += x",
    # one tensor taken twice
    "Conv(8, 3, p=1) - BN - Add[Id, Id] - ReLU - FC": "x = x + x",
    # the model's input, and the output a ReLU keeps
    "Add[Id, Conv(3, 3, p=1) - ReLU] - FC": "x = x + out",
    # sigmoid keeps its output; Dropout is no fresh tensor (in eval it returns its input)
    "Conv(8, 3, p=1) - Add[Conv(8, 3, p=1) - Sigmoid, Conv(8, 1) - Dropout(0.2)] - FC":
        "out = out + x",
    # of three branches only the first may take the sum (the rounding of `(a + b) + c` stays)
    "Conv(8, 3, p=1) - Add[Conv(8, 3, p=1) - ReLU, Conv(8, 1) - BN, Conv(8, 1)] - FC":
        "out = out + out_1 + x",
    "Conv(8, 3, p=1) - Add[Conv(8, 3, p=1) - BN, Conv(8, 1) - BN, Conv(8, 1)] - FC":
        "out += out_1\n        out += x",
    # channel slices are views of a tensor still needed: DPN's sums stay out of place
    "Conv(8, 3, p=1) - BN - Add[Slice(0, 4), Slice(4)] - FC": "out = out + x",
}

BLOCK = """
block Res(c) { Add[ Conv(c, 3, p=1) - BN - ReLU - Conv(c, 3, p=1) - BN, Shortcut ] - ReLU }
block Pre(c) { Add[ Id, BN - ReLU - Conv(c, 3, p=1) - ReLU ] }
model Blocks {
  input: 3x12x12
  classes: 10
  Conv(8, 3, p=1) - Res(8) - Res(16) - Pre(16)
  Add[ b1: Conv(16, 3, p=1) - BN, b2: Conv(16, 1) - BN ] - ReLU - FC
}
"""


def load(spec: str):
    return archdsl.load(spec, input="3x12x12", classes=10) if "model" not in spec else \
        archdsl.load(spec)


def add_lines(source: str) -> str:
    forward = source[source.rindex("def forward"):]
    lines = [line.split("  #")[0] for line in forward.splitlines() if "+" in line or "add_" in line]
    return "\n".join(lines).strip()


@pytest.mark.parametrize("spec", list(ADDS))
def test_the_add_runs_in_place_only_when_it_is_safe(spec):
    assert add_lines(load(spec).source()) == ADDS[spec]


def test_blocks_write_the_residual_sum_as_torchvision_does():
    source = load(BLOCK).source()
    res = source[source.index("class Res("):source.index("class Pre(")]
    assert "        out += identity\n" in res  # the block's input is never overwritten
    pre = source[source.index("class Pre("):source.index("class Blocks(")]
    assert "x = x + out" in pre  # its input is the caller's; its branch ends in a ReLU
    assert "out = b1.add_(b2)" in source  # a labelled branch keeps its name


def build(spec: str, monkeypatch, adds_in_place: bool = True):
    """(source, module), every Add out of place when not `adds_in_place` (ReLUs as ever)."""
    def made():
        model = archdsl.load(spec, input="3x32x32") if spec in archdsl.zoo() else load(spec)
        return model.source(), model.build()

    if adds_in_place:
        return made()
    with monkeypatch.context() as m:
        m.setattr(pysource, "inplace_layers", lambda ir: {
            k: s for k, s in inplace_layers(ir).items() if ir.graph.node(k).op.name != "Add"})
        return made()


@pytest.mark.parametrize("spec", [*ADDS, BLOCK, pytest.param("resnet18", marks=pytest.mark.slow)])
def test_gradients_equal_the_out_of_place_sums(spec, monkeypatch):
    (source, net), (ref_source, ref) = build(spec, monkeypatch), \
        build(spec, monkeypatch, adds_in_place=False)
    expected = ADDS.get(spec, "+=")  # the block spec and ResNet-18 sum in place
    assert ("+=" in source or "add_(" in source) == ("+=" in expected or "add_(" in expected)
    assert "+=" not in ref_source and "add_(" not in ref_source
    ref.load_state_dict(net.state_dict(), strict=True)
    x = torch.randn(3, 3, 32, 32) if spec in archdsl.zoo() else torch.randn(3, 3, 12, 12)
    results = []
    for module in (net, ref):
        xi = x.clone().requires_grad_()
        torch.manual_seed(0)  # the same dropout masks
        out = module.train()(xi)
        out.square().sum().backward()  # autograd's version check trips on a bad overwrite
        results.append([out.detach(), xi.grad, *(p.grad for p in module.parameters())])
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)
