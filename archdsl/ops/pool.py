"""Pooling: max, average, stochastic, adaptive and global average pooling."""

from __future__ import annotations

from archdsl.ops.base import (
    NOTHING_SAVED,
    RF,
    Extra,
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
from archdsl.ops.conv import _spatial_input, conv_out
from archdsl.ops.registry import register


class PoolParams(Params):
    kernel: Pair = 2
    stride: Pair | None = None  # None: the kernel size, as in PyTorch
    padding: NonNegPair = 0
    ceil: bool = False


class MaxPoolParams(PoolParams):
    dilation: Pair = 1


_POOL_KEYWORDS = {"k": "kernel", "kernel_size": "kernel", "s": "stride", "p": "padding",
                  "pad": "padding", "ceil_mode": "ceil"}


def _stride(p):
    return p.stride if p.stride is not None else p.kernel


def _bind(names: tuple[str, ...], args: tuple, kwargs: dict) -> dict:
    """A torch function's arguments after the input, by name."""
    return {**dict(zip(names, args)), **kwargs}


class _Pool(Op):
    fresh_output = True
    family = "pool"
    keywords = _POOL_KEYWORDS
    torch_cls = ""
    # torch's functional form's arguments after the input, in order
    torch_call_args: tuple[str, ...] = ()

    def from_torch(self, module, ins, out):
        return self._imported(vars(module))

    def from_torch_call(self, name, args, kwargs, ins, out):
        return self._imported(_bind(self.torch_call_args, args, kwargs))

    def _imported(self, given: dict) -> dict | None:
        if given.get("return_indices") or given.get("divisor_override") is not None:
            return None
        kernel, stride = given["kernel_size"], given.get("stride")
        args = {"kernel": square(kernel), "padding": square(given.get("padding", 0)),
                "ceil": given.get("ceil_mode", False),
                "stride": None if stride in (None, kernel) or stride == [] else square(stride)}
        for field, key in (("dilation", "dilation"), ("count_include_pad", "count_include_pad")):
            if field in self.Params.model_fields and key in given:
                args[field] = square(given[key])
        return args

    def check_params(self, p):
        kh, kw = pair(p.kernel)
        ph, pw = pair(p.padding)
        if 2 * ph > kh or 2 * pw > kw:
            raise ShapeError(f"padding {fmt_pair(p.padding)} is more than half the kernel "
                             f"{fmt_pair(p.kernel)}", arg="padding", code="bad-padding",
                             hint="PyTorch allows at most half the kernel as pooling padding")

    def infer(self, p, ins, ctx):
        c, h, w = _spatial_input(ins, self.name)
        kh, kw = pair(p.kernel)
        sh, sw = pair(_stride(p))
        ph, pw = pair(p.padding)
        dh, dw = pair(getattr(p, "dilation", 1))
        oh = conv_out(h, kh, sh, ph, dh, p.ceil)
        ow = conv_out(w, kw, sw, pw, dw, p.ceil)
        if oh < 1 or ow < 1:
            raise ShapeError(
                f"{self.name} leaves {max(oh, 0)}x{max(ow, 0)}: input {h}x{w}, kernel "
                f"{fmt_pair(p.kernel)}, stride {fmt_pair(_stride(p))}", code="size-collapse",
                arg="kernel",
                hint="use a smaller kernel or add padding, or pool less often before it")
        return (c, oh, ow)

    def rf(self, p, ins=None, out=None):
        return RF(pair(p.kernel), pair(_stride(p)), pair(p.padding),
                  pair(getattr(p, "dilation", 1)))

    def saved(self, p, ins, out, trainable):
        return Saved(inputs=(0,))  # average pooling's backward reads its input (for the shape)

    def torch(self, p, ins, out):
        kwargs = [("stride", pair(_stride(p)), pair(p.kernel)), ("padding", pair(p.padding), 0)]
        if hasattr(p, "dilation"):
            kwargs.append(("dilation", pair(p.dilation), 1))
        kwargs.append(("ceil_mode", p.ceil, False))
        return TorchModule(self.torch_cls, (square(pair(p.kernel)),),
                           kwargs_without_defaults(kwargs))

    def label(self, p, ins, out):
        sh, _ = pair(_stride(p))
        return f"{self.name} {fmt_pair(p.kernel)}" + (f", /{sh}" if sh != 1 else "")

    def cells(self, p):
        return fmt_pair(p.kernel), fmt_pair(_stride(p), ","), fmt_pair(p.padding, ",")


@register
class MPool(_Pool):
    """Max pooling. `MPool(3, s=2)`; bare `MPool` (and `Pool`, `maxpool`) is 2x2, stride 2."""

    name = "MPool"
    aliases = ("MaxPool", "MaxPool2d", "Pool", "maxpool", "MaxPooling")
    Params = MaxPoolParams
    keywords = {**_POOL_KEYWORDS, "d": "dilation"}
    torch_cls = "nn.MaxPool2d"
    torch_types = ("torch.nn.modules.pooling.MaxPool2d",)
    torch_calls = ("max_pool2d",)
    torch_call_args = ("kernel_size", "stride", "padding", "dilation", "ceil_mode",
                       "return_indices")
    module_prefix = "pool"
    summary = "max pooling"
    example = "MPool(3, s=2)"

    def saved(self, p, ins, out, trainable):
        # max_pool2d_with_indices keeps its input and the argmax of each window (int64)
        return Saved(inputs=(0,), extra=(Extra("indices", prod(out), 8),))


class AvgPoolParams(PoolParams):
    count_include_pad: bool = True


@register
class APool(_Pool):
    """Average pooling. `APool(2)`; bare `APool` is 2x2, stride 2."""

    name = "APool"
    aliases = ("AvgPool", "AvgPool2d", "AveragePool", "AvgPooling")
    Params = AvgPoolParams
    torch_cls = "nn.AvgPool2d"
    torch_types = ("torch.nn.modules.pooling.AvgPool2d",)
    torch_calls = ("avg_pool2d",)
    torch_call_args = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                       "divisor_override")
    module_prefix = "pool"
    summary = "average pooling"
    example = "APool(2)"

    def torch(self, p, ins, out):
        call = super().torch(p, ins, out)
        extra = kwargs_without_defaults([("count_include_pad", p.count_include_pad, True)])
        return TorchModule(call.cls, call.args, call.kwargs + extra)


class StochasticPoolParams(Params):
    kernel: PositiveInt = 2
    stride: PositiveInt | None = None


STOCHASTIC_POOL_SOURCE = '''
class StochasticPool2d(nn.Module):
    """Stochastic pooling (Zeiler & Fergus, 2013), as the lecture notes define it.

    Training: in each window one activation a_i is picked with probability p_i = a_i / sum(a).
    Evaluation: the probability-weighted sum s = sum(p_i * a_i). Windows whose activations sum to
    zero give zero. Expects non-negative inputs (it follows a ReLU).
    """

    def __init__(self, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        k, s = self.kernel_size, self.stride
        out_h, out_w = (h - k) // s + 1, (w - k) // s + 1
        windows = F.unfold(x, k, stride=s).view(n, c, k * k, out_h * out_w)
        weights = windows.clamp_min(0)
        total = weights.sum(2, keepdim=True)
        probs = weights / total.clamp_min(1e-12)
        if self.training:
            flat = probs.permute(0, 1, 3, 2).reshape(-1, k * k)
            alive = flat.sum(1, keepdim=True) > 0
            pick = torch.multinomial(torch.where(alive, flat, torch.ones_like(flat)), 1)
            values = windows.permute(0, 1, 3, 2).reshape(-1, k * k).gather(1, pick)
            out = torch.where(alive, values, torch.zeros_like(values))
        else:
            out = (probs * windows).sum(2)
        return out.reshape(n, c, out_h, out_w)
'''


@register
class SPool(_Pool):
    """Stochastic pooling: samples by activation-proportional probability while training and takes
    the probability-weighted sum at inference. `SPool(2)`."""

    name = "SPool"
    aliases = ("StochasticPool", "StochasticPooling", "StochPool")
    Params = StochasticPoolParams
    keywords = {"k": "kernel", "kernel_size": "kernel", "s": "stride"}
    module_prefix = "pool"
    summary = "stochastic pooling"
    example = "SPool(2)"
    helper_sources = {"StochasticPool2d": STOCHASTIC_POOL_SOURCE}

    def check_params(self, p):
        pass

    def infer(self, p, ins, ctx):
        c, h, w = _spatial_input(ins, self.name)
        k, s = p.kernel, _stride(p)
        oh, ow = (h - k) // s + 1, (w - k) // s + 1
        if oh < 1 or ow < 1:
            raise ShapeError(f"{self.name} leaves {max(oh, 0)}x{max(ow, 0)}: input {h}x{w}, "
                             f"kernel {k}x{k}, stride {s}", code="size-collapse", arg="kernel",
                             hint="lower the kernel or pool less often before it")
        return (c, oh, ow)

    def rf(self, p, ins=None, out=None):
        return RF(pair(p.kernel), pair(_stride(p)), (0, 0))

    def saved(self, p, ins, out, trainable):
        # what the training branch of StochasticPool2d leaves to autograd (measured, torch 2.13):
        # three copies of the unfolded windows, two window sums, a bool and an int64 per output
        windows = prod(out) * p.kernel * p.kernel
        return Saved(extra=(Extra("windows", 3 * windows), Extra("window sums", 2 * prod(out)),
                            Extra("live windows", prod(out), 1), Extra("picks", prod(out), 8)))

    def torch(self, p, ins, out):
        return TorchModule("StochasticPool2d", (p.kernel, _stride(p)), helper="StochasticPool2d")

    def cells(self, p):
        return fmt_pair(p.kernel), str(_stride(p)), "0"


class AdaptiveParams(Params):
    output_size: Pair = 1


@register
class AdaptiveAPool(Op):
    """Adaptive average pooling to a fixed output size. `AdaptiveAPool(7)`, `AdaptiveAPool((4, 4))`;
    generated code writes the size as given (`nn.AdaptiveAvgPool2d(7)`, `((4, 4))`)."""

    fresh_output = True
    name = "AdaptiveAPool"
    aliases = ("AdaptiveAvgPool", "AdaptiveAvgPool2d", "AAPool")
    family = "pool"
    Params = AdaptiveParams
    keywords = {"size": "output_size", "out": "output_size"}
    module_prefix = "avgpool"
    summary = "adaptive average pooling"
    example = "AdaptiveAPool(7)"
    torch_types = ("torch.nn.modules.pooling.AdaptiveAvgPool2d",)
    torch_calls = ("adaptive_avg_pool2d",)

    def from_torch(self, module, ins, out):
        return {"output_size": module.output_size}

    def from_torch_call(self, name, args, kwargs, ins, out):
        return {"output_size": _bind(("output_size",), args, kwargs)["output_size"]}

    def infer(self, p, ins, ctx):
        c, _, _ = _spatial_input(ins, self.name)
        oh, ow = pair(p.output_size)
        return (c, oh, ow)

    def rf(self, p, ins=None, out=None):
        if not ins or len(ins[0]) != 3:
            return None
        kernels, strides = [], []
        for size, target in zip(ins[0][1:], pair(p.output_size), strict=True):
            # torch's window i spans floor(i*size/target) .. ceil((i+1)*size/target)
            kernels.append(max(-(-(i + 1) * size // target) - i * size // target
                               for i in range(target)))
            strides.append(size // target if size % target == 0 else size / target)
        return RF(tuple(kernels), tuple(strides), (0, 0),
                  whole=tuple(pair(p.output_size)) == (1, 1))

    def saved(self, p, ins, out, trainable):
        if tuple(pair(p.output_size)) == (1, 1):
            return NOTHING_SAVED  # torch computes a 1x1 adaptive pooling as a mean
        return Saved(inputs=(0,))

    def torch(self, p, ins, out):
        # as written: `AdaptiveAPool(1)` is `nn.AdaptiveAvgPool2d(1)` (EfficientNet, MobileNet),
        # `AdaptiveAPool((7, 7))` is `nn.AdaptiveAvgPool2d((7, 7))` (VGG): extra_repr differs
        return TorchModule("nn.AdaptiveAvgPool2d", (p.output_size,))

    def label(self, p, ins, out):
        return f"AvgPool to {fmt_pair(p.output_size)}"

    def cells(self, p):
        return f"->{fmt_pair(p.output_size)}", "", ""


@register
class GAP(Op):
    """Global average pooling: one average per channel (output C x 1 x 1). `GAP`."""

    fresh_output = True
    name = "GAP"
    aliases = ("GlobalAvgPool", "GlobalAveragePooling", "GlobalAvgPool2d")
    family = "pool"
    module_prefix = "avgpool"
    summary = "global average pooling"
    example = "GAP"
    # `x.mean([2, 3])` (MNASNet): the same means, which a following FC flattens alike
    torch_calls = (".mean",)
    torch_types = ("torch.nn.modules.pooling.AdaptiveAvgPool2d",)

    def from_torch(self, module, ins, out):
        return {} if module.output_size == (1, 1) else None

    def from_torch_call(self, name, args, kwargs, ins, out):
        dims = _bind(("dim", "keepdim"), args, kwargs).get("dim")
        return {} if len(ins[0]) == 3 and dims is not None and \
            sorted(d % 4 for d in dims) == [2, 3] else None

    def infer(self, p, ins, ctx):
        c, _, _ = _spatial_input(ins, self.name)
        return (c, 1, 1)

    def rf(self, p, ins=None, out=None):
        if not ins or len(ins[0]) != 3:
            return None
        return RF(tuple(ins[0][1:]), tuple(ins[0][1:]), (0, 0), whole=True)

    def torch(self, p, ins, out):
        return TorchModule("nn.AdaptiveAvgPool2d", ((1, 1),))

    def label(self, p, ins, out):
        return "Global AvgPool"

    def cells(self, p):
        return "global", "", ""
