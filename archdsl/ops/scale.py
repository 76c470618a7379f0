"""Scaling a residual branch: StochasticDepth (drops it, per sample or per batch, in training)
and LayerScale (a learned per-channel scale, a parameter of the enclosing block)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from archdsl.ops.base import (
    NOTHING_SAVED,
    Extra,
    Op,
    OwnParameter,
    Params,
    Saved,
    TorchModule,
)
from archdsl.ops.registry import register

STOCHASTIC_DEPTH_SOURCE = '''
class StochasticDepth(nn.Module):
    """Drops its input with probability p in training, per sample (mode "row") or for the whole
    batch ("batch"), scaling what survives by 1 / (1 - p); the identity in eval
    (torchvision.ops.StochasticDepth)."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival_rate = 1.0 - self.p
        if self.mode == "row":
            size = [x.shape[0]] + [1] * (x.ndim - 1)
        else:
            size = [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device)
        noise = noise.bernoulli_(survival_rate)
        if survival_rate > 0.0:
            noise.div_(survival_rate)
        return x * noise

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p}, mode={self.mode})"
'''


class StochasticDepthParams(Params):
    p: Annotated[float, Field(ge=0.0, le=1.0)]
    mode: Literal["row", "batch"] = "row"
    applied: bool = True


@register
class StochasticDepth(Op):
    """Stochastic depth: in training, drops the residual branch it ends with probability p,
    per sample (`mode=row`) or for the whole batch (`mode=batch`), and scales the rest by
    1 / (1 - p); the identity in eval and for p = 0. `StochasticDepth(0.1)`. Generated as a
    helper class with torchvision's `StochasticDepth(p, mode)` behaviour and repr.
    `applied=false` builds the module but `forward` does not call it (torchvision's MBConv
    without a residual)."""

    name = "StochasticDepth"
    aliases = ("DropPath",)
    family = "dropout"
    Params = StochasticDepthParams
    keywords = {"prob": "p"}
    module_prefix = "stochastic_depth"
    elementwise = True
    eval_identity = True
    summary = "stochastic depth (drops a residual branch in training)"
    torch_types = ("torchvision.ops.stochastic_depth.StochasticDepth",)

    def from_torch(self, module, ins, out):
        return {"p": module.p, "mode": module.mode}
    example = "Add[Conv(32, 3, p=1) - BN - StochasticDepth(0.1), Id]"
    helper_sources = {"StochasticDepth": STOCHASTIC_DEPTH_SOURCE}

    def skipped_in_forward(self, p) -> bool:
        return not p.applied

    def passes_through(self, p, ins, out):
        return not p.applied

    def is_view(self, p, ins, out):
        return p.p == 0 or not p.applied  # the input itself

    def saved(self, p, ins, out, trainable):
        if p.p == 0 or not p.applied:
            return NOTHING_SAVED
        # `input * noise` keeps the noise (for the input's gradient): one value per sample, or
        # one for the batch
        return Saved(extra=(Extra("noise", 1, per_sample=p.mode == "row"),))

    def torch(self, p, ins, out):
        return TorchModule("StochasticDepth", (p.p, p.mode), helper="StochasticDepth")

    def label(self, p, ins, out):
        text = f"StochDepth {p.p:g}" + (" (batch)" if p.mode == "batch" else "")
        return text if p.applied else text + " (unused)"


class LayerScaleParams(Params):
    init: float = 1e-6


@register
class LayerScale(Op):
    """A learned scale per channel, started at `init`: `LayerScale:layer_scale(1e-6)` on a CxHxW
    input is ConvNeXt's `self.layer_scale = nn.Parameter(torch.ones(C, 1, 1) * 1e-6)` and
    `self.layer_scale * x`. A parameter of the block (or model) it is written in, named by its
    label, not a module, so it cannot be in a labelled group (an `nn.Sequential`)."""

    name = "LayerScale"
    aliases = ("Scale",)
    family = "norm"
    Params = LayerScaleParams
    module = False
    held_by_class = True
    module_prefix = "layer_scale"
    elementwise = True
    summary = "learned per-channel scale (a parameter of its block)"
    example = "LayerScale:layer_scale(1e-6)"
    # `self.layer_scale * x`: the parameter is an argument (its value, the scale it started at,
    # is the init where all its entries are equal); the importer labels it with its name
    torch_calls = ("mul",)

    def from_torch_call(self, name, args, kwargs, ins, out):
        import torch

        scales = [a for a in args if isinstance(a, torch.nn.Parameter)]
        if len(scales) != 1 or len(ins) != 1 or kwargs or len(args) != 1:
            return None
        scale = scales[0].detach()
        if tuple(scale.shape) != (ins[0][0],) + (1,) * (len(ins[0]) - 1):
            return None
        first = scale.flatten()[0]
        for digits in range(1, 18):  # the shortest decimal for the float32 (1e-06)
            init = float(f"{first.item():.{digits}g}")
            if torch.tensor(init, dtype=scale.dtype) == first:
                return {"init": init}
        return {"init": first.item()}

    def param_count(self, p, ins, out):
        return ins[0][0]

    def saved(self, p, ins, out, trainable):
        # `scale * x` keeps x for the scale's gradient (and the scale, a parameter, for x's)
        return Saved(inputs=(0,)) if trainable else NOTHING_SAVED

    def torch(self, p, ins, out):
        ones = ", 1" * (len(ins[0]) - 1)  # broadcast over all but the channels
        return OwnParameter("{param} * {0}", (("channels", ins[0][0]), ("init", p.init)),
                            init="torch.ones({channels}" + ones + ") * {init}")

    def label(self, p, ins, out):
        return f"LayerScale {p.init:g}"
