"""Activation functions and softmax. All elementwise: they add no activations of their own."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from archdsl.ops.base import Op, Params, Saved, TorchModule, kwargs_without_defaults
from archdsl.ops.registry import register

KEEPS_OUTPUT = Saved(output=True)  # backward reads the result (ReLU, tanh, sigmoid, softmax)
KEEPS_INPUT = Saved(inputs=(0,))  # backward reads the input (GELU, ELU, leaky ReLU)


class InplaceParams(Params):
    inplace: bool | Literal["auto"] = "auto"


class _Activation(Op):
    family = "act"
    elementwise = True
    torch_cls = ""

    def saved(self, p, ins, out, trainable):
        return KEEPS_OUTPUT if self.output_needed_for_backward else KEEPS_INPUT

    def torch(self, p, ins, out):
        return TorchModule(self.torch_cls)


@register
class ReLU(_Activation):
    """Rectified linear unit, max(0, x). In place when nothing else reads its input."""

    name = "ReLU"
    Params = InplaceParams
    summary = "rectified linear unit"
    example = "ReLU"

    def saved(self, p, ins, out, trainable):
        return KEEPS_OUTPUT  # in place, the output is the input's storage

    def torch(self, p, ins, out):
        return TorchModule("nn.ReLU", (), (("inplace", True),) if p.inplace is True else ())

    def inplace_slots(self, p, ins, out):
        return () if p.inplace is False else (0,)

    def torch_inplace(self, p, ins, out):
        return TorchModule("nn.ReLU", (), (("inplace", True),))


class EluParams(Params):
    alpha: float = 1.0


@register
class ELU(_Activation):
    """Exponential linear unit. `ELU`, `ELU(alpha=0.5)`."""

    name = "ELU"
    Params = EluParams
    output_needed_for_backward = True
    summary = "exponential linear unit"
    example = "ELU"

    def saved(self, p, ins, out, trainable):
        return KEEPS_INPUT  # elu_backward(is_result=False) reads the input

    def torch(self, p, ins, out):
        return TorchModule("nn.ELU", (), kwargs_without_defaults([("alpha", p.alpha, 1.0)]))


class LeakyParams(Params):
    negative_slope: Annotated[float, Field(ge=0.0)] = 0.01


@register
class LeakyReLU(_Activation):
    """Leaky ReLU. `LeakyReLU(0.1)`."""

    name = "LeakyReLU"
    aliases = ("LReLU",)
    Params = LeakyParams
    keywords = {"slope": "negative_slope"}
    summary = "leaky rectified linear unit"
    example = "LeakyReLU(0.1)"

    def torch(self, p, ins, out):
        slope = p.negative_slope
        return TorchModule("nn.LeakyReLU", (slope,) if slope != 0.01 else ())


@register
class Tanh(_Activation):
    """Hyperbolic tangent, as LeNet-5 uses."""

    name = "Tanh"
    torch_cls = "nn.Tanh"
    output_needed_for_backward = True
    summary = "hyperbolic tangent"
    example = "Tanh"


@register
class Sigmoid(_Activation):
    """Logistic sigmoid."""

    name = "Sigmoid"
    torch_cls = "nn.Sigmoid"
    output_needed_for_backward = True
    summary = "logistic sigmoid"
    example = "Sigmoid"


@register
class GELU(_Activation):
    """Gaussian error linear unit."""

    name = "GELU"
    torch_cls = "nn.GELU"
    summary = "Gaussian error linear unit"
    example = "GELU"


class SoftmaxParams(Params):
    dim: int = 1


@register
class SM(_Activation):
    """Softmax over the channels (outputs are >= 0 and sum to 1). `SM`, `Softmax`, `soft-max`."""

    name = "SM"
    aliases = ("Softmax", "SoftMax", "soft-max")
    family = "output"
    Params = SoftmaxParams
    output_needed_for_backward = True
    module_prefix = "softmax"
    summary = "softmax"
    example = "SM"

    def torch(self, p, ins, out):
        return TorchModule("nn.Softmax", (), (("dim", p.dim),))

    def label(self, p, ins, out):
        return "Softmax"
