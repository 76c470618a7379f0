"""The importer on forwards that branch or crop on their input's sizes (issue 18).

torch.fx cannot trace `if x.shape[-1] % 2:` (a proxy used as a bool); the importer then traces
the module again knowing its real input, so sizes are numbers and the graph is the one this
input size takes. A branch on the values stays opaque, with both tracers' reasons.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import archdsl
from archdsl.importer import spec_from_torch


class OddPad(nn.Module):
    """Pads an odd-sized map to even before a stride-2 convolution."""

    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 2, stride=2)

    def forward(self, x):
        if x.shape[-1] % 2:
            x = F.pad(x, (0, 1, 0, 1))
        return torch.relu(self.conv(x))


class Crop(nn.Module):
    """U-Net's unpadded skip: the encoder's map cropped, centred, to the decoder's size."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Conv2d(4, 4, 3)
        self.down = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(4, 8, 3), nn.ReLU())
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.dec = nn.Conv2d(8, 4, 3)

    def forward(self, x):
        e = self.enc(x)
        d = self.up(self.down(e))
        if e.size(2) != d.size(2):
            h, w = d.shape[-2:]
            dy, dx = (e.size(2) - h) // 2, (e.size(3) - w) // 2
            e = e[:, :, dy:dy + h, dx:dx + w]
        return self.dec(torch.cat([e, d], dim=1))


class Up(nn.Module):
    """Interpolates to a size computed from the input's (a whole multiple): an Upsample."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        h, w = x.shape[-2:]
        return F.interpolate(self.conv(x), size=(2 * h, 2 * w), mode="bilinear")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 2)
        self.pad1 = OddPad(4)  # 19x19: padded to 20x20
        self.crop = Crop()     # 10x10 in, the skip 8x8 cropped to 6x6
        self.pad2 = OddPad(4)  # 4x4: not padded
        self.up = Up()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.up(self.pad2(self.crop(self.pad1(self.stem(x)))))
        return self.fc(x.mean((2, 3)))


def test_branches_and_crops_on_sizes_import_and_round_trip():
    model = Net().eval()
    spec = spec_from_torch(model, (3, 20, 20))
    assert spec.opaque == (), spec.text
    # one class, two forms: the pad is a switch of the block
    assert "Pad(right=1, bottom=1, when=has_pad)" in spec.text, spec.text
    assert "OddPad:pad1(true)" in spec.text and "Concat(crop=true)" in spec.text, spec.text
    assert 'Conv:conv(4, 1) - Upsample(mode="bilinear")' in spec.text, spec.text  # scale 2
    net = archdsl.build(spec.text)
    net.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, 20, 20)
    with torch.no_grad():
        assert torch.allclose(model(x), net.eval()(x), atol=1e-6), spec.text


class ValueIf(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return x


def test_a_branch_on_values_stays_opaque_with_both_reasons():
    (layer,) = spec_from_torch(nn.Sequential(nn.Conv2d(3, 4, 1), ValueIf()), (3, 4, 4)).opaque
    assert layer.name == "1"
    assert "torch.fx cannot trace it" in layer.why and "sizes known" in layer.why, layer.why


class FunctionalNorm(nn.Module):
    """Updates its running mean when traced in training mode, as the importer traces."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.zeros(3))
        self.register_buffer("var", torch.ones(3))

    def forward(self, x):
        if x.shape[-1] % 2:
            x = F.pad(x, (0, 1, 0, 1))
        return F.batch_norm(x, self.mean, self.var, training=self.training)


def test_tracing_with_sizes_leaves_the_module_as_it_was():
    model = nn.Sequential(nn.Conv2d(3, 3, 1), FunctionalNorm()).train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    spec_from_torch(model, (3, 7, 7))
    assert model.training
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())


class ToSize(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.size = size

    def forward(self, x):
        return F.interpolate(x, size=self.size)


def test_interpolation_to_a_size_is_an_upsample_only_for_a_whole_factor():
    spec = spec_from_torch(nn.Sequential(nn.Conv2d(3, 4, 1), ToSize((8, 12))), (3, 4, 4))
    assert spec.opaque == () and "Upsample((2, 3))" in spec.text, spec.text
    (layer,) = spec_from_torch(nn.Sequential(nn.Conv2d(3, 4, 1), ToSize((7, 7))), (3, 4, 4)).opaque
    assert "interpolate" in layer.why, layer.why


class PadToSkip(nn.Module):
    """A padded U-Net's decoder step as often written: the upsampled map padded to the skip's
    size (by nothing where the sizes match), then concatenated after it."""

    def __init__(self):
        super().__init__()
        self.down = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding=1))
        self.up = nn.ConvTranspose2d(4, 4, 2, stride=2)
        self.conv = nn.Conv2d(8, 4, 3, padding=1)

    def forward(self, x):
        y = self.up(self.down(x))
        dy, dx = x.size(2) - y.size(2), x.size(3) - y.size(3)
        y = F.pad(y, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([x, y], dim=1))


class TwoSteps(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.a, self.b = nn.Conv2d(3, 4, 1), PadToSkip(), PadToSkip()

    def forward(self, x):
        return self.b(self.a(self.stem(x)))


def test_a_pad_to_the_skips_size_is_a_pad_or_nothing():
    model = TwoSteps().eval()
    spec = spec_from_torch(model, (3, 9, 9))  # 9x9: padded by one; then 9x9 again
    assert spec.opaque == () and "Pad(right=1, bottom=1" in spec.text, spec.text
    spec = spec_from_torch(model, (3, 8, 8))
    assert spec.opaque == () and "Pad(" not in spec.text, spec.text
    net = archdsl.build(spec.text)
    net.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(model(x), net.eval()(x), atol=1e-6), spec.text
