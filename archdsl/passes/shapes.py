"""Shape inference and checking.

Contract: `infer_shapes(ir, limits)` walks the graph once in topological order and, for every
node, resolves `auto` parameters (a bare Conv's width, a bare FC's size), applies the op's shape
rule and records `ann.params`, `ann.in_shapes` and `ann.out_shape`. A rule's complaint becomes a
diagnostic on the layer (on the offending argument when the rule names one), with the block calls
that led there as notes and, for merges, the shape of each branch. The node and everything after
it are marked failed and skipped, so one mistake gives one error; independent mistakes are all
reported. Returns the diagnostics (empty when the model checks).
"""

from __future__ import annotations

import math
from dataclasses import replace

from archdsl.diagnostics import Diagnostic, Note
from archdsl.ir import ModelIR, Node
from archdsl.limits import Limits
from archdsl.ops.base import Ctx, Shape, ShapeError, fmt_shape


def infer_shapes(ir: ModelIR, limits: Limits) -> list[Diagnostic]:
    graph = ir.graph
    settings = ir.settings
    model_input = tuple(settings.input)
    weighted_after = _WeightedAfter(ir)
    # rules only read the context, so all layers share two (Shortcuts get their own)
    contexts = {flag: Ctx(model_input=model_input, classes=settings.classes,
                          is_classifier=flag) for flag in (False, True)}
    max_elements = limits.max_tensor_elements
    diags: list[Diagnostic] = []
    for node in graph.order():
        ann = node.ann
        if node.key == ir.input_key:
            ann.params = node.params
            ann.out_shape = model_input
            continue
        inputs = graph.feeding(node.key)
        ins = _shapes(inputs)
        if ins is None:
            ann.failed = True
            continue
        ctx = contexts[False]
        if node.op.reads_is_classifier:
            ctx = contexts[not weighted_after(node.key)]
        merge = graph.target_of(node.key)
        if merge is not None:
            others = tuple(n for n in graph.feeding(merge) if n.key != node.key)
            if _shapes(others) is None:
                ann.failed = True
                continue
            ctx = replace(ctx, target=others[0].ann.out_shape if others else None)
        try:
            if node.op.held_by_class and node.scope is not None and \
                    node.scope.kind not in ("model", "block"):
                raise ShapeError(f"{node.op.name} is a parameter of the block it is written in, "
                                 f"and a labelled group ('{node.scope.name}', an nn.Sequential) "
                                 "holds modules only", code="parameter-placement",
                                 hint="write it in the block's (or model's) own chain, outside "
                                      "the group")
            params = node.op.resolve(node.params, ins, ctx)
            out = tuple(node.op.infer(params, ins, ctx))
            if math.prod(out) > max_elements:
                raise ShapeError(f"the output {fmt_shape(out)} has more than "
                                 f"{max_elements:,} elements per sample",
                                 code="limit-exceeded",
                                 hint="lower the sizes, or raise the limit max_tensor_elements")
        except ShapeError as err:
            ann.failed = True
            diags.append(_diagnostic(ir, node, err, inputs))
            continue
        ann.params = params
        ann.in_shapes = ins
        ann.out_shape = out
    return diags


def _shapes(inputs: tuple[Node, ...]) -> tuple[Shape, ...] | None:
    """The output shapes of `inputs`, or None when one of them has none (it failed)."""
    if len(inputs) == 1:  # the common case, without a loop
        ann = inputs[0].ann
        return None if ann.out_shape is None or ann.failed else (ann.out_shape,)
    for node in inputs:
        if node.ann.out_shape is None or node.ann.failed:
            return None
    return tuple(node.ann.out_shape for node in inputs)


class _WeightedAfter:
    """Whether a `weighted` layer (Conv, FC) lies downstream of a node (an FC without one is
    the classifier):
    worked out on demand, each node at most once, so asking about the last layer is cheap."""

    def __init__(self, ir: ModelIR):
        self.graph = ir.graph
        self.known: dict[int, bool] = {}

    def __call__(self, key: int) -> bool:
        graph, known = self.graph, self.known
        stack = [key]
        while stack:  # a depth-first walk without recursion: graphs can be 10,000 layers long
            current = stack[-1]
            if current in known:
                stack.pop()
                continue
            consumers = list(graph.consumer_keys(current))
            if any(known.get(c) or graph.node(c).op.weighted for c in consumers):
                known[current] = True
            else:
                unknown = [c for c in consumers if c not in known]
                if unknown:
                    stack.extend(unknown)
                    continue
                known[current] = False
            stack.pop()
        return known[key]


def _diagnostic(ir: ModelIR, node: Node, err: ShapeError, inputs: tuple[Node, ...]
                ) -> Diagnostic:
    span = node.span
    if err.arg and err.arg in node.arg_exprs:
        span = node.arg_exprs[err.arg].span
    message = f"{node.label}: {err.message}" if node.label else err.message
    diag = Diagnostic(err.code, message, span, err.hint)
    if node.op.arity is None and len(inputs) > 1:
        for i in inputs:
            if i.ann.out_shape is not None:
                diag = diag.with_note(f"this branch outputs {fmt_shape(i.ann.out_shape)}",
                                      i.span if i.key != ir.input_key else None)
    for call in reversed(node.trace):
        diag = diag.with_note(f"in block {call.block}, called here", call.span)
    return diag


__all__ = ["Note", "infer_shapes"]
