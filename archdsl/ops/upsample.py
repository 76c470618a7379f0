"""Upsampling: transposed convolution (learned) and Upsample (nearest or bilinear interpolation),
the decoder half of an encoder-decoder such as U-Net."""

from __future__ import annotations

from typing import Literal

from archdsl.ops.base import (
    NonNegPair,
    Op,
    Pair,
    Params,
    PositiveInt,
    Saved,
    ShapeError,
    TorchModule,
    fmt_pair,
    kwargs_without_defaults,
    pair,
    prod,
    square,
)
from archdsl.ops.conv import conv_arguments
from archdsl.ops.registry import register


def _feature_map(ins, name: str):
    if len(ins[0]) != 3:
        raise ShapeError(f"{name} needs a feature map (channels x height x width), got a vector "
                         f"of {ins[0][0]}", code="rank-mismatch",
                         hint="upsampling layers must come before FC and Flatten")
    return ins[0]


class ConvTransposeParams(Params):
    out_channels: PositiveInt
    kernel: Pair = 2
    stride: Pair = 2
    padding: NonNegPair = 0
    output_padding: NonNegPair = 0
    dilation: Pair = 1
    groups: PositiveInt = 1
    bias: bool | Literal["auto"] = "auto"


def conv_transpose_out(size, kernel, stride, pad, out_pad, dilation):
    """Output length of a transposed convolution along one dimension (PyTorch's formula)."""
    return (size - 1) * stride - 2 * pad + dilation * (kernel - 1) + out_pad + 1


@register
class ConvT(Op):
    """Transposed 2-D convolution ("up-convolution"). `ConvT(64)`: 64 filters of 2x2, stride 2,
    doubling the height and width, as U-Net's decoder writes it; `ConvT(64, 4, s=2, p=1)`.

    The output length is `(in - 1) * s - 2p + d(k - 1) + output_padding + 1`. The bias follows
    the notes, as Conv's: none when a BatchNorm directly follows; `bias=true|false` overrides.
    """

    fresh_output = True
    ends_receptive_field = True
    name = "ConvT"
    aliases = ("ConvTranspose", "ConvTranspose2d", "UpConv", "Deconv")
    family = "conv"
    Params = ConvTransposeParams
    keywords = {"c": "out_channels", "channels": "out_channels", "filters": "out_channels",
                "out": "out_channels", "k": "kernel", "kernel_size": "kernel", "s": "stride",
                "p": "padding", "pad": "padding", "op": "output_padding", "d": "dilation",
                "g": "groups"}
    module_prefix = "upconv"
    summary = "transposed 2-D convolution (learned upsampling)"
    example = "ConvT(64, 2, s=2)"
    weight_init = {"conv": ("nn.ConvTranspose2d",)}
    weighted = True
    torch_types = ("torch.nn.modules.conv.ConvTranspose2d",)

    def from_torch(self, module, ins, out):
        args = conv_arguments(module)
        return args and {**args, "output_padding": square(module.output_padding)}

    def check_params(self, p) -> None:
        for (op_, s, d) in zip(pair(p.output_padding), pair(p.stride), pair(p.dilation),
                               strict=True):
            if op_ >= max(s, d):
                raise ShapeError(f"output_padding {fmt_pair(p.output_padding)} must be smaller "
                                 "than the stride or the dilation", arg="output_padding",
                                 code="bad-padding", hint="output_padding is 0 or stride - 1")

    def infer(self, p, ins, ctx):
        c, h, w = _feature_map(ins, self.name)
        if c % p.groups or p.out_channels % p.groups:
            raise ShapeError(f"groups={p.groups} must divide the {c} input and the "
                             f"{p.out_channels} output channels", arg="groups", code="bad-groups")
        sizes = [conv_transpose_out(n, k, s, pd, op_, d) for n, k, s, pd, op_, d in zip(
            (h, w), pair(p.kernel), pair(p.stride), pair(p.padding), pair(p.output_padding),
            pair(p.dilation), strict=True)]
        if min(sizes) < 1:
            raise ShapeError(f"{self.name} leaves {max(sizes[0], 0)}x{max(sizes[1], 0)}: the "
                             f"padding {fmt_pair(p.padding)} removes more than it makes",
                             arg="padding", code="size-collapse", hint="use less padding")
        return (p.out_channels, *sizes)

    def has_bias(self, p) -> bool:
        return p.bias is True  # `auto` is settled by the elaborator before shapes

    def param_count(self, p, ins, out):
        kh, kw = pair(p.kernel)
        return ins[0][0] * (out[0] // p.groups) * kh * kw + (out[0] if self.has_bias(p) else 0)

    def macs(self, p, ins, out):
        # each input position scatters into a kernel-sized window of every output channel
        # of its group (fvcore counts a transposed convolution so)
        kh, kw = pair(p.kernel)
        return prod(ins[0]) * (out[0] // p.groups) * kh * kw

    def saved(self, p, ins, out, trainable):
        # convolution_backward keeps the input (weight gradient) and the weight, as Conv
        return Saved(inputs=(0,))

    def torch(self, p, ins, out):
        kwargs = kwargs_without_defaults([
            ("stride", pair(p.stride), 1), ("padding", pair(p.padding), 0),
            ("output_padding", pair(p.output_padding), 0), ("groups", p.groups, 1),
            ("bias", self.has_bias(p), True), ("dilation", pair(p.dilation), 1)])
        return TorchModule("nn.ConvTranspose2d", (ins[0][0], out[0], square(pair(p.kernel))),
                           kwargs)

    def label(self, p, ins, out):
        sh, sw = pair(p.stride)
        text = f"UpConv {fmt_pair(p.kernel)}, {out[0]}"
        if (sh, sw) != (1, 1):
            text += f", x{sh}" if sh == sw else f", x{sh}x{sw}"
        return text

    def cells(self, p):
        return fmt_pair(p.kernel), fmt_pair(p.stride, ","), fmt_pair(p.padding, ",")


def _whole_scale(shape_in, shape_out):
    """Whole factors from a map's height and width to another's: 2, (2, 3); else None."""
    if len(shape_in) != 3 or len(shape_out) != 3:
        return None
    factors = [o // i for i, o in zip(shape_in[1:], shape_out[1:], strict=True)]
    if any(f < 1 or f * i != o for f, i, o in zip(factors, shape_in[1:], shape_out[1:],
                                                    strict=True)):
        return None
    return factors[0] if factors[0] == factors[1] else tuple(factors)


class UpsampleParams(Params):
    scale: Pair = 2
    mode: Literal["nearest", "bilinear"] = "nearest"
    align_corners: bool = False


@register
class Upsample(Op):
    """Upsampling by interpolation: `Upsample(2)` repeats each value 2x2 (nearest),
    `Upsample(2, bilinear)` interpolates (`align_corners=true` as older U-Nets write it).
    No parameters; a new feature map `scale` times the input's height and width."""

    fresh_output = True
    ends_receptive_field = True
    name = "Upsample"
    aliases = ("Up", "Interpolate")
    family = "pool"
    Params = UpsampleParams
    keywords = {"s": "scale", "scale_factor": "scale", "factor": "scale"}
    summary = "upsampling by interpolation (nearest, bilinear)"
    example = "Upsample(2, bilinear)"
    torch_types = ("torch.nn.modules.upsampling.Upsample",)
    torch_calls = ("interpolate",)

    def from_torch(self, module, ins, out):
        return self._imported(vars(module), ins, out)

    def from_torch_call(self, name, args, kwargs, ins, out):
        names = ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor")
        return self._imported({**dict(zip(names, args, strict=False)), **kwargs}, ins, out)

    @staticmethod
    def _imported(given: dict, ins, out) -> dict | None:
        scale, mode = given.get("scale_factor"), given.get("mode", "nearest")
        if given.get("size") is not None and scale is None:
            # a size that is a whole multiple of the input's (a decoder upsampled to its skip's
            # size, read for one input size): that scale, which torch interpolates alike
            scale = _whole_scale(ins[0], out)
            given = {**given, "recompute_scale_factor": None}
        elif given.get("size") is not None:
            return None
        if mode not in ("nearest", "bilinear") or given.get("recompute_scale_factor") or \
                given.get("antialias") or scale is None:
            return None
        if isinstance(scale, float) and scale.is_integer():
            scale = int(scale)
        return {"scale": scale, "mode": mode, "align_corners": bool(given.get("align_corners"))}

    def check_params(self, p) -> None:
        if p.align_corners and p.mode == "nearest":
            raise ShapeError("align_corners applies to bilinear upsampling only",
                             arg="align_corners", code="bad-argument",
                             hint="drop align_corners, or write mode=bilinear")

    def infer(self, p, ins, ctx):
        c, h, w = _feature_map(ins, self.name)
        sh, sw = pair(p.scale)
        return (c, h * sh, w * sw)

    def torch(self, p, ins, out):
        scale = square(pair(p.scale))
        kwargs = [("scale_factor", scale)]
        if p.mode != "nearest":
            kwargs.append(("mode", p.mode))
            kwargs.append(("align_corners", p.align_corners))
        return TorchModule("nn.Upsample", (), tuple(kwargs))

    def label(self, p, ins, out):
        sh, sw = pair(p.scale)
        return f"Upsample x{sh if sh == sw else f'{sh}x{sw}'}, {p.mode}"

    def cells(self, p):
        return "", fmt_pair(p.scale, ","), ""
