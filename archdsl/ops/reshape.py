"""Rearranging a tensor without computing: Permute (a module, a view), ChannelShuffle
(ShuffleNet's functional shuffle, a copy) and Pad (a border of a constant, functional)."""

from __future__ import annotations

from archdsl.ops.base import (
    NOTHING_SAVED,
    RF,
    Functional,
    NonNegInt,
    Op,
    Params,
    PositiveInt,
    ShapeError,
    TorchModule,
    fmt_shape,
)
from archdsl.ops.registry import register

PERMUTE_SOURCE = '''
class Permute(nn.Module):
    """The input's dimensions in the order `dims`, a view (torchvision.ops.misc.Permute)."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, self.dims)
'''


class PermuteParams(Params):
    # torch's dimensions, the batch's 0 first: `Permute(0, 2, 3, 1)` (a vector has two)
    d0: int
    d1: int
    d2: int | None = None
    d3: int | None = None


@register
class Permute(Op):
    """The dimensions in another order, as torch numbers them with the batch first:
    `Permute(0, 2, 3, 1)` makes a CxHxW map HxWxC (channels last, for `LN(dims=1)` and
    `FC(n, flatten=false)`), `Permute(0, 3, 1, 2)` turns it back. A module holding `dims`, as
    torchvision's ConvNeXt writes it (`Permute([0, 2, 3, 1])`)."""

    name = "Permute"
    family = "shape"
    Params = PermuteParams
    elementwise = True
    summary = "reorder dimensions (batch first, as torch numbers them)"
    torch_types = ("torchvision.ops.misc.Permute",)
    torch_calls = ("permute", ".permute")

    def from_torch(self, module, ins, out):
        return dict(zip(("d0", "d1", "d2", "d3"), module.dims, strict=False))

    def from_torch_call(self, name, args, kwargs, ins, out):
        dims = kwargs.get("dims", args[0] if len(args) == 1 else args)
        dims = tuple(dims) if isinstance(dims, (list, tuple)) else ()
        if len(dims) != len(ins[0]) + 1 or not all(isinstance(d, int) for d in dims):
            return None
        return dict(zip(("d0", "d1", "d2", "d3"), dims, strict=False))
    example = "Permute(0, 2, 3, 1)"
    helper_sources = {"Permute": PERMUTE_SOURCE}

    @staticmethod
    def dims(p) -> tuple[int, ...]:
        return tuple(d for d in (p.d0, p.d1, p.d2, p.d3) if d is not None)

    def infer(self, p, ins, ctx):
        dims, rank = self.dims(p), len(ins[0]) + 1
        if len(dims) != rank:
            raise ShapeError(f"Permute needs {rank} dimensions for a {fmt_shape(ins[0])} input "
                             f"(the batch's 0 and {rank - 1} more), got {len(dims)}",
                             code="rank-mismatch", arg="d0",
                             hint=f"e.g. Permute({', '.join(map(str, range(rank)))})")
        if sorted(dims) != list(range(rank)) or dims[0] != 0:
            raise ShapeError(f"Permute({', '.join(map(str, dims))}) is not an order of the "
                             f"dimensions 0..{rank - 1} with the batch's 0 first",
                             code="bad-argument", arg="d0",
                             hint="list each dimension once, 0 first: Permute(0, 2, 3, 1)")
        return tuple(ins[0][d - 1] for d in dims[1:])

    def is_view(self, p, ins, out):
        return True

    def saved(self, p, ins, out, trainable):
        return NOTHING_SAVED

    def torch(self, p, ins, out):
        return TorchModule("Permute", (list(self.dims(p)),), helper="Permute")

    def label(self, p, ins, out):
        return f"Permute {','.join(map(str, self.dims(p)))}"


class ChannelShuffleParams(Params):
    groups: PositiveInt


@register
class ChannelShuffle(Op):
    """ShuffleNet's channel shuffle: the channels in `groups` groups, interleaved (channel
    `i * per_group + j` goes to `j * groups + i`), as torchvision's `channel_shuffle` function:
    `ChannelShuffle(2)`. An expression in `forward`, not a module."""

    name = "ChannelShuffle"
    aliases = ("Shuffle",)
    family = "shape"
    Params = ChannelShuffleParams
    keywords = {"g": "groups"}
    module = False
    elementwise = True
    summary = "channel shuffle (ShuffleNet)"
    # torchvision's function, which the importer keeps whole instead of tracing its reshapes
    torch_calls = ("channel_shuffle",)

    def from_torch_call(self, name, args, kwargs, ins, out):
        return {"groups": kwargs.get("groups", args[0] if args else None)}
    example = "ChannelShuffle(2)"

    def infer(self, p, ins, ctx):
        if len(ins[0]) != 3:
            raise ShapeError("ChannelShuffle needs a feature map", code="rank-mismatch")
        c = ins[0][0]
        if c % p.groups:
            raise ShapeError(f"ChannelShuffle's {p.groups} groups do not divide the {c} "
                             "channels", arg="groups", code="bad-groups",
                             hint=f"use a number of groups that divides {c}")
        return ins[0]

    def is_view(self, p, ins, out):
        # with one group, or one channel per group, the transpose moves a dimension of size 1:
        # the tensor is still contiguous and `contiguous()` copies nothing
        return p.groups == 1 or p.groups == ins[0][0]

    def torch(self, p, ins, out):
        # torchvision's view(n, g, c // g, h, w) - transpose(1, 2) - contiguous - view(n, c, h, w)
        return Functional("torch.flatten({0}.unflatten(1, ({groups}, -1)).transpose(1, 2), 1, 2)",
                          (("groups", p.groups),))

    def label(self, p, ins, out):
        return f"Shuffle /{p.groups}"


class PadParams(Params):
    # torch's order (`F.pad(x, (left, right, top, bottom))`)
    left: NonNegInt = 0
    right: NonNegInt = 0
    top: NonNegInt = 0
    bottom: NonNegInt = 0
    value: float = 0.0


@register
class Pad(Op):
    """A border of `value` (0 by default) around the feature map, as torch's
    `F.pad(x, (left, right, top, bottom))` writes it: `Pad(0, 1, 0, 1)` makes an odd size even
    (a forward's `if x.shape[-1] % 2: x = F.pad(x, (0, 1, 0, 1))`, read for one input size)."""

    name = "Pad"
    aliases = ("ConstantPad",)
    family = "shape"
    Params = PadParams
    module = False
    summary = "constant border (torch's F.pad order: left, right, top, bottom)"
    torch_calls = ("pad",)
    example = "Pad(0, 1, 0, 1)"

    def from_torch_call(self, name, args, kwargs, ins, out):
        sizes = kwargs.get("pad", args[0] if args else None)
        mode = kwargs.get("mode", args[1] if len(args) > 1 else "constant")
        value = kwargs.get("value", args[2] if len(args) > 2 else None)
        if mode != "constant" or len(ins[0]) != 3 or not isinstance(sizes, (list, tuple)) or \
                len(sizes) not in (2, 4) or not all(isinstance(s, int) and s >= 0 for s in sizes) \
                or not any(sizes):  # a pad by nothing is the identity (Id)
            return None
        found = dict(zip(("left", "right", "top", "bottom"), sizes, strict=False))
        return {**found, "value": float(value or 0.0)}

    def infer(self, p, ins, ctx):
        if len(ins[0]) != 3:
            raise ShapeError("Pad pads feature maps, and this is a vector", code="rank-mismatch")
        c, h, w = ins[0]
        return (c, h + p.top + p.bottom, w + p.left + p.right)

    def rf(self, p, ins=None, out=None):
        return RF((1, 1), (1, 1), (p.top, p.left))

    def saved(self, p, ins, out, trainable):
        return NOTHING_SAVED

    def torch(self, p, ins, out):
        return Functional("torch.nn.functional.pad({0}, ({left}, {right}, {top}, {bottom}), "
                          "value={value})",
                          tuple((k, getattr(p, k)) for k in ("left", "right", "top", "bottom",
                                                              "value")))

    def label(self, p, ins, out):
        return f"Pad {p.left},{p.right},{p.top},{p.bottom}"
