"""Text dumps of the pipeline's stages, for `--emit ast|ir|shapes` and golden tests.

Contract: deterministic text; `ast` is the parsed program, `ir` the elaborated graph (op,
parameters, inputs, source location; no shapes), `shapes` the graph with input and output shapes.
"""

from __future__ import annotations

import dataclasses

from archdsl.ir import Node
from archdsl.ops.base import fmt_shape
from archdsl.source import Span
from archdsl.syntax import ast


def dump_ast(program: ast.Program) -> str:
    lines: list[str] = []

    def visit(obj, indent: int, prefix: str = "") -> None:
        pad = "  " * indent
        if isinstance(obj, tuple):
            for item in obj:
                visit(item, indent, prefix)
            return
        if not dataclasses.is_dataclass(obj):
            lines.append(f"{pad}{prefix}{obj!r}")
            return
        fields = [f for f in dataclasses.fields(obj) if f.name not in ("span", "name_span",
                                                                       "key_span", "label_span",
                                                                       "id_span", "file",
                                                                       "source_spans")]
        simple = [(f.name, getattr(obj, f.name)) for f in fields
                  if not _nested(getattr(obj, f.name))]
        nested = [(f.name, getattr(obj, f.name)) for f in fields if _nested(getattr(obj, f.name))]
        where = ""
        span = getattr(obj, "span", None)
        if isinstance(span, Span):
            where = f"  @{span.location()}"
        attrs = " ".join(f"{k}={v!r}" for k, v in simple if v not in (None, (), False))
        lines.append(f"{pad}{prefix}{type(obj).__name__.rstrip('_')} {attrs}".rstrip() + where)
        for key, value in nested:
            if value in (None, ()):
                continue
            lines.append(f"{pad}  {key}:")
            visit(value, indent + 2)

    visit((*program.uses, *program.blocks, *program.models), 0)
    return "\n".join(lines) + "\n"


def _nested(value) -> bool:
    if dataclasses.is_dataclass(value):
        return True
    return isinstance(value, tuple) and any(dataclasses.is_dataclass(v) for v in value)


def _params_text(params) -> str:
    if params is None:
        return ""
    fields = type(params).model_fields
    defaults = {k: f.default for k, f in fields.items()}
    shown = [f"{k}={getattr(params, k)!r}" for k in fields
             if getattr(params, k) != defaults.get(k)]
    return ", ".join(shown)


def _node_line(node: Node, inputs: list[Node]) -> str:
    srcs = ", ".join(i.name or "input" for i in inputs)
    return f"{node.name} = {node.op.name}({_params_text(node.params)})({srcs})"


def dump_ir(model_ir) -> str:
    graph = model_ir.graph
    lines = [f"model {model_ir.name}"]
    for node in graph.order():
        if node.key == model_ir.input_key:
            lines.append(f"input {fmt_shape(model_ir.settings.input)}")
            continue
        lines.append(f"{_node_line(node, graph.inputs(node.key))}  @{node.span.location()}")
    for name, key in model_ir.outputs:
        lines.append(f"output {name} = {graph.node(key).name}")
    return "\n".join(lines) + "\n"


def dump_shapes(model) -> str:
    graph = model.graph
    lines = [f"model {model.name}"]
    for node in graph.order():
        if node.key == model.ir.input_key:
            lines.append(f"input: {fmt_shape(node.ann.out_shape)}")
            continue
        ins = " + ".join(fmt_shape(s) for s in node.ann.in_shapes)
        lines.append(f"{node.name}: {node.op.label(node.ann.params, list(node.ann.in_shapes), node.ann.out_shape)}"
                     f"  {ins} -> {fmt_shape(node.ann.out_shape)}")
    return "\n".join(lines) + "\n"
