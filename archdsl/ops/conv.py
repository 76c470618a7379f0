"""Convolutions: Conv (with groups and dilation), pointwise and depthwise convolution."""

from __future__ import annotations

from typing import Literal

from archdsl.ops.base import (
    RF,
    Ctx,
    NonNegPair,
    Op,
    Pair,
    Params,
    PositiveInt,
    Saved,
    Shape,
    ShapeError,
    TorchModule,
    fmt_pair,
    kwargs_without_defaults,
    pair,
    prod,
    square,
)
from archdsl.ops.registry import register

# Conv widths chosen for a bare `Conv`: 32 channels at the input's resolution, doubled after each
# halving of the spatial size, at most 512 (the notes: depth grows as the image shrinks).
AUTO_BASE_WIDTH = 32
AUTO_MAX_WIDTH = 512


class ConvParams(Params):
    out_channels: PositiveInt | Literal["auto"] = "auto"
    kernel: Pair = 3
    stride: Pair = 1
    padding: NonNegPair | Literal["same", "valid"] = 0
    dilation: Pair = 1
    groups: PositiveInt = 1
    bias: bool | Literal["auto"] = "auto"


def conv_out(size, kernel, stride, pad, dilation, ceil=False):
    """Output length of a convolution or pooling window along one dimension."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    if ceil:
        out = -(-span // stride) + 1
        # PyTorch: the last window must start inside the input or the left padding.
        if (out - 1) * stride >= size + pad:
            out = out - 1
        return out
    return span // stride + 1


def resolve_padding(p) -> tuple:
    """`same` -> symmetric padding for odd effective kernels; `valid` -> 0."""
    if p.padding == "valid":
        return (0, 0)
    if p.padding == "same":
        kh, kw = pair(p.kernel)
        dh, dw = pair(p.dilation)
        if (dh * (kh - 1)) % 2 or (dw * (kw - 1)) % 2:
            raise ShapeError("padding 'same' needs an odd kernel", arg="padding",
                             hint="give the padding as numbers, e.g. p=(1, 2)")
        return (dh * (kh - 1) // 2, dw * (kw - 1) // 2)
    return pair(p.padding)


def auto_width(ins: list[Shape], ctx: Ctx) -> int:
    size = ins[0][1] if len(ins[0]) == 3 else 1
    base = ctx.model_input[1] if len(ctx.model_input) == 3 else size
    width = AUTO_BASE_WIDTH
    while size * 2 <= base and width < AUTO_MAX_WIDTH:
        size *= 2
        width *= 2
    return width


def spatial_out(p, shape: Shape, name: str, ceil: bool = False) -> tuple[int, int]:
    _, h, w = shape
    kh, kw = pair(p.kernel)
    sh, sw = pair(p.stride)
    ph, pw = resolve_padding(p)
    dh, dw = pair(getattr(p, "dilation", 1))
    oh = conv_out(h, kh, sh, ph, dh, ceil)
    ow = conv_out(w, kw, sw, pw, dw, ceil)
    if oh < 1 or ow < 1:
        eff_h, eff_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
        raise ShapeError(
            f"{name} leaves {max(oh, 0)}x{max(ow, 0)}: input {h}x{w}, kernel "
            f"{fmt_pair(p.kernel)}" + (f" (dilated to {eff_h}x{eff_w})" if (dh, dw) != (1, 1)
                                       else "") + f", stride {fmt_pair(p.stride)}, padding "
            f"{fmt_pair((ph, pw))}", code="size-collapse", arg="kernel",
            hint="use a smaller kernel or add padding, or remove a pooling layer before it")
    if 2 * ph > kh * dh or 2 * pw > kw * dw:
        pass  # allowed by PyTorch for convolutions; pooling checks its own limit
    return oh, ow


def _spatial_input(ins: list[Shape], name: str) -> Shape:
    shape = ins[0]
    if len(shape) != 3:
        raise ShapeError(f"{name} needs a feature map (channels x height x width), got a vector "
                         f"of {shape[0]}", code="rank-mismatch",
                         hint="spatial layers must come before FC and Flatten")
    return shape


def conv_arguments(module) -> dict | None:
    """The arguments of an `nn.Conv2d` or `nn.ConvTranspose2d` that Conv and ConvT share;
    None for a padding mode other than zeros, which neither kind has."""
    if module.padding_mode != "zeros":
        return None
    return {"out_channels": module.out_channels, "kernel": square(module.kernel_size),
            "stride": square(module.stride), "padding": square(module.padding),
            "dilation": square(module.dilation), "groups": module.groups,
            "bias": module.bias is not None}


@register
class Conv(Op):
    """2-D convolution. `Conv(64, 3, s=2, p=1)`: 64 filters of 3x3, stride 2, padding 1.

    The bias follows the notes: none when a BatchNorm directly follows (BN has its own shift),
    otherwise a bias; `bias=true|false` overrides. `p=same` pads to keep the size (odd kernels).
    Written bare, `Conv` is a 3x3 same-padded convolution whose width doubles each time the
    spatial size halves (32 at the input resolution, at most 512).
    """

    fresh_output = True
    name = "Conv"
    aliases = ("Convolution", "Conv2d", "Conv2D")
    family = "conv"
    Params = ConvParams
    keywords = {"c": "out_channels", "channels": "out_channels", "filters": "out_channels",
                "out": "out_channels", "k": "kernel", "kernel_size": "kernel", "s": "stride",
                "p": "padding", "pad": "padding", "d": "dilation", "g": "groups"}
    bare = {"kernel": 3, "padding": "same"}
    summary = "2-D convolution"
    example = "Conv(64, 3, s=2, p=1)"
    absorbs_affine = True
    weight_init = {"conv": ("nn.Conv2d",)}
    weighted = True
    torch_types = ("torch.nn.modules.conv.Conv2d",)

    def from_torch(self, module, ins, out):
        return conv_arguments(module)

    def check_params(self, p) -> None:
        resolve_padding(p)

    def resolve(self, p, ins, ctx):
        if p.out_channels == "auto":
            p = p.model_copy(update={"out_channels": auto_width(ins, ctx)})
        return p

    def in_channels(self, p, ins: list[Shape]) -> int:
        return ins[0][0]

    def infer(self, p, ins, ctx):
        c, _, _ = _spatial_input(ins, self.name)
        if c % p.groups:
            raise ShapeError(f"groups={p.groups} does not divide the {c} input channels",
                             arg="groups", code="bad-groups",
                             hint=f"use a number of groups that divides {c}")
        if p.out_channels % p.groups:
            raise ShapeError(f"groups={p.groups} does not divide the {p.out_channels} output "
                             f"channels", arg="groups", code="bad-groups")
        oh, ow = spatial_out(p, ins[0], self.name)
        return (p.out_channels, oh, ow)

    def has_bias(self, p) -> bool:
        return p.bias is True  # `auto` is settled by the elaborator before shapes

    def param_count(self, p, ins, out):
        kh, kw = pair(p.kernel)
        return out[0] * (ins[0][0] // p.groups) * kh * kw + (out[0] if self.has_bias(p) else 0)

    def macs(self, p, ins, out):
        kh, kw = pair(p.kernel)
        return prod(out) * (ins[0][0] // p.groups) * kh * kw

    def rf(self, p, ins=None, out=None):
        return RF(pair(p.kernel), pair(p.stride), resolve_padding(p), pair(p.dilation))

    def saved(self, p, ins, out, trainable):
        # convolution_backward reads the input (weight gradient) and the weight (input gradient);
        # autograd keeps both whenever the layer is recorded, frozen or not
        return Saved(inputs=(0,))

    def torch(self, p, ins, out):
        pad = resolve_padding(p)
        kwargs = kwargs_without_defaults([
            ("stride", pair(p.stride), 1), ("padding", pad, 0), ("dilation", pair(p.dilation), 1),
            ("groups", p.groups, 1), ("bias", self.has_bias(p), True)])
        return TorchModule("nn.Conv2d", (ins[0][0], out[0], square(pair(p.kernel))), kwargs)

    def label(self, p, ins, out):
        text = f"{self.name} {fmt_pair(p.kernel)}, {out[0]}"
        sh, sw = pair(p.stride)
        if (sh, sw) != (1, 1):
            text += f", /{sh}" if sh == sw else f", /{sh}x{sw}"
        if p.groups != 1:
            text += f", g{p.groups}"
        if pair(p.dilation) != (1, 1):
            text += f", d{fmt_pair(p.dilation, '')}"
        return text

    def cells(self, p):
        return fmt_pair(p.kernel), fmt_pair(p.stride, ","), fmt_pair(resolve_padding(p), ",")


class PointwiseParams(Params):
    out_channels: PositiveInt | Literal["auto"] = "auto"
    stride: Pair = 1
    groups: PositiveInt = 1
    bias: bool | Literal["auto"] = "auto"


@register
class PWConv(Conv):
    """Pointwise (1x1) convolution: mixes channels at each position. `PWConv(256)`."""

    name = "PWConv"
    aliases = ("Pointwise", "PointwiseConv", "Conv1x1")
    Params = PointwiseParams
    keywords = {"c": "out_channels", "channels": "out_channels", "s": "stride", "g": "groups"}
    bare = {}
    torch_types = ()  # an imported convolution is a Conv
    module_prefix = "conv"
    summary = "pointwise 1x1 convolution"
    example = "PWConv(256)"

    def _as_conv(self, p) -> ConvParams:
        return ConvParams.model_construct(out_channels=p.out_channels, kernel=1, stride=p.stride,
                                          padding=0, dilation=1, groups=p.groups, bias=p.bias)

    def check_params(self, p):
        pass

    def infer(self, p, ins, ctx):
        return Conv.infer(self, self._as_conv(p), ins, ctx)

    def param_count(self, p, ins, out):
        return Conv.param_count(self, self._as_conv(p), ins, out)

    def macs(self, p, ins, out):
        return Conv.macs(self, self._as_conv(p), ins, out)

    def rf(self, p, ins=None, out=None):
        return Conv.rf(self, self._as_conv(p))

    def torch(self, p, ins, out):
        return Conv.torch(self, self._as_conv(p), ins, out)

    def label(self, p, ins, out):
        return Conv.label(self, self._as_conv(p), ins, out).replace(self.name, "Conv", 1)

    def cells(self, p):
        return Conv.cells(self, self._as_conv(p))


class DepthwiseParams(Params):
    kernel: Pair = 3
    stride: Pair = 1
    padding: NonNegPair | Literal["same", "valid"] = "same"
    dilation: Pair = 1
    multiplier: PositiveInt = 1
    bias: bool | Literal["auto"] = "auto"


@register
class DWConv(Conv):
    """Depthwise convolution: one filter per input channel (groups = channels). `DWConv(3, s=2)`."""

    name = "DWConv"
    aliases = ("Depthwise", "DepthwiseConv")
    Params = DepthwiseParams
    keywords = {"k": "kernel", "kernel_size": "kernel", "s": "stride", "p": "padding",
                "pad": "padding", "d": "dilation", "m": "multiplier"}
    bare = {}
    torch_types = ()  # an imported convolution is a Conv
    module_prefix = "conv"
    summary = "depthwise convolution (one filter per channel)"
    example = "DWConv(3, s=2)"

    def _as_conv(self, p, ins) -> ConvParams:
        c = ins[0][0] if ins and len(ins[0]) == 3 else 1
        return ConvParams.model_construct(out_channels=c * p.multiplier, kernel=p.kernel,
                                          stride=p.stride, padding=p.padding,
                                          dilation=p.dilation, groups=c, bias=p.bias)

    def check_params(self, p):
        resolve_padding(p)

    def resolve(self, p, ins, ctx):
        return p

    def infer(self, p, ins, ctx):
        _spatial_input(ins, self.name)
        return Conv.infer(self, self._as_conv(p, ins), ins, ctx)

    def param_count(self, p, ins, out):
        return Conv.param_count(self, self._as_conv(p, ins), ins, out)

    def macs(self, p, ins, out):
        return Conv.macs(self, self._as_conv(p, ins), ins, out)

    def rf(self, p, ins=None, out=None):
        return RF(pair(p.kernel), pair(p.stride), resolve_padding(p), pair(p.dilation))

    def torch(self, p, ins, out):
        return Conv.torch(self, self._as_conv(p, ins), ins, out)

    def label(self, p, ins, out):
        return f"DWConv {fmt_pair(p.kernel)}" + (f", /{pair(p.stride)[0]}"
                                                  if pair(p.stride) != (1, 1) else "")

    def cells(self, p):
        return fmt_pair(p.kernel), fmt_pair(p.stride, ","), fmt_pair(resolve_padding(p), ",")
