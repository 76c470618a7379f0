"""Python source for a model: standalone, readable PyTorch that imports torch only.

Contract: `generate(model)` returns the source of a module with one `nn.Module` class per model
(named after it, built with no arguments), a class per block (shared by every instance whose
structure agrees; constructor arguments are the block's parameters and its input channels,
rendered as expressions), and helper classes an op needs (e.g. stochastic pooling). `forward` is
straight-line code with the output shape as a comment on each line of the model class and the
spec location of each layer beside its construction. Output is deterministic. The in-memory
builder executes exactly this source.

This module assembles the parts: the header and its imports, the helpers, the block classes and
the model class (its settings: side outputs, `init:`, `freeze:`, `transform_input:`). The rest
lives beside it, in the order code generation runs:
- `units`: which units (modules, expressions, blocks, groups) a class's `forward` calls;
- `symbolic`: a block's parameters and shapes as expressions of its arguments;
- `classes`: constructors, class bodies, one class per block structure;
- `forward` and `variables`: the statements of `forward` and the variables that hold values;
- `shortcut`: skip branches whose projection depends on a block's arguments;
- `helpers`, `weight_init`, `text`: helper sources, `_init_weights`, how values are written.
"""

from __future__ import annotations

import re

from archdsl.codegen.classes import ClassWriter, Imports, safe_class_name
from archdsl.codegen.helpers import HELPERS, TRANSFORM_INPUT, uses_functional
from archdsl.codegen.symbolic import SymbolicClass
from archdsl.codegen.text import comment, doc
from archdsl.codegen.weight_init import init_method
from archdsl.ir import ModelIR, Scope
from archdsl.ops.base import fmt_shape
from archdsl.passes.inplace import inplace_layers
from archdsl.version import __version__

# A call of an expression function that Python keeps in `math` (archdsl/expr_functions.py):
# the generated module then imports math. (A spec's text cannot produce this outside code.)
_MATH_CALL = re.compile(r"(?<![\w.])math\.[a-z]+\(")


def generate(model) -> str:
    ir: ModelIR = model.ir
    refuse_uncompilable(ir)
    model_class = class_name_of(model)
    writer = ClassWriter(ir, inplace_layers(ir), {model_class}, model_class)
    model_text = _model_class_text(model, writer)  # first: it finds the blocks and helpers
    writer.imports.math = any(_MATH_CALL.search(text) for text in
                              [model_text, *(text for _, text in writer.classes)])
    parts = [_header(model, writer.imports)]
    parts += [HELPERS[name].strip("\n") for name in sorted(writer.imports.helpers)]
    parts += [text for _, text in writer.classes]
    parts.append(model_text)
    return "\n\n\n".join(parts) + "\n"


def refuse_uncompilable(ir: ModelIR) -> None:
    """ArchError naming every layer that has no PyTorch form (`Op.compile_refusal`: an opaque
    layer imported from PyTorch), before any source is written: the source, the built module
    and every export come from here, so each refuses the same way."""
    from archdsl.diagnostics import Diagnostic, Reporter

    found = Reporter()
    for node in ir.graph.order():
        params = node.ann.params if node.ann.params is not None else node.params
        why = node.op.compile_refusal(params) if params is not None else None
        if why is not None:
            found.add(Diagnostic("not-compilable", f"layer '{node.display}' {why}", node.span,
                                 "write it with archdsl's layer kinds (or a plugin kind, "
                                 "docs/extending.md) to compile the model; `archdsl summary` "
                                 "and `archdsl render` work as it is"))
    found.raise_if_errors()


def class_name_of(model) -> str:
    return safe_class_name(model.name, set())


def _plugin_kinds(ir: ModelIR) -> dict[str, tuple[set[str], set[str]]]:
    """package -> (its layer kinds this model uses, the modules to import for them)."""
    found: dict[str, tuple[set[str], set[str]]] = {}
    for node in ir.graph.order():
        op = node.op
        if op.plugin or op.imports:
            kinds, modules = found.setdefault(op.package or op.imports[0], (set(), set()))
            kinds.add(op.name)
            modules.update(op.imports)
    return found


def _header(model, imports: Imports) -> str:
    spec = model.loaded
    origin = (str(spec.path) if spec.kind == "file" else
              f"the zoo spec {spec.path.stem}" if spec.kind == "zoo" else "a layer string")
    plugins = _plugin_kinds(model.ir)
    needs = [f"Needs the package {doc(package)} installed (layer kind"
             f"{'s' if len(kinds) > 1 else ''} {', '.join(sorted(kinds))})."
             for package, (kinds, _) in sorted(plugins.items())]
    lines = [f'"""{doc(model.name)}, compiled by archdsl {__version__} from {doc(origin)}.',
             "",
             "Generated code: regenerate it with `archdsl compile` rather than editing it.",
             *([""] + needs if needs else []),
             '"""', ""]
    if imports.math:
        lines.append("import math")
    if imports.ordered_dict:
        lines.append("from collections import OrderedDict")
    if imports.namedtuple:
        lines.append("from typing import NamedTuple")
    if imports.math or imports.ordered_dict or imports.namedtuple:
        lines.append("")
    lines.append("import torch")
    if uses_functional(imports.helpers):
        lines.append("import torch.nn.functional as F")
    lines.append("from torch import nn")
    modules = sorted({m for _, ms in plugins.values() for m in ms})
    if modules:
        lines.append("")
        lines += [f"import {module}" for module in modules]
    return "\n".join(lines)


def _model_class_text(model, writer: ClassWriter) -> str:
    ir = model.ir
    name = writer.model_class
    sym = SymbolicClass(ir, ir.root, concrete=True)
    body = writer.class_body(ir.root, sym, is_model=True)
    settings = ir.settings
    multi = len(ir.outputs) > 1
    if multi:
        writer.imports.namedtuple = True
        body.init.append("        self.all_outputs = False  # eval returns every output "
                         "too when True")
    if settings.init.kind != "default":
        body.init.append("        self._init_weights()")
        body.methods.append(init_method(settings.init))
    frozen = _frozen_modules(ir)
    if frozen:
        body.init.append(f"        for name in {frozen!r}:  # freeze: "
                         f"{comment(', '.join(settings.freeze))}")
        body.init.append("            self.get_submodule(name).requires_grad_(False)")
    if settings.transform_input:
        body.methods.append(TRANSFORM_INPUT)
    if multi:
        names = [output for output, _ in ir.outputs]
        body.methods.append(
            "    @torch.jit.unused\n"
            f"    def _eager_outputs(self, {', '.join(names)}) -> {name}Outputs:\n"
            "        # torchvision's convention: eval mode returns the main output only\n"
            "        if self.training or self.all_outputs:\n"
            f"            return {name}Outputs({', '.join(names)})\n"
            f"        return {names[0]}  # type: ignore[return-value]")
    totals = model.totals
    docstring = (f'    """{doc(model.name)}: {fmt_shape(model.input_shape)} -> '
                 f'{fmt_shape(model.output_shape)}, {totals.params:,} parameters, '
                 f'{totals.macs:,} MACs."""')
    text = writer.class_text(name, docstring, ["self"], body,
                             base="nn.Sequential" if ir.root.sequential else "nn.Module")
    if multi:
        fields = "\n".join(f"    {output}: {'torch.Tensor' if i == 0 else 'torch.Tensor | None'}"
                           for i, (output, _) in enumerate(ir.outputs))
        text = (f"class {name}Outputs(NamedTuple):\n"
                f'    """The outputs of {doc(model.name)}, main first."""'
                f'\n\n{fields}\n\n\n'
                + text)
    return text


def _frozen_modules(ir: ModelIR) -> list[str]:
    """The fewest module names whose parameters, frozen, freeze exactly the frozen nodes."""
    frozen = {n.name for n in ir.graph.nodes if n.frozen and n.op.module}
    if not frozen:
        return []
    names: list[str] = []

    def visit(scope: Scope) -> None:
        for child in scope.children:
            nodes = list(child.walk_nodes()) if isinstance(child, Scope) else [child]
            modules = [n for n in nodes if n.op.module]
            if modules and all(n.name in frozen for n in modules):
                names.append(child.name)
            elif isinstance(child, Scope):
                visit(child)

    visit(ir.root)
    return names
