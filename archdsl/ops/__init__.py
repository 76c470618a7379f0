"""The op catalog: every layer kind, declared once (see `archdsl.ops.base` for the contract)."""

from archdsl.ops import (  # noqa: F401  (register)
    activation,
    conv,
    linear,
    norm,
    opaque,
    pool,
    reshape,
    scale,
    structure,
    upsample,
)
from archdsl.ops.base import (
    RF,
    Ctx,
    Functional,
    Op,
    Params,
    Shape,
    ShapeError,
    TorchModule,
    fmt_shape,
)
from archdsl.ops.registry import (
    all_ops,
    ambiguous,
    for_torch_call,
    for_torch_type,
    input_op,
    lookup,
    names,
    vgg_token,
)

__all__ = ["RF", "Ctx", "Functional", "Op", "Params", "Shape", "ShapeError", "TorchModule",
           "all_ops", "ambiguous", "fmt_shape", "for_torch_call", "for_torch_type", "input_op",
           "lookup", "names", "vgg_token"]
