"""An opaque layer: a module imported from PyTorch that archdsl cannot express (issue 18).

`archdsl import` (and `archdsl.from_torch`) writes one for a module whose computation the
language has no words for (a custom class, a `forward` with a Python `if` on its input's values):
what is known about it (its output shape, measured by running it, and its parameter count) is
written down, so the rest of the model still checks, counts and draws; what is not known (its
MACs, what autograd keeps for its backward, its receptive field) is shown as not counted, never
guessed. It cannot be compiled: code generation refuses it (`compile_refusal`).
"""

from __future__ import annotations

from archdsl.ops.base import FreeText, NonNegInt, Op, Params, PositiveInt, ShapeError, prod
from archdsl.ops.registry import register


class OpaqueParams(Params):
    out: tuple[PositiveInt, ...]
    params: NonNegInt = 0
    type: FreeText = "unknown"
    why: FreeText = "not given"


@register
class Opaque(Op):
    """A layer imported from PyTorch that archdsl cannot express: its output shape `out`
    (per sample: `(C, H, W)`, or `(F,)` for a vector), its parameter count `params`, the module's
    class `type` and `why` it could not be written in the language.
    `Opaque:coord(out=(34, 32, 32), params=9248, type="mypkg.CoordConv", why="unknown module
    type")`. It checks, counts its parameters and draws (a dashed box); its MACs and saved
    tensors are not counted, its receptive field not followed, and it cannot be compiled."""

    name = "Opaque"
    family = "opaque"
    Params = OpaqueParams
    keywords = {"shape": "out", "output": "out", "parameters": "params", "reason": "why"}
    summary = "a module imported from PyTorch that archdsl cannot express (not compiled)"
    example = 'Opaque:coord(out=(34, 32, 32), params=9248, type="mypkg.CoordConv", ' \
              'why="unknown module type")'
    ends_receptive_field = True  # its window is unknown: no field is given from it on
    field_ends_after = "an opaque layer"
    unknown_figures = ("macs", "saved")

    def check_params(self, p) -> None:
        if len(p.out) not in (1, 3):
            raise ShapeError(f"out has {len(p.out)} dimensions; give (C, H, W) for a feature "
                             "map or (F,) for a vector, per sample", arg="out",
                             code="bad-argument", hint="e.g. out=(64, 56, 56) or out=(10,)")

    def infer(self, p, ins, ctx):
        return tuple(p.out)

    def param_count(self, p, ins, out):
        return p.params

    def activations(self, p, ins, out):
        return prod(out)  # a new tensor of the shape it was seen to make

    def compile_refusal(self, p) -> str | None:
        return (f"is opaque: imported from {p.type}, which archdsl cannot express ({p.why}); "
                "it can be checked, summarised and drawn, not compiled")

    def torch(self, p, ins, out):
        # code generation asks `compile_refusal` first and never gets here
        raise NotImplementedError(f"an opaque layer ({p.type}) has no PyTorch form")

    def label(self, p, ins, out):
        return f"{p.type.rsplit('.', 1)[-1]} (opaque)"
