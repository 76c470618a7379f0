"""Activation functions and softmax. All elementwise: they add no activations of their own.

Contract: one `Op` per kind. ReLU, ReLU6, SiLU, Hardswish, Hardsigmoid and Mish take
`inplace=auto|true|false` as torchvision writes them (`nn.Hardswish(inplace=True)`):
`archdsl.passes.inplace` decides `auto`. `saved()` is what autograd keeps out of place (torch
2.13, measured with `benchmarks/autograd_saved.py`): ReLU its output, the others here their input;
run in place, all but ReLU keep a copy of the input they overwrite (autograd clones it), which
`archdsl.passes.memory` counts. PReLU is the one with parameters (`num_parameters` slopes: 1, or
one per channel).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from archdsl.ops.base import (
    Op,
    Params,
    Saved,
    ShapeError,
    TorchModule,
    kwargs_without_defaults,
)
from archdsl.ops.registry import register

KEEPS_OUTPUT = Saved(output=True)  # backward reads the result (ReLU, tanh, sigmoid, softmax)
KEEPS_INPUT = Saved(inputs=(0,))  # backward reads the input (GELU, ELU, leaky ReLU)


class InplaceParams(Params):
    inplace: bool | Literal["auto"] = "auto"


class _Activation(Op):
    family = "act"
    elementwise = True
    torch_cls = ""

    def from_torch(self, module, ins, out):
        return {"inplace": module.inplace} if "inplace" in self.Params.model_fields else {}

    def from_torch_call(self, name, args, kwargs, ins, out):
        if "inplace" not in self.Params.model_fields:
            return {}
        return {"inplace": bool(kwargs.get("inplace", args[0] if args else name.endswith("_")))}

    def saved(self, p, ins, out, trainable):
        return KEEPS_OUTPUT if self.output_needed_for_backward else KEEPS_INPUT

    def torch(self, p, ins, out):
        return TorchModule(self.torch_cls)


@register
class ReLU(_Activation):
    """Rectified linear unit, max(0, x). In place when nothing else reads its input."""

    name = "ReLU"
    torch_types = ("torch.nn.modules.activation.ReLU",)
    torch_calls = ('relu', '.relu', 'relu_', '.relu_')
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


class _InplaceActivation(_Activation):
    """An activation torchvision runs in place (`nn.SiLU(inplace=True)`): in place when nothing
    else reads its input, unless written `inplace=false`. Backward reads its input (out of place
    the input itself, in place a copy autograd takes before overwriting it)."""

    Params = InplaceParams

    def saved(self, p, ins, out, trainable):
        return KEEPS_INPUT

    def torch(self, p, ins, out):
        return TorchModule(self.torch_cls, (), (("inplace", True),) if p.inplace is True else ())

    def inplace_slots(self, p, ins, out):
        return () if p.inplace is False else (0,)

    def torch_inplace(self, p, ins, out):
        return TorchModule(self.torch_cls, (), (("inplace", True),))


@register
class ReLU6(_InplaceActivation):
    """ReLU capped at 6, min(max(0, x), 6), as MobileNet v2 uses. `ReLU6`."""

    name = "ReLU6"
    torch_types = ("torch.nn.modules.activation.ReLU6",)
    torch_calls = ('relu6',)
    torch_cls = "nn.ReLU6"
    module_prefix = "relu6_"
    summary = "ReLU capped at 6"
    example = "ReLU6"


@register
class SiLU(_InplaceActivation):
    """Sigmoid linear unit, x * sigmoid(x) (Swish), as EfficientNet uses. `SiLU`, `Swish`."""

    name = "SiLU"
    torch_types = ("torch.nn.modules.activation.SiLU",)
    torch_calls = ('silu',)
    aliases = ("Swish",)
    torch_cls = "nn.SiLU"
    summary = "sigmoid linear unit (swish)"
    example = "SiLU"


@register
class Hardswish(_InplaceActivation):
    """Hard swish, x * relu6(x + 3) / 6, as MobileNet v3 uses. `Hardswish`, `HSwish`."""

    name = "Hardswish"
    torch_types = ("torch.nn.modules.activation.Hardswish",)
    torch_calls = ('hardswish',)
    aliases = ("HSwish",)
    torch_cls = "nn.Hardswish"
    summary = "hard swish"
    example = "Hardswish"


@register
class Hardsigmoid(_InplaceActivation):
    """Hard sigmoid, relu6(x + 3) / 6, MobileNet v3's squeeze-and-excitation gate.
    `Hardsigmoid`, `HSigmoid`."""

    name = "Hardsigmoid"
    torch_types = ("torch.nn.modules.activation.Hardsigmoid",)
    torch_calls = ('hardsigmoid',)
    aliases = ("HSigmoid",)
    torch_cls = "nn.Hardsigmoid"
    summary = "hard sigmoid"
    example = "Hardsigmoid"


@register
class Mish(_InplaceActivation):
    """Mish, x * tanh(softplus(x)). `Mish`."""

    name = "Mish"
    torch_types = ("torch.nn.modules.activation.Mish",)
    torch_calls = ('mish',)
    torch_cls = "nn.Mish"
    summary = "mish"
    example = "Mish"


class PReLUParams(Params):
    num_parameters: Annotated[int, Field(ge=1)] = 1
    init: float = 0.25


@register
class PReLU(_Activation):
    """Parametric ReLU: a learned slope for negative inputs, one shared (`PReLU`) or one per
    channel (`PReLU(64)`, the input's channels); `init` is the slopes' start, 0.25."""

    name = "PReLU"
    torch_types = ("torch.nn.modules.activation.PReLU",)
    Params = PReLUParams
    keywords = {"n": "num_parameters"}
    summary = "parametric rectified linear unit"

    def from_torch(self, module, ins, out):
        return {"num_parameters": module.num_parameters, "init": module.init}
    example = "PReLU(64)"

    def infer(self, p, ins, ctx):
        shape = ins[0]
        if p.num_parameters != 1 and p.num_parameters != shape[0]:
            unit = "channels" if len(shape) > 1 else "features"
            raise ShapeError(f"PReLU has {p.num_parameters} slopes but its input has {shape[0]} "
                             f"{unit}", hint=f"give it 1 slope or one per {unit[:-1]}",
                             arg="num_parameters", code="bad-slopes")
        return shape

    def param_count(self, p, ins, out):
        return p.num_parameters

    def saved(self, p, ins, out, trainable):
        return KEEPS_INPUT  # prelu's backward reads the input (and its weight, a parameter)

    def torch(self, p, ins, out):
        return TorchModule("nn.PReLU", (), kwargs_without_defaults(
            [("num_parameters", p.num_parameters, 1), ("init", p.init, 0.25)]))

    def label(self, p, ins, out):
        return "PReLU" if p.num_parameters == 1 else f"PReLU({p.num_parameters})"


class EluParams(Params):
    alpha: float = 1.0


@register
class ELU(_Activation):
    """Exponential linear unit. `ELU`, `ELU(alpha=0.5)`."""

    name = "ELU"
    torch_types = ("torch.nn.modules.activation.ELU",)
    Params = EluParams
    output_needed_for_backward = True
    summary = "exponential linear unit"

    def from_torch(self, module, ins, out):
        return None if module.inplace else {"alpha": module.alpha}
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
    torch_types = ("torch.nn.modules.activation.LeakyReLU",)
    aliases = ("LReLU",)
    Params = LeakyParams
    keywords = {"slope": "negative_slope"}
    summary = "leaky rectified linear unit"

    def from_torch(self, module, ins, out):
        return None if module.inplace else {"negative_slope": module.negative_slope}
    example = "LeakyReLU(0.1)"

    def torch(self, p, ins, out):
        slope = p.negative_slope
        return TorchModule("nn.LeakyReLU", (slope,) if slope != 0.01 else ())


@register
class Tanh(_Activation):
    """Hyperbolic tangent, as LeNet-5 uses."""

    name = "Tanh"
    torch_types = ("torch.nn.modules.activation.Tanh",)
    torch_calls = ('tanh', '.tanh')
    torch_cls = "nn.Tanh"
    output_needed_for_backward = True
    summary = "hyperbolic tangent"
    example = "Tanh"


@register
class Sigmoid(_Activation):
    """Logistic sigmoid."""

    name = "Sigmoid"
    torch_types = ("torch.nn.modules.activation.Sigmoid",)
    torch_calls = ('sigmoid', '.sigmoid')
    torch_cls = "nn.Sigmoid"
    output_needed_for_backward = True
    summary = "logistic sigmoid"
    example = "Sigmoid"


@register
class GELU(_Activation):
    """Gaussian error linear unit."""

    name = "GELU"
    torch_types = ("torch.nn.modules.activation.GELU",)
    torch_cls = "nn.GELU"
    summary = "Gaussian error linear unit"
    example = "GELU"

    def from_torch(self, module, ins, out):
        return {} if module.approximate == "none" else None


class SoftmaxParams(Params):
    dim: int = 1


@register
class SM(_Activation):
    """Softmax over the channels (outputs are >= 0 and sum to 1). `SM`, `Softmax`, `soft-max`."""

    name = "SM"
    torch_types = ("torch.nn.modules.activation.Softmax",)
    aliases = ("Softmax", "SoftMax", "soft-max")
    family = "output"
    Params = SoftmaxParams
    output_needed_for_backward = True
    module_prefix = "softmax"
    summary = "softmax"

    def from_torch(self, module, ins, out):
        return None if module.dim is None else {"dim": module.dim}
    example = "SM"

    def infer(self, p, ins, ctx):
        rank = len(ins[0]) + 1  # the batch's dimension too, as nn.Softmax sees the tensor
        if not -rank <= p.dim < rank:
            raise ShapeError(f"Softmax over dimension {p.dim}, but its input (a batch of "
                             f"{'x'.join(str(d) for d in ins[0])}) has {rank} dimensions",
                             arg="dim", code="rank-mismatch",
                             hint=f"dim is from {-rank} to {rank - 1}; 1 is the channels")
        return ins[0]

    def torch(self, p, ins, out):
        return TorchModule("nn.Softmax", (), (("dim", p.dim),))

    def label(self, p, ins, out):
        return "Softmax"
