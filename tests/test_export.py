"""Exports: TorchScript, ONNX and torch.export programs of lenet5, resnet18 and googlenet (three
outputs), with trained weights from a file, checked against the PyTorch module independently of
the exporter's own check; the compile command's formats, errors and exit codes."""

from __future__ import annotations

import re

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from torch import nn

import archdsl
from archdsl.diagnostics import BackendError
from archdsl.runtime.export import export

SPECS = ["lenet5", "resnet18", "googlenet"]
# the ImageNet models at half resolution (the same weights: both end in global pooling) keep CI
# fast; GoogLeNet's auxiliary heads then pool 7x7 to 4x4, an uneven adaptive pooling
INPUT = {"resnet18": "3x112x112", "googlenet": "3x112x112"}
FORMATS = {"torchscript": "ts", "onnx": "onnx", "export": "pt2"}
SUFFIX = {"torchscript": ".ts", "onnx": ".onnx", "export": ".pt2"}


def perturbed_state(net: nn.Module, seed: int = 1) -> dict:
    """A state_dict unlike the default build's: trained-looking BatchNorm statistics and shifted
    weights, so an export that ignored --weights (or the running statistics) would show."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for name, t in net.state_dict().items():
        t = t.clone()
        if t.is_floating_point():
            if name.endswith("running_var"):
                t = 0.5 + torch.rand(t.shape, generator=g)
            elif name.endswith("running_mean"):
                t = 0.2 * torch.randn(t.shape, generator=g)
            else:
                t = t + 0.01 * torch.randn(t.shape, generator=g)
        state[name] = t
    return state


def run_file(fmt: str, path, x: torch.Tensor) -> list[torch.Tensor]:
    if fmt == "onnx":
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return [torch.from_numpy(v) for v in session.run(None, {"input": x.numpy()})]
    if fmt == "torchscript":
        with torch.jit.optimized_execution(False):  # skip the profiling runs' optimisation
            out = torch.jit.load(str(path))(x)
    else:
        out = torch.export.load(str(path)).module()(x)
    out = (out,) if isinstance(out, torch.Tensor) else out
    return [t for t in out if t is not None]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Per spec: a weights file and the reference module carrying those weights."""
    folder = tmp_path_factory.mktemp("weights")
    found = {}
    for name in SPECS:
        reference = archdsl.build(name, all_outputs=True, input=INPUT.get(name))
        state = perturbed_state(reference)
        reference.load_state_dict(state)
        path = folder / f"{name}.pt"
        torch.save(state, path)
        found[name] = (path, reference.eval())
    return found


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", SPECS)
def test_export_equals_the_module_with_the_given_weights(name, fmt, weights, tmp_path):
    path_weights, reference = weights[name]
    model = archdsl.load(name, input=INPUT.get(name))
    out = tmp_path / f"{name}{SUFFIX[fmt]}"
    report = export(model, out, fmt, weights=path_weights)
    names = [n for n, _ in model.ir.outputs]
    assert report.outputs == names and report.max_diff is not None and report.max_diff < 1e-4
    if fmt == "onnx":
        onnx.checker.check_model(str(out), full_check=True)
        graph = onnx.load(str(out)).graph
        assert [o.name for o in graph.output] == names
        assert graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a named, dynamic batch
    for batch in (1, 3):  # traced with 2: the batch axis is dynamic
        x = torch.randn(batch, *model.input_shape, generator=torch.Generator().manual_seed(7))
        with torch.no_grad():
            expected = reference(x)
        expected = [expected] if isinstance(expected, torch.Tensor) else list(expected)
        got = run_file(fmt, out, x)
        assert len(got) == len(names) == len(expected)
        for a, b in zip(got, expected, strict=True):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_torchscript_is_compiled_not_traced(tmp_path):
    """A scripted module keeps the training switch: in training mode the auxiliary heads run."""
    out = tmp_path / "googlenet.ts"
    export(archdsl.load("googlenet", input="3x112x112"), out, "torchscript", verify=False)
    loaded = torch.jit.load(str(out))
    assert "self.training" in loaded.code
    x = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        assert loaded(x).aux1 is not None  # exported with outputs="all"
        loaded.train()
        train_out = loaded(x)
    assert train_out.aux1.shape == train_out.aux2.shape == (2, 1000)


AUX_SPEC = """
model AuxNet {
  input: 3x32x32
  classes: 10
  Conv(8, 3, p=1) - BN - ReLU - MPool(2)
  Aux:aux1[ GAP - FC(classes) ]
  Add[ Conv(16, 3, s=2, p=1) - BN - ReLU - Conv(16, 3, p=1) - BN, Shortcut ] - ReLU
  GAP - Dropout(0.2) - FC(classes)
}
"""


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "export"])
def test_outputs_main_exports_only_the_main_output(fmt, tmp_path):
    model = archdsl.load(AUX_SPEC)
    out = tmp_path / f"aux{SUFFIX[fmt]}"
    report = export(model, out, fmt, outputs="main")
    assert report.outputs == ["main"]
    x = torch.randn(3, 3, 32, 32)
    got = run_file(fmt, out, x)
    with torch.no_grad():
        expected = model.build().eval()(x)
    assert len(got) == 1
    torch.testing.assert_close(got[0], expected, atol=1e-4, rtol=1e-4)


ALL_OPS = """
model AllOps {
  input: 3x32x32
  classes: 10
  Conv(16, 3, p=1) - BN - ReLU - DWConv(3, p=1) - BN - ELU - PWConv(24) - LeakyReLU(0.1)
  Add[ Conv(24, 3, p=1) - BN, Shortcut ] - GELU
  Add[ Conv(32, 3, s=2, p=1) - BN, Shortcut ] - Sigmoid
  Aux:aux1[ GAP - FC(10) ]
  Concat[ Id, Conv(16, 1) - IN(affine=true) ] - GN(4) - LRN(5) - Tanh
  Concat[ Slice(0, 16), Slice(16) ] - MPool(2) - APool(2, s=1) - SPool(2) - LN
  Conv(16, 1) - BN - ReLU6 - Conv(16, 1) - Hardswish - Conv(16, 1) - BN - SiLU - Hardsigmoid
  Mish - PReLU(16)
  Mul[ Id, AdaptiveAPool(1) - Conv(16, 1) - Sigmoid ] - ChannelShuffle(4) - LayerNorm2d
  Concat(crop=true)[ Id, MPool(2) - ConvT(16) ] - Upsample(2) - Upsample(2, bilinear) - MPool(4)
  Pad(0, 1, 0, 1) - Pad(1, 0, 1, 0)
  Permute(0, 2, 3, 1) - LN(dims=1) - FC(16, flatten=false) - Permute(0, 3, 1, 2)
  LayerScale(0.5) - Add[ StochasticDepth(0.2), Id ] - StochasticDepth(0.1, applied=false)
  AdaptiveAPool(3) - Flatten - FC(64) - BN - ReLU - Dropout(0.5) - FC(classes) - SM
}
"""


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_layer_kind_exports(fmt, tmp_path):
    from archdsl.ops import all_ops

    model = archdsl.load(ALL_OPS)
    used = {n.op.name for n in model.layers()}
    # a new layer kind must join this spec (Id becomes an edge; Input is not a layer)
    # (Opaque is an imported layer that never compiles: tests/test_import.py)
    assert used == {op.name for op in all_ops()} - {"Input", "Id", "Opaque"}
    report = export(model, tmp_path / f"all{SUFFIX[fmt]}", fmt)  # written, reloaded, compared
    assert report.outputs == ["main", "aux1"] and report.max_diff < 1e-4


class Unexportable(nn.Module):
    """Wraps a layer with what TorchScript (`*rest`) and torch.export (a branch on a tensor's
    value) both refuse, leaving its result unchanged."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x, *rest):
        y = self.inner(x)
        if y.sum() > 0:
            return y
        return y * 1


@pytest.mark.parametrize("fmt", ["torchscript", "export"])
def test_export_failure_names_the_layer_and_its_spec_location(fmt, tmp_path, monkeypatch):
    model = archdsl.load("lenet5")
    net = model.build()
    net.conv2 = Unexportable(net.conv2)
    monkeypatch.setattr(model, "build", lambda **kwargs: net)
    with pytest.raises(BackendError) as err:
        export(model, tmp_path / f"x{SUFFIX[fmt]}", fmt)
    message = str(err.value)
    assert message.startswith("cannot export LeNet5 to ")
    assert "layer conv2 (Conv at " in message and "lenet5.arch:" in message
    assert "conv1" not in message  # the first failing layer, not the first layer


def test_weights_that_do_not_fit_are_refused_by_name(tmp_path):
    state = archdsl.build("lenet5").state_dict()
    state.pop("conv1.bias")
    state["conv2.weight"] = torch.zeros(3, 3)
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "bad.pt"
    torch.save({"state_dict": state}, path)  # a training checkpoint's layout is unwrapped
    with pytest.raises(ValueError) as err:
        archdsl.build("lenet5", weights=path)
    text = str(err.value)
    assert "1 tensor missing (conv1.bias)" in text and "extra.weight" in text
    assert "conv2.weight (file 3x3, model 16x6x5x5)" in text


def test_safetensors_and_ddp_prefixed_weights_load(tmp_path):
    from safetensors.torch import save_file

    state = perturbed_state(archdsl.build("lenet5"))
    save_file(state, tmp_path / "w.safetensors")
    torch.save({f"module.{k}": v for k, v in state.items()}, tmp_path / "ddp.pt")
    for path in (tmp_path / "w.safetensors", tmp_path / "ddp.pt"):
        net = archdsl.build("lenet5", weights=path)
        for k, v in net.state_dict().items():
            assert torch.equal(v, state[k]), (path, k)


# --- the command -------------------------------------------------------------------------------
@pytest.mark.slow
def test_compile_onnx_with_weights_on_the_command_line(cli, tmp_path, weights):
    path_weights, reference = weights["lenet5"]
    out = tmp_path / "lenet5.onnx"
    proc = cli("compile", "specs/lenet5.arch", "--format", "onnx", "--weights",
               str(path_weights), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert re.search(rf"wrote {re.escape(str(out))} \([\d.]+ KiB, ONNX; output main\)", proc.stderr)
    assert "checked with onnxruntime" in proc.stderr
    x = torch.randn(5, 1, 32, 32)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, reference(x).numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_the_output_suffix_chooses_the_format_and_the_seed_the_weights(cli, tmp_path):
    out = tmp_path / "lenet5.pt2"
    proc = cli("compile", "lenet5", "--seed", "3", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    program = torch.export.load(str(out))
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), archdsl.build("lenet5", seed=3).eval()(x))


@pytest.mark.parametrize("args, message", [
    (["--format", "onnx"], "give it a name with -o FILE"),
    (["--weights", "w.pt", "-o", "x.py"], "Python source carries no weights"),
    (["--optimize", "inference"], "Python source carries no weights"),
    (["--format", "export", "-o", "x.onnx"], "torch.export programs are .pt2 files"),
    (["--format", "onnx", "--weights", "missing.pt", "-o", "x.onnx"], "no weights file"),
    (["--emit", "ir", "--format", "onnx"], "does not combine"),
])
def test_compile_usage_errors_exit_2(cli, tmp_path, args, message):
    proc = cli("compile", "lenet5", *args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_missing_exporter_package_exits_3_saying_what_to_install(cli, tmp_path):
    poison = tmp_path / "poison" / "onnxscript"
    poison.mkdir(parents=True)
    (poison / "__init__.py").write_text("raise ImportError('no onnxscript here')\n")
    proc = cli("compile", "lenet5", "-o", str(tmp_path / "x.onnx"),
               env={"PYTHONPATH": str(poison.parent)})
    assert proc.returncode == 3, proc.stderr
    assert "pip install 'archdsl[export]'" in proc.stderr and "Traceback" not in proc.stderr
