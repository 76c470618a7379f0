"""What torchvision's modern builders need from blocks: the block's input channels, conditions,
`Seq[...]` and sequential blocks (names numbered at every depth), the copy index `i`, hyphenated
module names, and a labelled group after `-`."""

from __future__ import annotations

import importlib.util

import pytest
import torch

import archdsl
from archdsl.diagnostics import ArchError

INVERTED = """
block ConvBNReLU(c, k=3, s=1, g=1) {
  Seq[ Conv(c, k, s=s, p=(k - 1) // 2, g=g) - BN - ReLU6 ]
}
block InvertedResidual(c, s, t, hidden=in_channels * t) {
  Add(when=s == 1 and in_channels == c)[
    conv: [ ConvBNReLU(hidden, 1, when=t != 1)
            ConvBNReLU(hidden, s=s, g=hidden)
            Conv(c, 1) - BN ],
    Id ]
}
model M {
  input: 3x16x16
  classes: 10
  features: [ ConvBNReLU(8, s=2) - InvertedResidual(8, 1, 1) - InvertedResidual(12, 2, 6)
              InvertedResidual(12, 1, 6) ]
  GAP - classifier: [ Dropout(0.2) - FC(classes) ]
}
"""


class HandWritten(torch.nn.Module):
    """The same network as INVERTED, written out in PyTorch as torchvision would."""

    def __init__(self):
        super().__init__()
        nn = torch.nn

        def cbr(i, o, k=3, s=1, g=1):
            return nn.Sequential(nn.Conv2d(i, o, k, s, (k - 1) // 2, groups=g, bias=False),
                                 nn.BatchNorm2d(o), nn.ReLU6(inplace=True))

        class IR(nn.Module):
            def __init__(self, i, o, s, t):
                super().__init__()
                h = i * t
                layers = ([cbr(i, h, 1)] if t != 1 else []) + [
                    cbr(h, h, s=s, g=h), nn.Conv2d(h, o, 1, bias=False), nn.BatchNorm2d(o)]
                self.conv = nn.Sequential(*layers)
                self.res = s == 1 and i == o

            def forward(self, x):
                return x + self.conv(x) if self.res else self.conv(x)

        self.features = nn.Sequential(cbr(3, 8, s=2), IR(8, 8, 1, 1), IR(8, 12, 2, 6),
                                      IR(12, 12, 1, 6))
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(12, 10))

    def forward(self, x):
        x = self.features(x).mean((2, 3))
        return self.classifier(x)


def _randomised(net: torch.nn.Module) -> torch.nn.Module:
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand(tensor.shape, generator=g) + 0.5 if "running_var" in name
                             else torch.randn(tensor.shape, generator=g) * 0.5)
    return net.eval()


def test_in_channels_when_and_sequential_blocks_give_torchvisions_structure():
    net = archdsl.build(INVERTED)
    ref = _randomised(HandWritten())
    assert list(net.state_dict()) == list(ref.state_dict())
    assert "features.1.conv.0.0.weight" in net.state_dict()  # t=1: no expansion layer
    assert "features.2.conv.0.0.weight" in net.state_dict()  # t=6: expansion first
    net.load_state_dict(ref.state_dict(), strict=True)
    net.eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(net(x), ref(x))


def test_the_residual_is_there_only_where_the_condition_holds():
    model = archdsl.load(INVERTED)
    merges = [n.name for n in model.layers() if n.op.name == "Add"]
    assert merges == ["features.1.add1", "features.3.add1"]  # stride 1, channels kept


def test_a_sequential_block_is_an_nn_sequential_in_generated_code(tmp_path):
    source = archdsl.compile(INVERTED)
    assert "class ConvBNReLU(nn.Sequential):" in source
    assert 'self.add_module("0", nn.Conv2d(in_channels, c, k' in source
    assert "hidden = in_channels * t" in source  # a default reading the input's channels
    path = tmp_path / "generated_m.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("generated_m", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = module.M()
    assert list(net.state_dict()) == list(archdsl.build(INVERTED).state_dict())
    scripted = torch.jit.script(net.eval())
    assert scripted(torch.randn(1, 3, 16, 16)).shape == (1, 10)


def test_in_channels_follows_each_call_and_keeps_replay_exact():
    text = """
block Widen(t) { Conv(in_channels * t, 1) }
model W { input: 3x8x8
  Widen(2) - Widen(2) - Widen(2) }
"""
    widths = [n.ann.out_shape[0] for n in archdsl.load(text).layers()]
    assert widths == [6, 12, 24]


def test_the_copy_index_is_in_scope_in_a_repeat():
    model = archdsl.load('Conv(8 + 4 * i, 3, p=1) x 3 - [ReLU - Dropout(0.1 * (i + 1))] x 2',
                         input="3x8x8")
    widths = [n.ann.out_shape[0] for n in model.layers() if n.op.name == "Conv"]
    rates = [n.ann.params.p for n in model.layers() if n.op.name == "Dropout"]
    assert widths == [8, 12, 16]
    assert rates == pytest.approx([0.1, 0.2])


def test_the_copy_index_reaches_generated_block_classes():
    """A repeat inside a block reads `i` in a layer's and in a block call's arguments, so the
    generated class (not only the elaborated graph) gets each copy's own values."""
    text = """
block Rated(p) { Dropout(p) }
block Stage(n, first, total) {
  Seq[ [ Conv(4 + 2 * i, 3, p=1) - Rated(0.5 * (first + i) / (total - 1)) ] x n ]
  Seq[ Dropout(0.1 * (i + 1)) ] x 2
}
model S { input: 3x8x8
  Stage(2, 0, 4) - Stage(2, 2, 4) }
"""
    net = archdsl.build(text)
    rates = [round(m.p, 6) for m in net.modules() if isinstance(m, torch.nn.Dropout)]
    assert rates == [0.0, round(0.5 / 3, 6), 0.1, 0.2, round(1 / 3, 6), 0.5, 0.1, 0.2]
    widths = [m.out_channels for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert widths == [4, 6, 4, 6]
    # inside a block, each copy of a repeat gets its own arguments in the generated class too
    text = """
block Down(c, s=1) { Conv:conv(c, 3, s=s, p=1) - ReLU }
block Stage(c, n) { Down(c, s=2 if i == 0 else 1) x n as "down{i}" - Conv(c + i, 1) x 2 }
model N { input: 3x16x16
  Stage:stage(4, 3) }
"""
    net = archdsl.build(text)
    strides = [net.stage.get_submodule(f"down{k}").conv.stride for k in range(3)]
    assert strides == [(2, 2), (1, 1), (1, 1)]
    assert [m.out_channels for m in net.stage.modules()
            if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1)] == [4, 5]
    assert net(torch.randn(1, 3, 16, 16)).shape == (1, 5, 8, 8)


def test_hyphenated_names_are_registered_as_torchvision_names_them():
    text = """
block RB(c, s=1) { Add[ f: [ Conv:a(c, 3, s=s, p=1) - BN ], Shortcut:proj ] - ReLU }
model R { input: 3x16x16
  classes: 5
  trunk_output: [ block1: RB(8, 2) x 2 as "block1-{i}" ]
  GAP - FC:fc(classes) }
"""
    net = archdsl.build(text)
    assert "trunk_output.block1.block1-0.f.a.weight" in net.state_dict()
    assert "trunk_output.block1.block1-1.f.a.weight" in net.state_dict()
    assert net(torch.randn(1, 3, 16, 16)).shape == (1, 5)


def test_a_hyphenated_label_inside_a_block_is_added_with_add_module():
    text = """
block B(c) { Conv:"conv-a"(c, 3, p=1) - ReLU }
model N { input: 3x8x8
  B(4) - B(4) }
"""
    source = archdsl.compile(text)
    assert 'self.add_module("conv-a", nn.Conv2d(' in source
    assert 'self.get_submodule("conv-a")(x)' in source
    assert "getattr" not in source  # tests/test_safety.py audits generated code for it
    assert "b1.conv-a.weight" in archdsl.build(text).state_dict()


def test_a_labelled_group_may_follow_a_dash():
    net = archdsl.build("Conv(8, 3) - GAP - classifier: [ Dropout(0.2) - FC(3) ]",
                        input="3x8x8")
    assert list(net.state_dict()) == ["conv1.weight", "conv1.bias", "classifier.1.weight",
                                      "classifier.1.bias"]


def _codes(text: str, **kwargs) -> list[str]:
    with pytest.raises(ArchError) as info:
        archdsl.load(text, **kwargs)
    return [d.code for d in info.value.diagnostics]


def test_mistakes_with_the_new_constructs_are_diagnostics():
    assert _codes("block B(in_channels) { Conv(in_channels, 1) }\nmodel M { input: 3x8x8\n"
                  "B(3) }") == ["bad-name"]
    assert _codes("Conv(8, 3, when=\"yes\")", input="3x8x8") == ["bad-argument"]
    assert _codes("Conv(8, 3, when=maybe)", input="3x8x8") == ["unknown-name"]
    assert _codes("Conv(in_channels, 3)", input="3x8x8") == ["unknown-name"]
    assert _codes("Seq[Conv(8, 3), ReLU]", input="3x8x8") == ["branches-without-merge"]


def test_the_copy_index_reaches_nested_groups_and_blocks_in_generated_classes():
    # inside a block's class the copies of `x N` are written out, each with its own index:
    # a layer's argument, a group's layer and a nested block's argument (EfficientNet's stage)
    text = """
block Unit(c, s=1, p=0.0) { Conv:conv(c, 3, s=s, p=1) - Dropout:drop(p) }
block Stage(c, n, s) {
  Seq[ Unit(c, s=s if i == 0 else 1, p=0.1 * (i + 1)) x n ]
}
block Widen(c) { Seq[ [ Conv(c + 4 * i, 1) - Seq[ ReLU - Dropout(0.05 * i) ] ] x 2 ] }
model M { input: 3x16x16
  classes: 5
  features: [ Stage(8, 3, 2) - Widen(4) ]
  GAP - FC(classes) }
"""
    net = archdsl.build(text)
    strides = [net.features[0][k].conv.stride for k in range(3)]
    rates = [m.p for m in net.modules() if isinstance(m, torch.nn.Dropout)]
    assert strides == [(2, 2), (1, 1), (1, 1)]
    widths = [net.features[1][k].out_channels for k in (0, 2)]
    assert rates == pytest.approx([0.1, 0.2, 0.3, 0.0, 0.05])
    assert widths == [4, 8]
    assert net(torch.randn(1, 3, 16, 16)).shape == (1, 5)


def test_layers_with_when_bind_their_own_arguments_however_often_they_repeat():
    """A layer written with `when=` is bound without it; binding memoises on the layer, so the
    layer without `when` is one object per written layer, not a new one per call (a recycled
    id once gave a block call another call's arguments: test_replay's EfficientNetV2-L case
    failed to load; this checks the same binding on a small scale)."""
    text = """
block Unit(c, k) { Conv(c, k, p=k // 2) }
block B(t) {
  Conv(8 * t, 1, when=t > 0) - Conv(8 * t, 3, p=1, when=t > 0)
  Unit(4 * t, 1, when=t > 0) - Unit(4 * t, 5, when=t > 0)
}
model M { input: 3x8x8
  [ B(1) - B(2) ] x 10 }
"""
    convs = [(n.ann.params.kernel, n.ann.out_shape[0]) for n in archdsl.load(text).layers()]
    expected = [(1, 8), (3, 8), (1, 4), (5, 4), (1, 16), (3, 16), (1, 8), (5, 8)] * 10
    assert [(k if isinstance(k, int) else k[0], c) for k, c in convs] == expected


def test_a_model_whose_body_is_one_seq_is_an_nn_sequential():
    model = archdsl.load("model M {\n  input: 3x16x16\n  classes: 10\n"
                         "  Seq[ Conv(4, 3) - BN - ReLU - GAP - FC(classes) ]\n}\n")
    net = model.build()
    assert isinstance(net, torch.nn.Sequential)
    assert list(net.state_dict())[:3] == ["0.weight", "1.weight", "1.bias"]
    assert "(nn.Sequential):" in model.source()
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    labelled = archdsl.load("model M {\n  input: 3x16x16\n  Seq:body[ Conv(4, 3) ]\n}\n").build()
    assert not isinstance(labelled, torch.nn.Sequential)  # a labelled Seq is a child
    assert list(labelled.state_dict())[0] == "body.0.weight"
