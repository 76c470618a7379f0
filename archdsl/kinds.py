"""The public API for layer kinds written outside archdsl (docs/extending.md).

A kind is a subclass of `Op` declaring what the built-in kinds declare (`archdsl.ops.base` is the
full contract): a name, a `Params` schema, a shape rule, counts, saved-for-backward tensors, its
PyTorch form and a diagram label. `register_kind` adds it to the catalog for this process; a
package makes its kinds available to the command line through the entry-point group
`archdsl.kinds` (`ENTRY_POINT_GROUP`):

    [project.entry-points."archdsl.kinds"]
    Ghost = "ghost_kinds:Ghost"

Everything named here is kept stable; the rest of archdsl is not an API for plugins.
"""

from __future__ import annotations

from archdsl.ops.base import (
    NOTHING_SAVED,
    RF,
    Ctx,
    Extra,
    Functional,
    NonNegInt,
    NonNegPair,
    Op,
    Pair,
    Params,
    PositiveInt,
    Probability,
    Saved,
    Shape,
    ShapeError,
    TorchModule,
    fmt_pair,
    fmt_shape,
    kwargs_without_defaults,
    pair,
    prod,
)
from archdsl.plugins import ENTRY_POINT_GROUP, PluginError, register_kind

__all__ = ["ENTRY_POINT_GROUP", "NOTHING_SAVED", "RF", "Ctx", "Extra", "Functional", "NonNegInt",
           "NonNegPair", "Op", "Pair", "Params", "PluginError", "PositiveInt", "Probability",
           "Saved", "Shape", "ShapeError", "TorchModule", "fmt_pair", "fmt_shape",
           "kwargs_without_defaults", "pair", "prod", "register_kind"]
