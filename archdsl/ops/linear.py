"""Fully connected layers and Flatten."""

from __future__ import annotations

from typing import Literal

from archdsl.ops.base import (
    NOTHING_SAVED,
    RF,
    Functional,
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

# Width of an FC written without a size that is not the classifier (`Conv-...-FC-FC-SM`).
AUTO_HIDDEN_FEATURES = 512


class FCParams(Params):
    out_features: PositiveInt | Literal["auto"] = "auto"
    bias: bool = True
    flatten: bool = True


@register
class FC(Op):
    """Fully connected layer; flattens a feature map first. `FC(4096)`, `FC-4096`.

    Written without a size, the last FC of the model (the classifier) gets `classes` outputs and
    any other FC gets 512. `flatten=false` maps the last dimension alone, at every position
    (`(..., in)` to `(..., n)`), as ConvNeXt's channels-last `nn.Linear` after a Permute.
    """

    fresh_output = True
    name = "FC"
    aliases = ("Linear", "Dense", "FullyConnected")
    family = "fc"
    Params = FCParams
    keywords = {"out": "out_features", "units": "out_features", "features": "out_features",
                "n": "out_features"}
    summary = "fully connected layer (flattens its input)"
    example = "FC(4096)"
    absorbs_affine = True
    weight_init = {"linear": ("nn.Linear",)}
    weighted = True
    reads_is_classifier = True
    torch_types = ("torch.nn.modules.linear.Linear",)

    def from_torch(self, module, ins, out):
        return {"out_features": module.out_features, "bias": module.bias is not None,
                "flatten": len(ins[0]) != len(out) or len(out) == 1}

    def resolve(self, p, ins, ctx):
        if p.out_features == "auto":
            if ctx.is_classifier:
                if ctx.classes is None:
                    raise ShapeError("this FC has no size and the number of classes is unknown",
                                     code="missing-classes", arg="out_features",
                                     hint="write FC(n), or give `classes: N` (CLI: --classes N)")
                size = ctx.classes
            else:
                size = AUTO_HIDDEN_FEATURES
            p = p.model_copy(update={"out_features": size})
        return p

    def infer(self, p, ins, ctx):
        if not p.flatten:
            return (*ins[0][:-1], p.out_features)
        return (p.out_features,)

    def in_features(self, ins, p=None) -> int:
        return ins[0][-1] if p is not None and not p.flatten else prod(ins[0])

    def param_count(self, p, ins, out):
        return self.in_features(ins, p) * out[-1] + (out[-1] if p.bias else 0)

    def macs(self, p, ins, out):
        return self.in_features(ins, p) * prod(out)  # one dot product per output element

    def rf(self, p, ins=None, out=None):
        if p is not None and not p.flatten:
            return None  # each position on its own, like a 1x1 convolution over channels-last
        return _whole_map(ins)

    def saved(self, p, ins, out, trainable):
        # addmm/mm keep the input only for the weight's gradient (the weight is a parameter)
        return Saved(inputs=(0,)) if trainable else NOTHING_SAVED

    def torch(self, p, ins, out):
        return TorchModule("nn.Linear", (self.in_features(ins, p), out[-1]),
                           kwargs_without_defaults([("bias", p.bias, True)]),
                           flatten_input=p.flatten and len(ins[0]) > 1)

    def label(self, p, ins, out):
        return f"FC {out[-1]}"

    def cells(self, p):
        return "", "", ""


@register
class Flatten(Op):
    """Flatten a feature map into a vector. FC flattens by itself; write Flatten to be explicit."""

    name = "Flatten"
    family = "shape"
    elementwise = True
    summary = "flatten to a vector"
    example = "Flatten"
    torch_types = ("torch.nn.modules.flatten.Flatten",)
    flattens = True
    torch_calls = ("flatten", ".flatten")

    def from_torch(self, module, ins, out):
        return {} if (module.start_dim, module.end_dim) == (1, -1) else None

    def from_torch_call(self, name, args, kwargs, ins, out):
        dims = (*args, None, None)[:2]
        start, end = kwargs.get("start_dim", dims[0] or 0), kwargs.get("end_dim", dims[1] or -1)
        return {} if (start, end) == (1, -1) else None

    def infer(self, p, ins, ctx):
        return (prod(ins[0]),)

    def rf(self, p, ins=None, out=None):
        return _whole_map(ins)

    def is_view(self, p, ins, out):
        return True

    def torch(self, p, ins, out):
        return TorchModule("nn.Flatten")


def _whole_map(ins) -> RF | None:
    """A vector made from a feature map sees the whole map (its field is the union of every
    position's)."""
    if not ins or len(ins[0]) != 3:
        return None
    return RF(tuple(ins[0][1:]), tuple(ins[0][1:]), (0, 0), whole=True)


def require_rank(ins, rank: int, name: str):
    if len(ins[0]) != rank:
        raise ShapeError(f"{name} needs a {'feature map' if rank == 3 else 'vector'}")


__all__ = ["FC", "Flatten", "Functional"]
