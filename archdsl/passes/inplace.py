"""Which ReLUs run in place.

Contract: `inplace_relus(ir)` returns the keys of ReLU nodes (with `inplace=auto`, or `true`) that
may overwrite their input: the input is a fresh tensor (not a view, not the model's or a block's
input, not something a Dropout passed through), nobody else reads it, and the layer that made it
does not need its output for backward. Code generation and the memory estimate both use it, so
they agree on what autograd saves.
"""

from __future__ import annotations

from archdsl.ir import ModelIR


def inplace_relus(ir: ModelIR) -> set[int]:
    graph = ir.graph
    out: set[int] = set()
    for node in graph.nodes:
        if node.op.name != "ReLU":
            continue
        choice = getattr(node.params, "inplace", "auto")
        if choice is False:
            continue
        if choice is True:
            out.add(node.key)
            continue
        inputs = graph.inputs(node.key)
        if len(inputs) != 1:
            continue
        src = inputs[0]
        if src.key == ir.input_key or not src.op.fresh_output:
            continue
        if src.op.name == "Shortcut":
            continue
        if src.op.output_needed_for_backward:
            continue
        if len(graph.consumers(src.key)) != 1:
            continue
        if any(src.key == scope.entry for scope in _entries(ir)):
            continue
        if any(src.key == key for _, key in ir.outputs):
            continue
        out.add(node.key)
    return out


def _entries(ir: ModelIR):
    return [s for s in ir.root.walk_scopes() if s.entry is not None and s.kind == "block"]
