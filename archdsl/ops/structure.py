"""Structure: the model input, identity, merges (Add, Mul, Concat), channel slices, the automatic
residual shortcut, and dropout."""

from __future__ import annotations

from archdsl.ops.base import (
    NOTHING_SAVED,
    RF,
    Extra,
    Functional,
    Op,
    Params,
    PositiveInt,
    Probability,
    Saved,
    Shape,
    ShapeError,
    TorchModule,
    Update,
    fmt_shape,
    is_default,
    kwargs_without_defaults,
    prod,
)
from archdsl.ops.conv import conv_out
from archdsl.ops.registry import register


class InputParams(Params):
    shape: tuple[PositiveInt, ...]


@register
class Input(Op):
    """The model's input tensor (`input: 3x224x224`). Not written as a layer."""

    name = "Input"
    family = "io"
    is_input = True
    listed = False
    module = False
    Params = InputParams
    summary = "model input"
    example = "input: 3x224x224"

    def infer(self, p, ins, ctx):
        return tuple(p.shape)

    def activations(self, p, ins, out):
        return 0

    def torch(self, p, ins, out):
        return Functional("{0}")


@register
class Id(Op):
    """Identity: passes its input on. `Concat[Id, ...]` keeps the input beside new features."""

    name = "Id"
    aliases = ("Identity",)
    family = "merge"
    is_identity = True
    module = False
    elementwise = True
    summary = "identity"
    example = "Concat[Id, Conv(32, 3, p=1)]"
    torch_types = ("torch.nn.modules.linear.Identity",)
    # `.contiguous()`: the same values, only the memory layout differs; `F.pad` by nothing (a
    # U-Net's decoder padded to its skip's size, read for a size where they already match)
    torch_calls = (".contiguous", "pad")

    def from_torch_call(self, name, args, kwargs, ins, out):
        return {} if tuple(ins[0]) == tuple(out) else None

    def passes_through(self, p, ins, out):
        return True

    def is_view(self, p, ins, out):
        return True

    def torch(self, p, ins, out):
        return Functional("{0}")


class DropoutParams(Params):
    p: Probability = 0.5
    inplace: bool = False


@register
class Dropout(Op):
    """Dropout with drop probability p (in training only). `Dropout(0.5)`; `inplace=true`
    overwrites its input, as torchvision's classifiers write `nn.Dropout(p=0.2, inplace=True)`."""

    name = "Dropout"
    aliases = ("Drop", "DropOut")
    family = "dropout"
    Params = DropoutParams
    keywords = {"rate": "p", "prob": "p"}
    elementwise = True
    summary = "dropout"
    example = "Dropout(0.5)"
    torch_types = ("torch.nn.modules.dropout.Dropout",)
    torch_calls = ("dropout",)

    def from_torch(self, module, ins, out):
        return {"p": module.p, "inplace": module.inplace}

    def from_torch_call(self, name, args, kwargs, ins, out):
        # F.dropout(x, p, training, inplace): the module drops in training only, as it does
        given = {**dict(zip(("p", "training", "inplace"), args, strict=False)), **kwargs}
        return {"p": float(given.get("p", 0.5)), "inplace": bool(given.get("inplace", False))}
    eval_identity = True

    def saved(self, p, ins, out, trainable):
        # on CPU torch multiplies by a mask of the input's dtype (on CUDA: a bool mask)
        return Saved(extra=(Extra("mask", prod(ins[0])),)) if p.p > 0 else NOTHING_SAVED

    def is_view(self, p, ins, out):
        return p.p == 0 or p.inplace  # torch returns the input itself, or overwrites it

    def torch(self, p, ins, out):
        if p.inplace:  # torchvision writes both by keyword
            return TorchModule("nn.Dropout", (), (("p", p.p), ("inplace", True)))
        return TorchModule("nn.Dropout", () if is_default(p.p, 0.5) else (p.p,))

    def label(self, p, ins, out):
        return f"Dropout {p.p:g}"


def _same_rank(ins: list[Shape], name: str) -> None:
    ranks = {len(s) for s in ins}
    if len(ranks) > 1:
        raise ShapeError(f"{name} cannot merge feature maps with vectors: got "
                         + ", ".join(fmt_shape(s) for s in ins), code="shape-mismatch")


@register
class Add(Op):
    """Elementwise sum of its branches: `Add[branch, branch]` (a residual connection)."""

    fresh_output = True
    name = "Add"
    aliases = ("Sum",)
    family = "merge"
    arity = None
    module = False
    summary = "sum of branches"
    torch_calls = ("add", ".add", "iadd", ".add_")

    def from_torch_call(self, name, args, kwargs, ins, out):
        return {} if len(ins) >= 2 and not args and not kwargs else None
    example = "Add[Conv(64, 3, p=1) - BN, Id]"
    glyph = "+"

    def infer(self, p, ins, ctx):
        _same_rank(ins, self.name)
        if len(set(ins)) > 1:
            raise ShapeError("Add needs branches of equal shape, got "
                             + " and ".join(fmt_shape(s) for s in ins), code="shape-mismatch",
                             hint="make the branches end with the same channels and size, or "
                                  "use Shortcut for the skip branch")
        return ins[0]

    def torch(self, p, ins, out):
        return Functional("{all: + }")

    def inplace_slots(self, p, ins, out):
        # either of two branches: `b += a` rounds exactly as `a + b` (addition commutes), but
        # `(c + a) + b` may differ from `(a + b) + c` in the last bit, so of more only the first
        return tuple(range(len(ins))) if len(ins) == 2 else (0,)

    def torch_inplace(self, p, ins, out):
        return Update("+", "add_")  # `out += identity`, as torchvision's Bottleneck writes it


@register
class Mul(Op):
    """Elementwise product of two branches, broadcast over each sample's shape:
    `Mul[Id, GAP - Conv(8, 1) - ReLU - Conv(32, 1) - Sigmoid]` scales each channel of the input
    by a gate (squeeze-and-excitation, torchvision's `scale * input`). Each dimension must be
    equal or 1 in one of them; the result takes the larger."""

    fresh_output = True
    name = "Mul"
    aliases = ("Multiply", "Product")
    family = "merge"
    arity = None
    module = False
    summary = "elementwise product of two branches (broadcast)"
    torch_calls = ("mul", ".mul", "imul", ".mul_")

    def from_torch_call(self, name, args, kwargs, ins, out):
        return {} if len(ins) == 2 and not args and not kwargs else None
    example = "Mul[Id, GAP - Conv(8, 1) - ReLU - Conv(32, 1) - Sigmoid]"
    glyph = "×"

    def infer(self, p, ins, ctx):
        if len(ins) != 2:
            raise ShapeError(f"Mul multiplies two branches, got {len(ins)}", code="shape-mismatch",
                             hint="nest it: Mul[a, Mul[b, c]]")
        _same_rank(ins, self.name)
        a, b = ins
        if any(x != y and 1 not in (x, y) for x, y in zip(a, b, strict=True)):
            raise ShapeError(f"Mul cannot broadcast {fmt_shape(a)} with {fmt_shape(b)}: each "
                             "dimension must be equal, or 1 in one of them",
                             code="shape-mismatch",
                             hint="a gate is Cx1x1 for a CxHxW map (pool it to 1x1 first)")
        return tuple(max(x, y) for x, y in zip(a, b, strict=True))

    def saved(self, p, ins, out, trainable):
        # mul keeps each factor for the other's gradient (the noise of dropout-like products
        # needs none, so it keeps only what a branch needing a gradient uses)
        return Saved(inputs=(0, 1), for_other_inputs=True)

    def torch(self, p, ins, out):
        return Functional("{0} * {1}")

    def label(self, p, ins, out):
        return "Multiply"


class ConcatParams(Params):
    crop: bool = False


# one branch cropped to the height and width of the last branch `{L}`, centred (U-Net's skip)
_CENTER_CROP = ("{i}[:, :, ({i}.size(2) - {L}.size(2)) // 2:({i}.size(2) + {L}.size(2)) // 2, "
                "({i}.size(3) - {L}.size(3)) // 2:({i}.size(3) + {L}.size(3)) // 2]")


@register
class Concat(Op):
    """Concatenation of its branches along the channels: `Concat[branch, branch, ...]`.

    `Concat(crop=true)[...]` first crops every branch, centred, to the height and width of the
    last one (U-Net's unpadded skip connection: the encoder's larger map written first, the
    upsampled decoder map last). The crop is a view; nothing more is kept for backward."""

    fresh_output = True
    name = "Concat"
    aliases = ("Cat", "Concatenate")
    family = "merge"
    arity = None
    module = False
    Params = ConcatParams
    summary = "channel concatenation of branches"
    torch_calls = ("cat", "concat", "concatenate")

    def from_torch_call(self, name, args, kwargs, ins, out):
        dim = kwargs.get("dim", args[0] if args else 0)
        return {} if len(ins) >= 2 and len(ins[0]) == 3 and dim in (1, -3) else None
    example = "Concat[Conv(64, 1), Conv(32, 3, p=1)]"
    concatenates = True

    def infer(self, p, ins, ctx):
        _same_rank(ins, self.name)
        if len(ins[0]) == 3:
            if p.crop:
                last = ins[-1]
                small = [s for s in ins[:-1] if s[1] < last[1] or s[2] < last[2]]
                if small:
                    raise ShapeError("Concat(crop=true) crops each branch to the last one's "
                                     f"{last[1]}x{last[2]}, and a branch is smaller: "
                                     + " and ".join(fmt_shape(s) for s in ins), arg="crop",
                                     code="shape-mismatch",
                                     hint="write the smallest branch (the upsampled map) last")
                return (sum(s[0] for s in ins), *last[1:])
            sizes = {s[1:] for s in ins}
            if len(sizes) > 1:
                raise ShapeError("Concat needs branches of equal height and width, got "
                                 + " and ".join(fmt_shape(s) for s in ins),
                                 code="shape-mismatch",
                                 hint="pad or stride the branches so they end at the same size, "
                                      "or crop them: Concat(crop=true)[...]")
            return (sum(s[0] for s in ins), *ins[0][1:])
        if p.crop:
            raise ShapeError("Concat(crop=true) crops feature maps, and these are vectors",
                             arg="crop", code="rank-mismatch")
        return (sum(s[0] for s in ins),)

    def torch(self, p, ins, out):
        if not p.crop:
            return Functional("torch.cat([{all:, }], 1)")
        last = len(ins) - 1
        # cropped at run time, from the tensors' sizes: a block class serves any input size
        parts = [_CENTER_CROP.replace("{i}", f"{{{i}}}").replace("{L}", f"{{{last}}}")
                 for i in range(last)]
        return Functional("torch.cat([" + ", ".join([*parts, f"{{{last}}}"]) + "], 1)")

    def joins_unchanged(self, p) -> bool:
        return not p.crop

    def label(self, p, ins, out):
        return "Crop + Concat" if p.crop else self.name


class SliceParams(Params):
    start: int = 0
    end: int | None = None


@register
class Slice(Op):
    """Channels start..end of the input (end exclusive): `Slice(0, 256)`, `Slice(256)` for the rest.

    With Concat and Add it expresses dual-path blocks (DPN), which keep a residual and a dense
    part in one tensor."""

    name = "Slice"
    aliases = ("Split", "ChannelSlice")
    family = "merge"
    module = False
    elementwise = True
    summary = "channel slice"
    # `x.chunk(n, dim=1)[k]` (ShuffleNet): the importer passes the piece's index as `_item`
    torch_calls = (".chunk", "chunk")

    def from_torch_call(self, name, args, kwargs, ins, out):
        chunks = kwargs.get("chunks", args[0] if args else None)
        dim, item = kwargs.get("dim", args[1] if len(args) > 1 else 0), kwargs.get("_item")
        c = ins[0][0]
        if dim not in (1, -len(ins[0])) or item is None or not chunks or c % chunks:
            return None
        size = c // chunks
        return {"start": item * size, "end": None if item == chunks - 1 else (item + 1) * size}
    example = "Slice(0, 256)"

    Params = SliceParams

    def infer(self, p, ins, ctx):
        c = ins[0][0]
        end = c if p.end is None else p.end
        if 0 <= p.start and end <= c and end <= p.start:
            raise ShapeError(f"Slice({p.start}, {end}) is empty: it ends before it starts",
                             arg="end", code="bad-slice",
                             hint=f"the end comes after the start, e.g. Slice({p.start}, {c})")
        if not 0 <= p.start < end <= c:
            raise ShapeError(f"Slice({p.start}, {end}) is outside the {c} input channels",
                             arg="end" if end > c else "start", code="bad-slice",
                             hint=f"slice within 0..{c}")
        return (end - p.start, *ins[0][1:])

    def is_view(self, p, ins, out):
        return True

    def torch(self, p, ins, out):
        start = "" if p.start == 0 and not getattr(p.start, "symbolic", False) else "{start}"
        end = "" if p.end is None else "{end}"
        return Functional("{0}[:, " + start + ":" + end + "]", (("start", p.start), ("end", p.end)))

    def label(self, p, ins, out):
        return f"Slice {p.start}:{'' if p.end is None else p.end}"


class ShortcutParams(Params):
    eps: float = 1e-5


@register
class Shortcut(Op):
    """The skip branch of a residual Add: identity when the shapes agree, otherwise a 1x1
    convolution with the needed stride and channels followed by BatchNorm (ResNet's projection,
    named `downsample` with children `0` and `1`). `Add[ ..., Shortcut:downsample ]`."""

    name = "Shortcut"
    aliases = ("Skip", "Projection")
    family = "merge"
    is_skip_branch = True
    Params = ShortcutParams
    module_prefix = "shortcut"
    summary = "identity or projection shortcut"

    def from_torch(self, module, ins, out):
        # the projection's nn.Sequential(conv, BatchNorm): the importer compares it with
        # `projection()` for these arguments
        bn = module[-1] if len(module) == 2 else None
        return {"eps": bn.eps} if isinstance(getattr(bn, "eps", None), float) else None
    example = "Add[Conv(64, 3, s=2, p=1) - BN, Shortcut]"
    weight_init = {"conv": ("nn.Conv2d",), "affine": ("nn.BatchNorm2d",)}  # the projection

    def projects(self, ins: list[Shape], out: Shape) -> bool:
        return tuple(ins[0]) != tuple(out)

    def infer(self, p, ins, ctx):
        src, target = ins[0], ctx.target
        if target is None:
            raise ShapeError("Shortcut must be a branch of Add[...]", code="shortcut-outside-add",
                             hint="write Add[ main branch, Shortcut ]")
        if tuple(src) == tuple(target):
            return tuple(src)
        if len(src) != 3 or len(target) != 3:
            raise ShapeError("Shortcut can only project feature maps, got "
                             f"{fmt_shape(src)} to {fmt_shape(target)}", code="shape-mismatch")
        stride = self.stride(ins, target)
        if stride is None:
            raise ShapeError(f"Shortcut cannot map {fmt_shape(src)} onto {fmt_shape(target)} "
                             "with a strided 1x1 convolution", code="shape-mismatch",
                             hint="the other branch must shrink the size by a whole factor")
        return tuple(target)

    @staticmethod
    def stride(ins: list[Shape], target: Shape) -> int | None:
        h, th = ins[0][1], target[1]
        for s in range(1, h + 1):
            if conv_out(h, 1, s, 0, 1) == th and conv_out(ins[0][2], 1, s, 0, 1) == target[2]:
                return s
        return None

    def param_count(self, p, ins, out):
        return ins[0][0] * out[0] + 2 * out[0] if self.projects(ins, out) else 0

    def buffer_count(self, p, ins, out):
        return 2 * out[0] + 1 if self.projects(ins, out) else 0

    def macs(self, p, ins, out):
        return prod(out) * ins[0][0] if self.projects(ins, out) else 0

    def activations(self, p, ins, out):
        return prod(out) if self.projects(ins, out) else 0

    def rf(self, p, ins=None, out=None):
        if not ins or out is None or not self.projects(ins, out):
            return None
        stride = self.stride(ins, out) or 1
        return RF((1, 1), (stride, stride), (0, 0))  # a strided 1x1 convolution

    def saved(self, p, ins, out, trainable):
        if not self.projects(ins, out):
            return NOTHING_SAVED
        # the 1x1 convolution keeps its input; the BatchNorm keeps the convolution's output
        return Saved(inputs=(0,), extra=(Extra("projection", prod(out)),
                                         Extra("mean", out[0], 4, False),
                                         Extra("inverse std", out[0], 4, False)))

    def is_view(self, p, ins, out):
        return not self.projects(ins, out)

    def projection(self, p, in_channels, out_channels, stride) -> TorchModule:
        conv = TorchModule("nn.Conv2d", (in_channels, out_channels, 1), kwargs_without_defaults(
            [("stride", stride, 1), ("bias", False, True)]))
        bn = TorchModule("nn.BatchNorm2d", (out_channels,),
                         kwargs_without_defaults([("eps", p.eps, 1e-5)]))
        return TorchModule("nn.Sequential", (conv, bn))

    def passes_through(self, p, ins, out):
        return not self.projects(ins, out)

    def inner_folds(self, p, ins, out):
        from archdsl.ops.norm import BN

        return (("0", "1", BN()),) if self.projects(ins, out) else ()

    def torch(self, p, ins, out):
        if not self.projects(ins, out):
            return Functional("{0}")
        return self.projection(p, ins[0][0], out[0], self.stride(ins, out))

    def label(self, p, ins, out):
        if ins and out and self.projects(ins, out):
            stride = self.stride(ins, out)
            return f"Projection 1x1, {out[0]}" + (f", /{stride}" if stride != 1 else "")
        return "Identity"


__all__ = ["RF"]
