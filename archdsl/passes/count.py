"""Counting: parameters, buffers, MACs and activations per layer, and the model's totals.

Contract: `count(ir, limits)` fills `ann.param_count`, `ann.buffer_count`, `ann.macs` and
`ann.activations` for every node (using the op catalog's rules; conventions in
`archdsl.ops.base`) and returns `Totals`. A figure a layer's kind cannot know (`unknown_figures`:
an opaque layer's MACs) counts 0 in the sums, and `Totals.not_counted` names the layer. It
allocates nothing: a model with a trillion parameters is counted as fast as LeNet. Parameter
totals beyond `limits.max_params` are an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from archdsl.diagnostics import Diagnostic
from archdsl.ir import ModelIR
from archdsl.limits import Limits

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1, "float64": 8}


@dataclass(frozen=True)
class Totals:
    params: int
    trainable: int
    frozen: int
    buffers: int
    macs: int
    activations: int  # output elements per sample, excluding the input (the notes' "nodes")
    input_elements: int
    # layers whose kind cannot know some figures (an opaque layer's MACs and saved tensors):
    # (layer, those figures), in graph order; the sums above leave them out
    not_counted: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def uncounted(self, figure: str) -> list[str]:
        """The layers whose `figure` ("macs", "saved") the totals leave out."""
        return [layer for layer, figures in self.not_counted if figure in figures]

    def param_bytes(self, dtype: str = "float32") -> int:
        return self.params * DTYPE_BYTES[dtype]

    def activation_bytes(self, dtype: str = "float32", batch: int = 1) -> int:
        return self.activations * DTYPE_BYTES[dtype] * batch


def count(ir: ModelIR, limits: Limits) -> tuple[Totals, list[Diagnostic]]:
    params = trainable = buffers = macs = acts = 0
    diags: list[Diagnostic] = []
    not_counted = []
    for node in ir.graph.order():
        ann = node.ann
        if ann.failed or ann.out_shape is None or node.key == ir.input_key:
            continue
        ins, out, p = list(ann.in_shapes), ann.out_shape, ann.params
        ann.param_count = node.op.param_count(p, ins, out)
        ann.buffer_count = node.op.buffer_count(p, ins, out)
        ann.macs = node.op.macs(p, ins, out)
        ann.activations = node.op.activations(p, ins, out)
        ann.frozen = node.frozen
        if node.op.unknown_figures:
            not_counted.append((node.display, tuple(node.op.unknown_figures)))
        params += ann.param_count
        if not node.frozen:
            trainable += ann.param_count
        buffers += ann.buffer_count
        macs += ann.macs
        acts += ann.activations
        if ann.param_count > limits.max_params:
            diags.append(Diagnostic("limit-exceeded", f"{node.display} has "
                                    f"{ann.param_count:,} parameters, more than the limit of "
                                    f"{limits.max_params:,}", node.span,
                                    "lower its sizes, or raise the limit max_params"))
    if params > limits.max_params and not diags:
        diags.append(Diagnostic("limit-exceeded", f"the model has {params:,} parameters, more "
                                f"than the limit of {limits.max_params:,}", ir.span,
                                "raise the limit max_params if this is intended"))
    input_elements = 1
    for d in ir.settings.input:
        input_elements *= d
    return Totals(params, trainable, params - trainable, buffers, macs, acts,
                  input_elements, tuple(not_counted)), diags
