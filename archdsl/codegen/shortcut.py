"""Skip branches (`Op.is_skip_branch`, Shortcut) in block classes: a projection or the identity.

Contract: in a block class the shapes of a skip branch's input and target may be expressions of
the block's parameters, so whether it needs its projection may only be known when the class is
built. `conditional_projection(ir, node, sym)` says which: `(None, None)` when it is always the
identity, `(None, projection)` when it always projects, `(condition, projection)` when it
depends on the arguments (`in_channels != planes or stride != 1`). The constructor then sets the
attribute to `None` or the projection, and `forward` tests it (`archdsl.codegen.forward`).
"""

from __future__ import annotations

from archdsl.codegen.symbolic import SymbolicClass
from archdsl.codegen.text import render_call
from archdsl.expr import Sym, render_value
from archdsl.ir import ModelIR, Node


def projection_text(ir: ModelIR, node: Node, sym: SymbolicClass, indent: str = "") -> str:
    """The skip branch's projection as a constructor call, in the class's terms."""
    src = sym.shape(ir.graph.inputs(node.key)[0].key)
    call = node.op.projection(sym.params[node.key], src[0], sym.targets[node.key][0],
                              sym.target_jumps[node.key])
    return render_call(call, indent)


def conditional_projection(ir: ModelIR, node: Node,
                           sym: SymbolicClass) -> tuple[str | None, str | None]:
    """(condition, projection) for a skip branch in a block class; condition None when fixed."""
    src = sym.shape(ir.graph.inputs(node.key)[0].key)
    target = sym.targets[node.key]
    stride = sym.target_jumps[node.key]
    projection = projection_text(ir, node, sym)
    c_same = _same(src[0], target[0])
    s_one = _same(stride, 1)
    if c_same is True and s_one is True:
        return None, None
    if (c_same is False) or (s_one is False):
        return None, projection
    parts = []
    if c_same is None:
        parts.append(f"{render_value(src[0])} != {render_value(target[0])}")
    if s_one is None:
        parts.append(f"{render_value(stride)} != 1")
    return " or ".join(reversed(parts)), projection


def _same(a, b) -> bool | None:
    """True/False when two (possibly symbolic) numbers are known equal/unequal, else None."""
    sa, sb = Sym.lift(a), Sym.lift(b)
    if sa is None or sb is None:
        return a == b
    if not sa.symbolic and not sb.symbolic:
        return int(sa) == int(sb)
    if sa.poly is not None and sb.poly is not None and sa.poly == sb.poly:
        return True
    return None
