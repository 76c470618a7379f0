"""--optimize inference: BatchNorm folded into the layer before it, dropout dropped, optional
channels_last; outputs equal to the unoptimised module in eval mode (1e-4)."""

from __future__ import annotations

import onnx
import pytest
import torch
from torch import nn

import archdsl
from archdsl.runtime.optimize import plan

MIXED = """
model Mixed {
  input: 3x32x32
  classes: 10
  Conv(16, 3, p=1) - BN - ReLU - DWConv(3, p=1) - BN - ReLU - PWConv(24) - BN
  Aux:aux1[ GAP - FC(32) - BN - ReLU - Dropout(0.5) - FC(classes) ]
  Add[ Conv(32, 3, s=2, p=1) - BN - ReLU - Conv(32, 3, p=1) - BN, Shortcut ] - ReLU
  Concat[ Id, BN:pre - ReLU - Conv(8, 1) ] - Conv(8, 1) - Add[ BN:shared, Id ] - ReLU
  GAP - FC(64) - BN - ReLU - Dropout(0.3) - FC(classes)
}
"""


def trained_looking(net: nn.Module, seed: int = 0) -> nn.Module:
    """BatchNorm statistics and affine parameters away from their defaults (a fresh BN in eval
    mode is the identity, which would hide a wrong fold)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(0.3 * torch.randn(m.num_features, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.num_features, generator=g))
    return net


def outputs(net, x) -> list[torch.Tensor]:
    with torch.no_grad():
        out = net(x)
    return [out] if isinstance(out, torch.Tensor) else [t for t in out if t is not None]


def test_the_plan_comes_from_the_graph_and_the_catalog():
    folds, drops = plan(archdsl.load(MIXED))
    pairs = {(f.absorber, f.affine) for f in folds}
    assert ("conv1", "bn1") in pairs and ("conv2", "bn2") in pairs  # Conv, depthwise
    assert ("conv3", "bn3") in pairs  # pointwise
    assert ("aux1.fc1", "aux1.bn1") in pairs  # FC followed by BatchNorm1d
    assert ("shortcut1.0", "shortcut1.1") in pairs  # inside the projection shortcut
    assert ("fc1", "bn6") in pairs and len(pairs) == 8
    assert drops == ["aux1.dropout1", "dropout1"]
    # a BatchNorm after ReLU (pre-activation: nothing to fold into) and one whose conv's output
    # the residual Id also reads stay
    assert not {"pre", "shared"} & {f.affine for f in folds}


@pytest.mark.parametrize("spec, size", [
    (MIXED, None),
    pytest.param("resnet18", "3x64x64", marks=pytest.mark.slow),
    pytest.param("googlenet", "3x96x96", marks=pytest.mark.slow),
    pytest.param("vgg11_bn", "3x32x32", marks=pytest.mark.slow),
    pytest.param("densenet121", "3x64x64", marks=pytest.mark.slow),
])
def test_optimized_outputs_equal_the_original_in_eval_mode(spec, size, tmp_path):
    model = archdsl.load(spec, input=size)
    reference = trained_looking(model.build(all_outputs=True)).eval()
    torch.save(reference.state_dict(), tmp_path / "w.pt")
    optimized = model.build(all_outputs=True, weights=tmp_path / "w.pt", optimize="inference")
    assert not optimized.training
    x = torch.randn(3, *model.input_shape)
    expected, got = outputs(reference, x), outputs(optimized, x)
    assert len(got) == len(expected) == len(model.ir.outputs)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    bns = [m for m in reference.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    left = [m for m in optimized.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    folds, drops = plan(model)
    assert len(left) == len(bns) - len(folds)
    assert not any(isinstance(m, nn.Dropout) for m in optimized.modules())


def test_what_stays_unfolded_in_the_mixed_spec():
    net = archdsl.build(MIXED, optimize="inference")
    kept = [n for n, m in net.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert kept == ["pre", "shared"]
    assert net.conv1.bias is not None  # a conv without bias gains one from the fold
    assert not any(p.requires_grad for p in net.parameters())


@pytest.mark.slow
def test_channels_last_keeps_the_outputs(tmp_path):
    model = archdsl.load("resnet18", input="3x64x64")
    reference = trained_looking(model.build()).eval()
    torch.save(reference.state_dict(), tmp_path / "w.pt")
    fast = model.build(weights=tmp_path / "w.pt", optimize="inference", channels_last=True)
    assert fast.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(outputs(fast, x)[0], outputs(reference, x)[0], atol=1e-4,
                               rtol=1e-4)


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="optimize must be one of inference"):
        archdsl.build("lenet5", optimize="training")


@pytest.mark.slow
def test_optimized_onnx_has_no_batchnorm_or_dropout(cli, tmp_path):
    spec = tmp_path / "mixed.arch"
    spec.write_text(MIXED)
    plain, fast = tmp_path / "plain.onnx", tmp_path / "fast.onnx"
    assert cli("compile", str(spec), "-o", str(plain)).returncode == 0
    proc = cli("compile", str(spec), "-o", str(fast), "--optimize", "inference")
    assert proc.returncode == 0, proc.stderr
    assert "optimized: 8 BatchNorm folded, 2 dropout dropped" in proc.stderr
    ops_plain = {n.op_type for n in onnx.load(str(plain)).graph.node}
    ops_fast = [n.op_type for n in onnx.load(str(fast)).graph.node]
    assert "BatchNormalization" in ops_plain
    assert ops_fast.count("BatchNormalization") == 2  # `pre` and `shared`
    assert "Dropout" not in ops_fast
