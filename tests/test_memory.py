"""The training memory estimate: saved tensors against what autograd really keeps
(`saved_tensors_hooks`, each storage once, parameters and buffers left out), and the training
figure's parts (weights, gradients, optimizer state) in the API, the JSON and the table."""

from __future__ import annotations

import json

import pytest
import torch
from autograd_saved import measure_saved_bytes

import archdsl

# One or two layer kinds each, so a rule that drifts from torch names itself. The catalog's rules
# match torch 2.13 on CPU exactly; the issue asks for 10% on whole models.
OP_SPECS = {
    "conv-bn-relu-pools": "Conv(8, 3, p=1) - BN - ReLU - MPool - Conv(8, 3) - ReLU - APool - FC",
    "no-bn-relu-fc": "Conv(8, 3) - ReLU - Conv(8, 3, s=2) - ReLU - FC(32) - ReLU - FC",
    "dropout-softmax": "Conv(8, 3) - ReLU - FC(32) - ReLU - Dropout(0.5) - FC - SM",
    "dropout-zero": "Conv(8, 3) - ReLU - Dropout(0) - FC",
    "lrn": "Conv(8, 3) - ReLU - LRN - MPool(3, s=2) - FC",
    "smooth-activations": "Conv(8, 3) - Tanh - Conv(8, 3) - Sigmoid - Conv(8, 3) - GELU - "
                          "Conv(8, 3) - ELU - Conv(8, 3) - LeakyReLU(0.1) - FC",
    # torchvision's modern activations keep their input; in place, a copy autograd takes first
    "modern-activations": "Conv(8, 3) - BN - ReLU6 - Conv(8, 3) - BN - Hardswish - Conv(8, 1) - "
                          "SiLU - Conv(8, 1) - BN - Hardsigmoid - Mish - PReLU(8) - "
                          "Swish(inplace=false) - PReLU - FC",
    # only the ReLU6 over the convolution runs in place: the others follow an activation
    "modern-activations-mostly-out-of-place": "Conv(8, 3) - ReLU6 - Mish - "
                                              "Hardswish(inplace=false) - Conv(8, 1) - "
                                              "Hardsigmoid(inplace=false) - SiLU - FC",
    "norms": "Conv(8, 3) - LN - Conv(8, 3) - GN(4) - Conv(8, 3) - IN - Conv(8, 3) - "
             "IN(affine=true) - ReLU - FC",
    "stochastic-pool": "Conv(8, 3) - ReLU - SPool(2) - Conv(8, 3) - ReLU - SPool(3, s=2) - FC",
    "adaptive-and-global": "Conv(8, 3) - ReLU - AdaptiveAPool(5) - Conv(8, 1) - GAP - Flatten - "
                           "FC",
    "residual-dense-slices": "Conv(8, 3, p=1) - Add[Conv(16, 3, s=2, p=1) - BN, Shortcut] - "
                             "ReLU - Concat[Id, Conv(8, 1) - ReLU] - Slice(4, 20) - ReLU - "
                             "Add[Slice(0, 8), Slice(8)] - GAP - FC",
    "depthwise-pointwise": "Conv(8, 3) - BN - ReLU - DWConv(3, s=2) - BN - ReLU - PWConv(16) - "
                           "BN - ReLU - GAP - FC",
    "relu-not-in-place": "Conv(8, 3) - BN - ReLU(inplace=false) - Conv(8, 3) - ReLU - FC",
    "bn-on-vectors": "Conv(8, 3) - ReLU - FC(32) - BN - ReLU - FC",
    # residual sums in place: over the BatchNorm's output (the first branch, then the second)
    "residual-adds-in-place": "Conv(8, 3, p=1) - BN - ReLU - Add[Conv(8, 3, p=1) - BN, Shortcut] "
                              "- ReLU - Add[Conv(8, 3, p=1) - ReLU, Conv(8, 1) - BN] - FC",
    # a gate times a map (squeeze-and-excitation) keeps both; over the model's input, which
    # needs no gradient, only the input (for the gate's gradient)
    "broadcast-mul": "Conv(8, 3) - ReLU - Mul[Id, GAP - Conv(2, 1) - ReLU - Conv(8, 1) - "
                     "Sigmoid] - Mul[Conv(8, 1), Id] - FC",
    "mul-over-the-input": "Mul[Id, AdaptiveAPool(1) - Conv(3, 1) - Hardsigmoid] - Conv(8, 3) - FC",
    # channels last: LayerNorm keeps its permuted input, a Linear its input (the permuted view
    # copied by matmul when not contiguous), LayerScale its input, StochasticDepth its noise
    "channels-last": "Conv(8, 3) - Permute(0, 2, 3, 1) - LN(eps=1e-6, dims=1) - "
                     "FC(16, flatten=false) - GELU - FC(8, flatten=false) - Permute(0, 3, 1, 2) - "
                     "LayerScale(0.1) - StochasticDepth(0.5) - Permute(0, 2, 3, 1) - "
                     "FC(4, flatten=false) - Permute(0, 3, 1, 2) - LN(dims=2) - "
                     "StochasticDepth(0.2, mode=batch) - StochasticDepth(0) - FC",
    "layernorm2d-shuffle": "Conv(8, 3) - LayerNorm2d(eps=1e-6) - ChannelShuffle(2) - Conv(8, 1) - "
                           "ChannelShuffle(1) - LN2d(affine=false) - ChannelShuffle(8) - "
                           "StochasticDepth(0.3, applied=false) - FC",
    "dropout-in-place": "Conv(8, 3) - ReLU - GAP - Flatten - Dropout(0.2, inplace=true) - FC",
    # U-Net's decoder: transposed convolutions keep their input as Conv does, interpolation
    # keeps nothing, and a cropped skip is a view that the concatenation copies
    "upsampling-and-cropped-skip": "Conv(8, 3) - ReLU - ConvT(8) - ReLU - Upsample(2) - "
                                   "Conv(8, 3) - Upsample(2, bilinear) - Conv(4, 3, s=4) - "
                                   "Concat(crop=true)[Id, MPool - ConvT(4, 2, s=2) - BN] - "
                                   "Upsample((2, 3), mode=bilinear, align_corners=true) - FC",
    # and not: one tensor taken twice, branches whose layers keep their outputs
    "adds-not-in-place": "Conv(8, 3, p=1) - BN - Add[Id, Id] - ReLU - "
                         "Add[Conv(8, 3, p=1) - Sigmoid, Conv(8, 3, p=1) - Tanh] - FC",
}


def saved_pair(model, batch: int, **build) -> tuple[int, int]:
    net = model.build(**build)
    x = torch.randn(batch, *model.input_shape)
    return model.saved_tensors().bytes(batch), measure_saved_bytes(net, x)


@pytest.mark.parametrize("name", list(OP_SPECS))
def test_each_layer_kind_keeps_what_the_catalog_says(name):
    model = archdsl.load(OP_SPECS[name], input="3x20x20", classes=10)
    for batch in (2, 3):  # BatchNorm on vectors needs two samples in training
        estimate, real = saved_pair(model, batch)
        assert estimate == real, (name, batch, estimate, real)


def test_an_in_place_add_shares_the_storage_of_the_branch_it_overwrites():
    model = archdsl.load("Conv(8, 3, p=1) - Add[Conv(8, 3, p=1) - BN, Conv(8, 1) - ReLU] - "
                         "ReLU - FC", input="3x20x20", classes=10)
    source = model.source()
    assert "out += x" in source and "nn.ReLU(inplace=True)" in source
    by_name = {n.name: n.key for n in model.layers()}
    saved = model.saved_tensors()
    # the last ReLU keeps the sum, which lives in bn1's storage (the 1x1 branch is a ReLU's)
    assert by_name["add1"] not in saved.by_layer
    assert saved.by_layer[by_name["bn1"]][0] == 8 * 20 * 20 * 4  # per sample, float32
    estimate, real = saved_pair(model, 2)
    assert estimate == real


def test_frozen_layers_at_the_start_keep_nothing():
    spec = "Conv:a(8, 3) - BN:b - ReLU - Conv:c(8, 3) - BN - ReLU - FC:d(32) - ReLU - FC"
    trained = archdsl.load(spec, input="3x20x20", classes=10)
    frozen = archdsl.load(spec, input="3x20x20", classes=10, freeze=["a", "b", "d"])
    for model in (trained, frozen):
        estimate, real = saved_pair(model, 2)
        assert estimate == real
    assert frozen.saved_tensors().bytes(2) < trained.saved_tensors().bytes(2)


def small_zoo() -> list[str]:
    """Zoo models cheap enough for CI (the benchmark measures them all)."""
    out = []
    for name in archdsl.zoo():
        totals = archdsl.load(name).totals
        if totals.params < 14_000_000 and totals.macs < 2_000_000_000:
            out.append(name)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", small_zoo())
def test_zoo_model_estimate_within_ten_percent_of_autograd(name):
    model = archdsl.load(name)
    net = model.build()
    for batch in (1, 8):
        estimate = model.saved_tensors().bytes(batch)
        real = measure_saved_bytes(net, torch.randn(batch, *model.input_shape))
        assert abs(estimate - real) <= 0.10 * real, (name, batch, estimate, real)


def test_saved_bytes_is_its_own_figure_beside_the_textbook_activations():
    summary = archdsl.load("resnet50").summary(batch=8)
    # measured on torch 2.13 CPU: 86,121,984 and 687,488,512 bytes (the reference,
    # 86.3 MB and 687.7 MB, is 212,480 bytes higher: two more float32 per BatchNorm channel)
    assert summary["saved_bytes"] == 86_121_984
    assert summary["batch_saved_bytes"] == 687_488_512
    assert summary["activation_bytes"] != summary["saved_bytes"]
    layers = summary["layers"]
    input_bytes = 3 * 224 * 224 * 4 * 8  # conv1 keeps the input batch
    assert sum(layer["saved_bytes"] for layer in layers) + input_bytes == 687_488_512


@pytest.mark.parametrize("optimizer, states", [("sgd", 0), ("momentum", 1), ("adam", 2)])
def test_training_memory_adds_weights_gradients_and_optimizer_state(optimizer, states):
    model = archdsl.load("resnet18", freeze=["conv1", "bn1", "layer1"])
    t = model.totals
    mem = model.training_memory(batch=4, optimizer=optimizer)
    assert mem.weights == 4 * t.params and mem.gradients == 4 * t.trainable
    assert mem.optimizer_state == states * 4 * t.trainable
    assert mem.buffers == 4 * t.buffers
    assert mem.saved == model.saved_tensors().bytes(4)
    assert mem.total == mem.weights + mem.gradients + mem.optimizer_state + mem.saved + \
        mem.buffers
    half = model.training_memory(batch=4, dtype="float16", optimizer=optimizer)
    assert half.weights == mem.weights // 2


def test_summary_cli_takes_an_optimizer(cli):
    result = cli("summary", "lenet5", "--json", "--batch", "16", "--optimizer", "adam")
    assert result.returncode == 0, result.stderr
    mem = json.loads(result.stdout)["training_memory"]
    assert mem["optimizer"] == "adam" and mem["batch"] == 16
    assert mem["optimizer_bytes"] == 2 * mem["gradient_bytes"] > 0
    table = cli("summary", "lenet5", "--batch", "16", "--optimizer", "momentum")
    assert "Training memory (momentum, batch 16):" in table.stdout
    assert "Saved for backward (float32):" in table.stdout
    bad = cli("summary", "lenet5", "--optimizer", "lbfgs")
    assert bad.returncode == 2 and "--optimizer" in bad.stderr


def test_measuring_frees_the_activations_it_saw():
    # a pack hook that returned a saved output as is kept it with its grad_fn: a cycle through
    # the graph that nothing freed (24 GB gone after the zoo in the memory benchmark)
    import gc
    import weakref

    model = archdsl.load("Conv(8, 3) - ReLU - Conv(8, 3) - ReLU - FC", input="3x20x20",
                         classes=10)
    net = model.build()
    outputs = []
    for layer in net.modules():
        if not list(layer.children()):
            layer.register_forward_hook(lambda m, i, o: outputs.append(weakref.ref(o)))
    measure_saved_bytes(net, torch.randn(2, *model.input_shape))
    gc.collect()
    assert outputs and all(ref() is None for ref in outputs)
