"""Normalisation: batch, layer (also over a map's channels: LayerNorm2d), instance and group
normalisation, and AlexNet's LRN."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from archdsl.ops.base import (
    Extra,
    Op,
    Params,
    PositiveInt,
    Saved,
    ShapeError,
    TorchModule,
    kwargs_without_defaults,
    prod,
)
from archdsl.ops.registry import register

PositiveFloat = Annotated[float, Field(gt=0.0)]
UnitFloat = Annotated[float, Field(ge=0.0, le=1.0)]


class BNParams(Params):
    eps: PositiveFloat = 1e-5
    momentum: UnitFloat = 0.1
    affine: bool = True


def _stats(count: int, per_sample: bool = True) -> tuple[Extra, ...]:
    """The mean and inverse deviation a normalisation keeps: `count` float32 values each."""
    return (Extra("mean", count, 4, per_sample), Extra("inverse std", count, 4, per_sample))


class _Norm(Op):
    fresh_output = True
    family = "norm"
    elementwise = True


@register
class BN(_Norm):
    """Batch normalisation over each channel (BatchNorm2d for maps, BatchNorm1d for vectors).
    `BN`, `BN(eps=0.001)`."""

    name = "BN"
    aliases = ("BatchNorm", "BatchNorm2d", "BatchNorm1d", "BatchNormalization")
    Params = BNParams
    module_prefix = "bn"
    summary = "batch normalisation"
    example = "BN(eps=0.001)"
    weight_init = {"affine": ("nn.BatchNorm1d", "nn.BatchNorm2d")}
    absorbs_preceding_bias = True
    torch_types = ("torch.nn.modules.batchnorm.BatchNorm2d",
                   "torch.nn.modules.batchnorm.BatchNorm1d")

    def from_torch(self, module, ins, out):
        if not module.track_running_stats or module.momentum is None:
            return None
        return {"eps": module.eps, "momentum": module.momentum, "affine": module.affine}

    def param_count(self, p, ins, out):
        return 2 * ins[0][0] if p.affine else 0

    def buffer_count(self, p, ins, out):
        return 2 * ins[0][0] + 1  # running mean, running var, num_batches_tracked

    def saved(self, p, ins, out, trainable):
        return Saved(inputs=(0,), extra=_stats(ins[0][0], per_sample=False))

    def eval_affine(self, module):
        import torch

        if module.running_var is None:  # no running statistics: batch statistics even in eval
            return None
        scale = torch.rsqrt(module.running_var.double() + module.eps)
        shift = -module.running_mean.double() * scale
        if module.affine:
            scale, shift = scale * module.weight.double(), shift * module.weight.double() + \
                module.bias.double()
        return scale, shift

    def torch(self, p, ins, out):
        cls = "nn.BatchNorm2d" if len(ins[0]) == 3 else "nn.BatchNorm1d"
        return TorchModule(cls, (ins[0][0],), kwargs_without_defaults([
            ("eps", p.eps, 1e-5), ("momentum", p.momentum, 0.1), ("affine", p.affine, True)]))


class LNParams(Params):
    eps: PositiveFloat = 1e-5
    affine: bool = True
    dims: PositiveInt | None = None


@register
class LN(_Norm):
    """Layer normalisation over each sample's whole output, or over its last `dims` dimensions:
    `LN(eps=1e-6, dims=1)` after `Permute(0, 2, 3, 1)` normalises each position's channels, as
    ConvNeXt's `nn.LayerNorm(96, eps=1e-6)` does."""

    name = "LN"
    aliases = ("LayerNorm",)
    Params = LNParams
    keywords = {"elementwise_affine": "affine"}
    module_prefix = "ln"
    summary = "layer normalisation (over the last `dims` dimensions, default all)"
    example = "LN(eps=1e-6, dims=1)"
    torch_types = ("torch.nn.modules.normalization.LayerNorm",)

    def from_torch(self, module, ins, out):
        if module.elementwise_affine and module.bias is None:
            return None
        dims = len(module.normalized_shape)
        return {"eps": module.eps, "affine": module.elementwise_affine,
                "dims": None if dims == len(ins[0]) else dims}

    def normalized(self, p, shape):
        """The normalised dimensions (the last `dims`) of a per-sample shape."""
        return tuple(shape) if p.dims is None else tuple(shape[len(shape) - p.dims:])

    def infer(self, p, ins, ctx):
        if p.dims is not None and p.dims > len(ins[0]):
            raise ShapeError(f"LayerNorm over the last {p.dims} dimensions, but its input "
                             f"{'x'.join(str(d) for d in ins[0])} has {len(ins[0])}",
                             arg="dims", code="rank-mismatch",
                             hint=f"normalise at most {len(ins[0])} dimensions")
        return ins[0]

    def param_count(self, p, ins, out):
        return 2 * prod(self.normalized(p, ins[0])) if p.affine else 0

    def saved(self, p, ins, out, trainable):
        # one mean and inverse deviation per normalised group: per position for dims < rank
        return Saved(inputs=(0,), extra=_stats(prod(ins[0][:len(ins[0]) - len(
            self.normalized(p, ins[0]))])))

    def torch(self, p, ins, out):
        dims = self.normalized(p, ins[0])
        shape = list(int(d) for d in dims) if len(dims) > 1 else dims[0]
        return TorchModule("nn.LayerNorm", (shape,), kwargs_without_defaults([
            ("eps", p.eps, 1e-5), ("elementwise_affine", p.affine, True)]))


class LN2dParams(Params):
    eps: PositiveFloat = 1e-5
    affine: bool = True


LAYER_NORM_2D_SOURCE = '''
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW map, at each position (torchvision's ConvNeXt)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        x = x.permute(0, 3, 1, 2)
        return x
'''


@register
class LayerNorm2d(_Norm):
    """Layer normalisation over the channels of a feature map, at each position: torchvision's
    ConvNeXt `LayerNorm2d` (a generated helper class, an `nn.LayerNorm` of the channels).
    `LayerNorm2d(eps=1e-6)`, `LN2d`."""

    name = "LayerNorm2d"
    aliases = ("LN2d",)
    Params = LN2dParams
    keywords = {"elementwise_affine": "affine"}
    module_prefix = "norm"
    summary = "layer normalisation over the channels of a feature map"
    example = "LayerNorm2d(eps=1e-6)"
    torch_types = ("torchvision.models.convnext.LayerNorm2d",)

    def from_torch(self, module, ins, out):
        return {"eps": module.eps, "affine": module.elementwise_affine}
    helper_sources = {"LayerNorm2d": LAYER_NORM_2D_SOURCE}

    def infer(self, p, ins, ctx):
        if len(ins[0]) != 3:
            raise ShapeError("LayerNorm2d needs a feature map", code="rank-mismatch",
                             hint="use LN for a vector")
        return ins[0]

    def param_count(self, p, ins, out):
        return 2 * ins[0][0] if p.affine else 0

    def saved(self, p, ins, out, trainable):
        # layer_norm over the channels-last view keeps that view (the input's storage) and one
        # mean and inverse deviation per position
        c, h, w = ins[0]
        return Saved(inputs=(0,), extra=_stats(h * w))

    def torch(self, p, ins, out):
        return TorchModule("LayerNorm2d", (ins[0][0],), kwargs_without_defaults([
            ("eps", p.eps, 1e-5), ("elementwise_affine", p.affine, True)]), helper="LayerNorm2d")


class INParams(Params):
    eps: PositiveFloat = 1e-5
    affine: bool = False


@register
class IN(_Norm):
    """Instance normalisation: each channel of each sample on its own."""

    name = "IN"
    aliases = ("InstanceNorm", "InstanceNorm2d")
    Params = INParams
    module_prefix = "inorm"
    summary = "instance normalisation"
    example = "IN(affine=true)"

    def infer(self, p, ins, ctx):
        if len(ins[0]) != 3:
            raise ShapeError("InstanceNorm needs a feature map", code="rank-mismatch")
        return ins[0]

    def param_count(self, p, ins, out):
        return 2 * ins[0][0] if p.affine else 0

    def saved(self, p, ins, out, trainable):
        # batch norm over a (1, N*C, H, W) view; affine weights are repeated per sample
        extra = _stats(ins[0][0])
        if p.affine:
            extra += (Extra("repeated weight", ins[0][0], 4),)
        return Saved(inputs=(0,), extra=extra)

    def torch(self, p, ins, out):
        return TorchModule("nn.InstanceNorm2d", (ins[0][0],), kwargs_without_defaults([
            ("eps", p.eps, 1e-5), ("affine", p.affine, False)]))


class GNParams(Params):
    groups: PositiveInt = 32
    eps: PositiveFloat = 1e-5
    affine: bool = True


@register
class GN(_Norm):
    """Group normalisation: channels of a sample in groups. `GN(32)`."""

    name = "GN"
    aliases = ("GroupNorm",)
    Params = GNParams
    weight_init = {"affine": ("nn.GroupNorm",)}
    keywords = {"g": "groups", "num_groups": "groups"}
    module_prefix = "gn"
    summary = "group normalisation"
    example = "GN(32)"
    torch_types = ("torch.nn.modules.normalization.GroupNorm",)

    def from_torch(self, module, ins, out):
        return {"groups": module.num_groups, "eps": module.eps, "affine": module.affine}

    def infer(self, p, ins, ctx):
        c = ins[0][0]
        if c % p.groups:
            raise ShapeError(f"GroupNorm's {p.groups} groups do not divide the {c} channels",
                             arg="groups", code="bad-groups",
                             hint=f"use a number of groups that divides {c}")
        return ins[0]

    def param_count(self, p, ins, out):
        return 2 * ins[0][0] if p.affine else 0

    def saved(self, p, ins, out, trainable):
        return Saved(inputs=(0,), extra=_stats(p.groups))

    def torch(self, p, ins, out):
        return TorchModule("nn.GroupNorm", (p.groups, ins[0][0]), kwargs_without_defaults([
            ("eps", p.eps, 1e-5), ("affine", p.affine, True)]))


class LRNParams(Params):
    size: PositiveInt = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 2.0


@register
class LRN(_Norm):
    """Local response normalisation across neighbouring channels (AlexNet's "Norm").

    Defaults are AlexNet's n=5, alpha=1e-4, beta=0.75, k=2. PyTorch's LocalResponseNorm divides
    alpha by n inside the sum, as the AlexNet paper's reference code does.
    """

    name = "LRN"
    aliases = ("Norm", "LocalResponseNorm")
    Params = LRNParams
    keywords = {"n": "size"}
    module_prefix = "lrn"
    summary = "local response normalisation"
    example = "LRN(5)"
    torch_types = ("torch.nn.modules.normalization.LocalResponseNorm",)

    def from_torch(self, module, ins, out):
        return {"size": module.size, "alpha": module.alpha, "beta": module.beta, "k": module.k}

    def infer(self, p, ins, ctx):
        if len(ins[0]) != 3:
            raise ShapeError("LRN needs a feature map", code="rank-mismatch")
        return ins[0]

    def saved(self, p, ins, out, trainable):
        # torch's F.local_response_norm is a chain of ops: it keeps its input, the squares
        # padded by size-1 channels (for avg_pool3d), and two more maps of the input's size
        c, h, w = ins[0]
        return Saved(inputs=(0,), extra=(Extra("padded squares", (c + p.size - 1) * h * w),
                                         Extra("scale and its power", 2 * c * h * w)))

    def torch(self, p, ins, out):
        return TorchModule("nn.LocalResponseNorm", (p.size,), kwargs_without_defaults([
            ("alpha", p.alpha, 1e-4), ("beta", p.beta, 0.75), ("k", p.k, 1.0)]))
