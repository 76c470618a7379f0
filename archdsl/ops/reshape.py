"""Rearranging a tensor without computing: Permute (a module, a view) and ChannelShuffle
(ShuffleNet's functional shuffle, a copy)."""

from __future__ import annotations

from archdsl.ops.base import (
    NOTHING_SAVED,
    Functional,
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

    def from_torch(self, module, ins, out):
        return dict(zip(("d0", "d1", "d2", "d3"), module.dims))
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
