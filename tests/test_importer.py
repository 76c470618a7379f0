"""The importer (issue 18): a torch model to a spec a person would write, and back exactly.

One small model per torchvision family round-trips here: `spec_from_torch` -> text ->
`archdsl.build(text)`, which loads the original's state_dict with strict=True, gives the same
eval outputs (weights and BatchNorm statistics randomised first, so that a wrong network
shows) and has the same torch.nn settings (eps, momentum, inplace, dropout rates) under each
name. All 68 classifiers: `python scripts/import_zoo.py`.
"""

from __future__ import annotations

import re

import pytest
import torch
import torchvision
from randomised import randomise
from torch import nn
from torchvision.models import densenet, resnet

import archdsl
from archdsl.importer import ImportedSpec, spec_from_torch
from conftest import ROOT


def settings(model: nn.Module) -> dict[str, str]:
    return {n: f"{type(m).__name__}({m.extra_repr()})" for n, m in model.named_modules()
            if next(m.children(), None) is None and type(m).__module__.startswith("torch.nn.")}


def round_trip(model: nn.Module, size: int) -> ImportedSpec:
    spec = spec_from_torch(model, (3, size, size), origin="test")
    net = archdsl.build(spec.text)
    randomise(model, torch.Generator().manual_seed(1), size)
    net.load_state_dict(model.state_dict(), strict=True)
    net.eval()
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        a, b = model(x), net(x)
    assert (a - b).abs().max() <= 1e-5 * a.abs().max(), spec.text
    ours = settings(net)
    for name, setting in settings(model).items():
        if name in ours:
            assert ours[name] == setting, name
    assert spec.opaque == ()
    return spec


def tv(name: str, **kwargs) -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.get_model(name, weights=None, **kwargs)


# one small model per family (CPU seconds: the big ones are in scripts/import_zoo.py)
FAMILIES = {
    "resnet": lambda: tv("resnet18", num_classes=10),
    "resnext": lambda: resnet.ResNet(resnet.Bottleneck, [1, 1, 1, 1], groups=4,
                                     width_per_group=8, num_classes=10),
    "alexnet": lambda: tv("alexnet", num_classes=10),
    "squeezenet": lambda: tv("squeezenet1_1", num_classes=10),
    "mobilenet_v2": lambda: tv("mobilenet_v2", width_mult=0.5, num_classes=10),
    "mobilenet_v3": lambda: tv("mobilenet_v3_small", num_classes=10),
    "efficientnet": lambda: tv("efficientnet_b0", num_classes=10),
    "efficientnet_v2": lambda: tv("efficientnet_v2_s", num_classes=10),
    "regnet": lambda: tv("regnet_y_400mf", num_classes=10),
    "mnasnet": lambda: tv("mnasnet0_5", num_classes=10),
    "densenet": lambda: densenet.DenseNet(8, (2, 3, 2, 2), 16, num_classes=10),
    "convnext": lambda: tv("convnext_tiny", num_classes=10),
    "shufflenet": lambda: tv("shufflenet_v2_x0_5", num_classes=10),
    "googlenet": lambda: tv("googlenet", num_classes=10, aux_logits=True, init_weights=True),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_family_round_trips(family):
    round_trip(FAMILIES[family](), 64)


def test_vgg_round_trips():
    # VGG's classifier alone is 100M parameters: the smallest, with a narrow classifier
    from torchvision.models import vgg

    model = vgg.VGG(vgg.make_layers(vgg.cfgs["A"], batch_norm=True), num_classes=10)
    model.classifier[0] = nn.Linear(512 * 7 * 7, 64)
    model.classifier[3] = nn.Linear(64, 64)
    model.classifier[6] = nn.Linear(64, 10)
    round_trip(model, 32)


@pytest.mark.slow
def test_inception_v3_round_trips():
    round_trip(tv("inception_v3", num_classes=10, aux_logits=True, init_weights=False), 299)


def blocks(text: str) -> list[str]:
    return re.findall(r"^block (\w+)", text, re.M)


def zoo_lines(name: str) -> int:
    """The hand-written spec's lines, with the block libraries it uses."""
    path = ROOT / "specs" / f"{name}.arch"
    text = path.read_text()
    total = len(text.splitlines())
    for used in re.findall(r'^use "(.+)"', text, re.M):
        total += len((path.parent / used).read_text().splitlines())
    return total


def test_resnet50_reads_like_the_zoo():
    text = spec_from_torch(tv("resnet50"), (3, 64, 64)).text
    assert len(text.splitlines()) <= 45
    assert blocks(text) == ["Bottleneck"]
    assert "layer2: Bottleneck(128, stride=2) - Bottleneck(128) x 3" in text
    assert "Shortcut:downsample" in text


def test_efficientnet_b0_has_one_mbconv_block():
    text = spec_from_torch(tv("efficientnet_b0"), (3, 64, 64)).text
    assert blocks(text).count("MBConv") == 1
    assert "Add(when=use_res_connect)" in text


@pytest.mark.parametrize("name", ["resnet50", "efficientnet_b0", "mobilenet_v2", "regnet_y_400mf",
                                  "shufflenet_v2_x1_0", "convnext_tiny"])
def test_imported_length_against_the_zoo(name, capsys):
    """The imported spec is longer than the hand-written one (which computes widths and
    depths from the papers' formulas), but within a few times its length."""
    imported = len(spec_from_torch(tv(name), (3, 64, 64)).text.splitlines())
    zoo = zoo_lines(name)
    with capsys.disabled():
        print(f"\n{name}: imported {imported} lines, zoo {zoo} (with its block files), "
              f"difference {imported - zoo:+d}")
    assert imported <= 3 * zoo


def test_header_and_names():
    text = spec_from_torch(tv("resnet18"), (3, 32, 32), origin="torchvision.models:resnet18",
                           name="ResNet18").text
    assert text.startswith("# Imported from torchvision.models:resnet18")
    assert "model ResNet18 {" in text and "input: 3x32x32" in text and "classes: 1000" in text


def test_aux_heads_are_side_outputs():
    text = spec_from_torch(tv("googlenet", aux_logits=True, init_weights=True), (3, 64, 64)).text
    assert "outputs: [main, aux2, aux1]" in text
    assert re.search(r"Aux:aux1\[ InceptionAux", text)


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        return self.conv(x) if x.sum() > 0 else x  # control flow on values: fx cannot trace


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3)
        self.odd = DataDependent()
        self.fc = nn.Linear(4 * 6 * 6, 2)

    def forward(self, x):
        return self.fc(torch.flatten(self.odd(self.stem(x)), 1))


def test_what_cannot_be_expressed_is_opaque():
    spec = spec_from_torch(Net(), (3, 8, 8))
    (layer,) = spec.opaque
    assert layer.name == "odd" and layer.type.endswith("test_importer.DataDependent")
    assert "torch.fx" in layer.why
    assert re.search(r'Opaque:odd\(out=\(4, 6, 6\), params=148, type="[\w.]+DataDependent", '
                     r'why="[^"]+"\)', spec.text)


class Kinds(nn.Module):
    """Layer kinds and functions the torchvision models do not use."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=2, dilation=2, bias=False)
        self.gn = nn.GroupNorm(4, 8, eps=1e-3)
        self.act = nn.LeakyReLU(0.2)
        self.lrn = nn.LocalResponseNorm(3, alpha=2e-4)
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.prelu = nn.PReLU(8)
        self.body = nn.Sequential(nn.Conv2d(8, 8, 1), nn.ELU(0.5), nn.Tanh())
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.pool(self.lrn(self.act(self.gn(self.conv(x)))))
        x = torch.nn.functional.max_pool2d(self.prelu(x), 2, ceil_mode=True)
        x = torch.sigmoid(self.body(x)) * x
        return self.fc(x.mean((2, 3)))


def test_other_kinds_round_trip():
    spec = round_trip(Kinds(), 16)
    for text in ("GN:gn(4, eps=0.001)", "LeakyReLU:act(0.2)", "LRN:lrn(3, alpha=0.0002, k=1.0)",
                 "count_include_pad=false", "PReLU:prelu(8)", "MPool(2, ceil=true)",
                 "Conv:conv(8, 3, p=2, d=2, bias=false)"):
        assert text in spec.text, text


class LeNet(nn.Module):
    """A model as people write them by hand: functional activations, `view` to flatten."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2 = nn.Linear(16 * 4 * 4, 120), nn.Linear(120, 10)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.nn.functional.gelu(self.fc1(x.view(x.size(0), -1)))
        return torch.nn.functional.softmax(self.fc2(x), dim=1)


def test_hand_written_model_round_trips():
    model = LeNet()
    spec = spec_from_torch(model, (1, 28, 28), name="LeNet")
    net = archdsl.build(spec.text)
    net.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 1, 28, 28)
    assert torch.allclose(model(x), net.eval()(x), atol=1e-6), spec.text
    assert "Conv:conv1(6, 5) - ReLU - MPool(2)" in spec.text and "SM" in spec.text


class TinyUNet(nn.Module):
    """A long skip connection (the encoder's map joined into the decoder) and upsampling."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True))
        self.mid = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.smooth = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.head = nn.Conv2d(16, 4, 1)

    def forward(self, x):
        e = torch.nn.functional.dropout(self.enc(x), 0.1, self.training)
        y = self.smooth(self.head(torch.cat([e, self.up(self.mid(e))], dim=1)))
        return torch.nn.functional.interpolate(y, scale_factor=2)


def test_long_skip_connection_round_trips():
    model = TinyUNet().eval()
    spec = spec_from_torch(model, (3, 16, 16))
    net = archdsl.build(spec.text)
    net.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, 16, 16)
    assert torch.allclose(model(x), net.eval()(x), atol=1e-6), spec.text
    assert re.search(r"Concat\[ Id,\s+mid: \[ MPool\(2\)", spec.text) and "ConvT:up(8, 2" in spec.text
    assert "Dropout(0.1)" in spec.text and 'Upsample:smooth(mode="bilinear") - Upsample' in spec.text


def test_the_module_is_left_as_it_was():
    model = tv("resnet18", num_classes=10)
    model.train()
    model.layer1[0].bn1.eval()  # a frozen BatchNorm stays frozen
    state = {k: v.clone() for k, v in model.state_dict().items()}
    spec_from_torch(model, (3, 32, 32))
    assert model.training and not model.layer1[0].bn1.training and model.layer1[0].bn2.training
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())


def test_transform_input_is_the_setting():
    model = tv("googlenet", num_classes=10, aux_logits=False, transform_input=True,
               init_weights=False)
    spec = round_trip(model, 64)
    assert "transform_input: true" in spec.text and model.transform_input


def test_opaque_layers_are_named_as_in_the_model():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(nn.ReLU(), DataDependent()))
    (layer,) = spec_from_torch(model, (3, 8, 8)).opaque
    assert layer.name == "1.1"


class MakesTensor(nn.Module):
    def forward(self, x):
        return x + torch.ones(1, x.shape[1], 1, 1)  # a tensor from nothing: not a branch


def test_a_tensor_made_in_forward_is_opaque():
    (layer,) = spec_from_torch(nn.Sequential(nn.Conv2d(3, 4, 1), MakesTensor()), (3, 4, 4)).opaque
    assert layer.name == "1" and "of its own" in layer.why, layer.why


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        return torch.relu(x + self.bn(self.conv(x)))


class _MySequential(nn.Sequential):
    pass


@pytest.mark.parametrize("make", [
    lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10)),
    lambda: nn.Sequential(nn.Conv2d(3, 4, 1), _Residual(), _Residual()),  # a repeat inside
    lambda: _MySequential(nn.Conv2d(3, 4, 1), _Residual(), nn.ReLU()),
], ids=["plain", "repeated-blocks", "subclass"])
def test_a_model_that_is_a_sequential_keeps_its_numbered_names(make):
    """Its state_dict keys are `0.weight`, `1.conv.weight`...: the model is written `Seq[...]`,
    which makes the compiled model an nn.Sequential too."""
    spec = round_trip(make(), 16)
    assert re.search(r"^  Seq\[", spec.text, re.M), spec.text


def stochastic_depth_rates(model: nn.Module) -> dict[str, float]:
    return {name: m.p for name, m in model.named_modules()
            if type(m).__name__ == "StochasticDepth"}


@pytest.mark.parametrize("name", ["convnext_tiny", "efficientnet_b0"])
def test_rates_are_exact_to_the_bit(name):
    """torchvision computes its stochastic-depth rates (`0.2 * 3 / 16` = 0.037500000000000006):
    the spec writes that arithmetic, so each rate is the same float, and no long literal."""
    model = tv(name)
    text = spec_from_torch(model, (3, 64, 64)).text
    theirs, ours = stochastic_depth_rates(model), stochastic_depth_rates(archdsl.build(text))
    assert len(theirs) > 10 and theirs.keys() == ours.keys()
    assert [k for k in theirs if theirs[k] != ours[k]] == [], text
    for literal in re.findall(r"(?<![\w.])\d+\.\d+(?:e-?\d+)?", text):
        assert len(literal.split("e")[0].replace(".", "").lstrip("0")) <= 8, literal
    assert ("0.2 * (12 + i) / 16" if name == "efficientnet_b0" else "0.1 * (3 + i) / 17") in text


def test_a_rule_is_found_only_where_it_is_exact():
    from archdsl.importer.exact import find_rule, is_long

    rates = [0.2 * k / 16 for k in range(16)]
    assert find_rule(rates) == (0.2, 16)
    assert is_long(rates[3]) and not is_long(0.0125) and not is_long(1e-06)
    assert find_rule([0.1 * k / 17.0 for k in range(18)]) == (0.1, 17)
    assert find_rule([0.123456789]) is None


def block_heads(text: str) -> dict[str, list[str]]:
    """Each block's parameter names (the first block of a name)."""
    heads = {}
    for name, params in re.findall(r"^block (\w+)\(([^)]*)\)", text, re.M):
        heads.setdefault(name, [p.split("=")[0].strip() for p in params.split(",")])
    return heads


def test_parameters_are_named_as_the_module_names_them():
    """From an attribute the modules hold, else from what their constructor passes (MBConv's
    `expanded_channels`, ResNet's `width`, GoogLeNet's `ch3x3red`); never `c` or `out_channels2`."""
    efficientnet = block_heads(spec_from_torch(tv("efficientnet_b0"), (3, 64, 64)).text)
    assert efficientnet["MBConv"] == ["expanded_channels", "out_channels",
                                      "stochastic_depth_prob", "kernel", "stride",
                                      "use_res_connect"]
    assert efficientnet["SqueezeExcitation"] == ["squeeze_channels"]
    assert block_heads(spec_from_torch(tv("resnet50"), (3, 64, 64)).text)["Bottleneck"] == \
        ["width", "stride"]
    googlenet = spec_from_torch(tv("googlenet", init_weights=True), (3, 64, 64)).text
    assert block_heads(googlenet)["InceptionBlock"] == ["ch1x1", "ch3x3red", "ch3x3", "ch5x5red",
                                                        "ch5x5", "pool_proj"]
    for text in (googlenet, spec_from_torch(tv("mobilenet_v3_small"), (3, 64, 64)).text):
        for name, params in block_heads(text).items():
            assert not any(re.fullmatch(r"[a-z_]+\d", p) and p.rstrip("0123456789") in params
                           for p in params), (name, params)


class Widen(nn.Module):
    """An inner width its constructor names, and an attribute holding another width."""

    def __init__(self, c_in, c_out, hidden):
        super().__init__()
        self.out_channels = c_out
        self.expand = nn.Conv2d(c_in, hidden, 1)
        self.act = nn.ReLU()
        self.project = nn.Conv2d(hidden, c_out, 1)

    def forward(self, x):
        return self.project(self.act(self.expand(x)))


def test_a_width_is_named_from_the_constructor():
    model = nn.Sequential(Widen(3, 8, 16), Widen(8, 8, 32), Widen(8, 4, 8))
    text = spec_from_torch(model, (3, 8, 8)).text
    assert block_heads(text)["Widen"] == ["hidden", "out_channels"], text
    assert "Conv:expand(hidden, 1" in text and "Conv:project(out_channels, 1" in text
