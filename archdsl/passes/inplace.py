"""Which layers run in place: ReLUs, and the Adds of residual connections.

Contract: `inplace_layers(ir)` maps each layer that overwrites one of its inputs with its result
to the input slot it overwrites. The catalog says which inputs a layer may overwrite
(`Op.inplace_slots()`: a ReLU its input; an Add either of two branches, or the first of more);
this pass takes the first of them that is safe to overwrite:

- it is a fresh tensor: the layer that made it always writes new storage (`Op.fresh_output`), so
  it is not a view, not the model's input, and not something an identity `Id`/`Shortcut` or a
  Dropout passed on (in eval mode Dropout returns its input itself);
- nobody else reads it: its layer has this one consumer, which takes it once, it is not a model
  output, and it does not enter a block (a block's input is its caller's variable);
- the layer that made it does not keep its output for backward (`Op.saved()`; ReLU, tanh,
  sigmoid and softmax do, BatchNorm and convolutions keep their input), so autograd's version
  check cannot trip. The other inputs of an Add are only read, and nothing aliases the
  overwritten one, so what their layers keep stays intact.

A ReLU written `inplace=true` runs in place regardless, `inplace=false` never. Decisions are per
node: a block class is shared only by instances whose generated text (and so whose in-place
choices) agree. Code generation and the memory estimate (an in-place layer's output shares the
overwritten input's storage) both use this, so they agree on what autograd saves. It reads only
the annotated graph and the op catalog; it does not import torch.
"""

from __future__ import annotations

from archdsl.ir import ModelIR, Node


def inplace_layers(ir: ModelIR) -> dict[int, int]:
    graph = ir.graph
    blocked = {ir.input_key, *(key for _, key in ir.outputs),
               *(s.entry for s in ir.root.walk_scopes() if s.entry is not None and
                 s.kind == "block")}
    out: dict[int, int] = {}
    for node in graph.nodes:
        ann = node.ann
        if ann.failed or ann.out_shape is None:
            continue
        p, ins = ann.params if ann.params is not None else node.params, list(ann.in_shapes)
        slots = node.op.inplace_slots(p, ins, ann.out_shape)
        if not slots:
            continue
        if getattr(node.params, "inplace", "auto") is True:
            out[node.key] = slots[0]
            continue
        inputs = graph.inputs(node.key)
        keys = [i.key for i in inputs]
        for slot in slots:
            src = inputs[slot]
            if keys.count(src.key) == 1 and src.key not in blocked and _overwritable(graph, src):
                out[node.key] = slot
                break
    return out


def _overwritable(graph, src: Node) -> bool:
    """A fresh tensor with one consumer, which its own layer does not keep for backward."""
    if not src.op.fresh_output or src.op.output_needed_for_backward:
        return False
    ann = src.ann
    if ann.failed or ann.out_shape is None or len(graph.consumers(src.key)) != 1:
        return False
    p, ins = ann.params if ann.params is not None else src.params, list(ann.in_shapes)
    return not any(src.op.saved(p, ins, ann.out_shape, trainable).output
                   for trainable in (True, False))
