"""U-Net (specs/unet.arch) against a hand-written PyTorch U-Net of the same configuration, the
paper's feature-map sizes, and the upsampling kinds and the cropped skip it is made of."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import archdsl
from archdsl.diagnostics import ArchError

SPEC = "specs/unet.arch"


def double_conv(cin: int, c: int, pad: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, c, 3, padding=pad), nn.ReLU(inplace=True),
                         nn.Conv2d(c, c, 3, padding=pad), nn.ReLU(inplace=True))


def up_step(cin: int, c: int, mode: str) -> nn.Sequential:
    if mode == "conv":
        return nn.Sequential(nn.ConvTranspose2d(cin, c, 2, stride=2))
    return nn.Sequential(nn.Upsample(scale_factor=2, mode=mode), nn.Conv2d(cin, c, 1))


def center_crop(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    dh, dw = x.shape[2] - like.shape[2], x.shape[3] - like.shape[3]
    return x[:, :, dh // 2:dh // 2 + like.shape[2], dw // 2:dw // 2 + like.shape[3]]


class Scale(nn.Module):
    """One scale of the U, written the usual way: down, encode, (deeper scales, up), skip,
    decode. The deepest scale has no inner part."""

    def __init__(self, cin: int, c: int, depth: int, pad: int, mode: str, first=False):
        super().__init__()
        self.first = first
        if not first:
            self.down = nn.MaxPool2d(2)
        if depth == 0:
            self.conv = double_conv(cin, c, pad)
            return
        self.enc = double_conv(cin, c, pad)
        self.inner = Scale(c, 2 * c, depth - 1, pad, mode)
        self.up = up_step(2 * c, c, mode)
        self.dec = double_conv(2 * c, c, pad)

    def forward(self, x):
        if not self.first:
            x = self.down(x)
        if not hasattr(self, "enc"):
            return self.conv(x)
        skip = self.enc(x)
        up = self.up(self.inner(skip))
        return self.dec(torch.cat([center_crop(skip, up), up], 1))


class HandUNet(nn.Module):
    def __init__(self, channels: int, classes: int, pad: int, mode: str):
        super().__init__()
        top = Scale(channels, 64, 4, pad, mode, first=True)
        self.enc, self.inner, self.up, self.dec = top.enc, top.inner, top.up, top.dec
        self.head = nn.Conv2d(64, classes, 1)

    def forward(self, x):
        skip = self.enc(x)
        up = self.up(self.inner(skip))
        return self.head(self.dec(torch.cat([center_crop(skip, up), up], 1)))


@pytest.mark.parametrize("model, size, channels, pad, mode, out", [
    ("UNet", 188, 1, 0, "conv", 4),  # the smallest unpadded input whose every pooling is even
    ("UNetPadded", 64, 3, 1, "bilinear", 64),
])
def test_unet_equals_a_hand_written_pytorch_unet(model, size, channels, pad, mode, out):
    spec = archdsl.load(SPEC, model=model, input=f"{channels}x{size}x{size}")
    assert spec.output_shape == (2, out, out)
    ours = spec.build(seed=0)
    torch.manual_seed(1)
    theirs = HandUNet(channels, 2, pad, mode)
    assert sum(p.numel() for p in ours.parameters()) == \
        sum(p.numel() for p in theirs.parameters()) == spec.summary()['total_params']
    theirs.load_state_dict(ours.state_dict(), strict=True)
    ours.eval()
    theirs.eval()
    x = torch.randn(1, channels, size, size)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))


def test_summary_reproduces_the_papers_feature_map_sizes(cli):
    result = cli("summary", SPEC)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    # figure 1: 572 in; 568, 280, 136, 64 down the left; 28 at the bottom; 56 (cropped skip from
    # 64), 104, 200, 392 up the right; 388 out
    for shape in ("64x570x570", "64x568x568", "128x280x280", "256x136x136", "512x64x64",
                  "1024x28x28", "512x56x56", "1024x56x56", "512x52x52", "256x104x104",
                  "128x200x200", "64x392x392", "128x392x392", "64x388x388"):
        assert shape in text, shape
    assert "Output: main 2x388x388" in text
    assert "Parameters: 31,030,658" in text


def test_padded_unet_keeps_the_input_size(cli):
    result = cli("summary", SPEC, "--model", "UNetPadded")
    assert result.returncode == 0, result.stderr
    assert "Output: main 2x256x256" in result.stdout
    assert "Upsample" in result.stdout


@pytest.mark.parametrize("text, expected", [
    ("ConvT(8)", (8, 10, 12)),
    ("ConvT(8, 3, s=2, p=1, op=1)", (8, 10, 12)),
    ("ConvT(8, 3, s=1)", (8, 7, 8)),
    ("Upsample(2)", (4, 10, 12)),
    ("Upsample((2, 3), bilinear)", (4, 10, 18)),
    ("Concat(crop=true)[Id, MPool - Conv(2, 1) - ConvT(2)]", (6, 4, 6)),
])
def test_upsampling_shapes_and_the_torch_module_agree(text, expected):
    spec = archdsl.load(f"Conv(4, 1) - {text}", input="3x5x6")
    assert spec.output_shape == expected
    net = spec.build()
    assert tuple(net(torch.randn(1, 3, 5, 6)).shape[1:]) == expected


def test_conv_transpose_counts():
    spec = archdsl.load("ConvT(8, 3, s=2, bias=true)", input="4x5x5")
    assert spec.summary()['total_params'] == 4 * 8 * 9 + 8
    assert spec.output_shape == (8, 11, 11)
    assert spec.summary()['macs'] == 4 * 5 * 5 * 8 * 9  # each input value times each weight


@pytest.mark.parametrize("text, code", [
    ("Concat(crop=true)[MPool, Id]", "shape-mismatch"),  # the larger branch written last
    ("Upsample(2, nearest, align_corners=true)", "bad-argument"),
    ("ConvT(8, 2, s=2, op=2)", "bad-padding"),
    ("ConvT(8, 1, p=8)", "size-collapse"),
])
def test_upsampling_mistakes_are_diagnosed(text, code):
    with pytest.raises(ArchError) as err:
        archdsl.load(text, input="3x8x8")
    assert code in {d.code for d in err.value.diagnostics}


def test_conv_transpose_macs_are_fvcores():
    fvcore = pytest.importorskip("fvcore.nn")
    spec = archdsl.load("ConvT(8, 3, s=2, p=1, op=1, g=2)", input="4x6x5")
    net = spec.build().eval()
    flops = fvcore.FlopCountAnalysis(net, torch.randn(1, 4, 6, 5))
    flops.unsupported_ops_warnings(False)
    assert flops.total() == spec.summary()["macs"]


@pytest.mark.parametrize("model, size", [("UNet", 188), ("UNetPadded", 32)])
def test_unet_saved_for_backward_is_what_autograd_keeps(model, size):
    from autograd_saved import measure_saved_bytes

    spec = archdsl.load(SPEC, model=model, input=f"{1 if model == 'UNet' else 3}x{size}x{size}")
    net = spec.build()
    x = torch.randn(2, *spec.input_shape)
    assert spec.saved_tensors().bytes(2) == measure_saved_bytes(net, x)


def test_no_receptive_field_is_given_after_upsampling():
    """The pass does not model an upsampling layer's fractional jump: the decoder's fields are
    blank and the headline says so, rather than a wrong 396x396."""
    model = archdsl.load("unet")
    decoder = [n for n in model.layers() if n.op.ends_receptive_field]
    assert decoder and all(n.ann.rf is None for n in decoder)
    assert all(n.ann.rf is None for n in model.layers()[model.layers().index(decoder[0]):])
    assert model.receptive_field().ann.rf.size == (140, 140)
    assert "not computed after upsampling" in model.table()
