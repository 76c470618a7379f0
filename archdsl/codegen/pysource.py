"""Python source for a model: standalone, readable PyTorch that imports torch only.

Contract: `generate(model)` returns the source of a module with one `nn.Module` class per model
(named after it, built with no arguments), a class per block (shared by every instance whose
structure agrees; constructor arguments are the block's parameters and its input channels,
rendered as expressions), and helper classes an op needs (e.g. stochastic pooling). `forward` is
straight-line code with the output shape as a comment on each line of the model class and the
spec location of each layer beside its construction. Output is deterministic. The in-memory
builder executes exactly this source.
"""

from __future__ import annotations

import builtins
import keyword
from dataclasses import dataclass, field

from archdsl.codegen.symbolic import SymbolicClass
from archdsl.codegen.units import (
    Unit,
    appended_channels,
    aux_scope_of,
    class_units,
    is_dense_stack,
    needs_flatten,
    path_of,
)
from archdsl.expr import Sym, evaluate, expr_text, render_value
from archdsl.identifiers import CLASS_RESERVED
from archdsl.ir import ModelIR, Node, Scope
from archdsl.ops.base import Functional, TorchModule, Update, fmt_shape
from archdsl.ops.pool import STOCHASTIC_POOL_SOURCE
from archdsl.passes.inplace import inplace_layers
from archdsl.version import __version__

DENSE_STACK_SOURCE = '''
class DenseStack(nn.Sequential):
    """Layers that each append channels to their input, `cat([x, layer.new_features(x)], 1)`,
    run as torchvision runs a dense block: the new features are kept in a list and each layer
    reads their concatenation. The result is the same as calling the layers in turn; backward
    is faster, as each layer's gradient arrives whole, not as a slice of the next layer's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self:
            features.append(layer.new_features(torch.cat(features, 1)))
        return torch.cat(features, 1)
'''
HELPERS = {"StochasticPool2d": STOCHASTIC_POOL_SOURCE, "DenseStack": DENSE_STACK_SOURCE}
RESERVED_CLASS_NAMES = CLASS_RESERVED | set(HELPERS)


def generate(model) -> str:
    return _Generator(model).run()


def class_name_of(model) -> str:
    return _safe_class_name(model.name, set())


def _safe_class_name(name: str, taken: set[str]) -> str:
    base = name if name.isidentifier() and name.isascii() and not keyword.iskeyword(name) \
        else "Net_" + "".join(c if c.isalnum() else "_" for c in name)
    if base in RESERVED_CLASS_NAMES:
        base += "Net"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}{n}", n + 1
    return candidate


def render_call(call: TorchModule, indent: str = "", width: int = 100) -> str:
    """`cls(args)` on one line, or with one argument per line when that would be too long."""
    args = [render_arg(a) for a in call.args]
    args += [f"{k}={render_arg(v)}" for k, v in call.kwargs]
    flat = f"{call.cls}({', '.join(args)})"
    if len(indent) + len(flat) <= width or not any(isinstance(a, TorchModule)
                                                   for a in call.args):
        return flat
    inner = indent + "    "
    parts = [render_call(a, inner, width) if isinstance(a, TorchModule) else render_arg(a)
             for a in call.args] + [f"{k}={render_arg(v)}" for k, v in call.kwargs]
    return f"{call.cls}(\n" + "".join(f"{inner}{p},\n" for p in parts) + f"{indent})"


def render_arg(value) -> str:
    if isinstance(value, TorchModule):
        return render_call(value)
    if isinstance(value, list):
        return "[" + ", ".join(render_arg(v) for v in value) + "]"
    return render_value(value)


def _location(span) -> str:
    if span is None:
        return ""
    file, line, col, _ = span.located()
    return _comment(f"{file.name}:{line}:{col}")


def _comment(text: str) -> str:
    """Text from a spec or a file name, safe in a `#` comment: one line, control chars escaped."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _doc(text: str) -> str:
    """Text safe inside a triple-quoted docstring: it cannot end the string or escape."""
    return _comment(text.replace("\\", "\\\\")).replace('"""', '\\"\\"\\"')


@dataclass
class _Body:
    init: list[str] = field(default_factory=list)
    forward: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)


class _Generator:
    def __init__(self, model):
        self.model = model
        self.ir: ModelIR = model.ir
        self.inplace = inplace_layers(self.ir)  # node key -> the input slot it overwrites
        self.class_texts: dict[str, str] = {}  # body text -> class name
        self.class_order: list[tuple[str, str]] = []  # (name, full text), dependencies first
        self.taken: set[str] = set()
        self.helpers: set[str] = set()
        self.uses_ordered_dict = False
        self.uses_optional = False
        self.uses_namedtuple = False
        self.model_class = _safe_class_name(model.name, self.taken)
        self.taken.add(self.model_class)

    # --- assembling --------------------------------------------------------------------------------
    def run(self) -> str:
        model_text = self.model_class_text()
        parts = [self.header()]
        for name in sorted(self.helpers):
            parts.append(HELPERS[name].strip("\n"))
        for _, text in self.class_order:
            parts.append(text)
        parts.append(model_text)
        return "\n\n\n".join(parts) + "\n"

    def header(self) -> str:
        spec = self.model.loaded
        origin = (str(spec.path) if spec.kind == "file" else
                  f"the zoo spec {spec.path.stem}" if spec.kind == "zoo" else "a layer string")
        lines = [f'"""{_doc(self.model.name)}, compiled by archdsl {__version__} from '
                 f'{_doc(origin)}.',
                 "",
                 "Generated code: regenerate it with `archdsl compile` rather than editing it.",
                 '"""', ""]
        if self.uses_ordered_dict:
            lines.append("from collections import OrderedDict")
        typing_names = ["NamedTuple"] if self.uses_namedtuple else []
        if typing_names:
            lines.append(f"from typing import {', '.join(typing_names)}")
        if self.uses_ordered_dict or typing_names:
            lines.append("")
        lines.append("import torch")
        if any("F." in HELPERS[h] for h in self.helpers):
            lines.append("import torch.nn.functional as F")
        lines.append("from torch import nn")
        return "\n".join(lines)

    # --- constructors ------------------------------------------------------------------------------
    def ctor(self, node: Node, sym: SymbolicClass) -> str | None:
        params = sym.params[node.key]
        ins = [sym.shape(i.key) for i in self.ir.graph.inputs(node.key)]
        out = sym.shape(node.key)
        call = node.op.torch(params, ins, out)
        if isinstance(call, Functional):
            return None
        if node.key in self.inplace:
            call = node.op.torch_inplace(params, ins, out)
        if call.helper:
            self.helpers.add(call.helper)
        return render_call(call)

    def scope_ctor(self, scope: Scope, sym: SymbolicClass) -> str:
        if scope.kind == "block":
            return self.block_call(scope, sym)
        return self.sequential(scope, sym)

    def sequential(self, scope: Scope, sym: SymbolicClass, indent: str = "        ") -> str:
        items: list[tuple[str, str]] = []
        for child in scope.children:
            if isinstance(child, Scope):
                items.append((child.local, self.scope_ctor(child, sym)))
            elif child.op.module:
                text = self.ctor(child, sym)
                if text is not None:
                    items.append((child.local, text))
        inner = indent + "    "
        container = "nn.Sequential"
        if is_dense_stack(self.ir, scope):
            container = "DenseStack"
            self.helpers.add(container)
        if all(name == str(i) for i, (name, _) in enumerate(items)):
            body = "".join(f"{inner}{text},\n" for _, text in items)
            return f"{container}(\n{body}{indent})"
        self.uses_ordered_dict = True
        body = "".join(f'{inner}    ("{name}", {text}),\n' for name, text in items)
        return f"{container}(OrderedDict([\n{body}{inner}]))"

    def block_call(self, scope: Scope, sym: SymbolicClass) -> str:
        cls = self.block_class(scope)
        defn = scope.block.definition
        inner_env = sym.env_of(scope)
        args = [render_value(sym.shape(scope.entry)[0])]
        values = scope.block.values
        for param in defn.params:
            value = inner_env.get(param.name, values[param.name])
            if param.default is None:
                args.append(render_value(value))
                continue
            default = _constant_default(param)
            if default is None:  # an expression of other parameters, e.g. `width=planes`
                default = evaluate(param.default, values)
                if _same_expr(value, param.default, inner_env):
                    continue
            elif not getattr(value, "symbolic", False) and value == default and \
                    type(value) is type(default):
                continue
            args.append(f"{param.name}={render_value(value)}")
        return f"{cls}({', '.join(args)})"

    # --- block classes -------------------------------------------------------------------------------
    def block_class(self, scope: Scope) -> str:
        sym = SymbolicClass(self.ir, scope)
        defn = scope.block.definition
        body = self.class_body(scope, sym, is_model=False)
        sig = ["self", "in_channels: int" if len(sym.entry_shape) > 1 else "in_features: int"]
        late: list[str] = []
        for param in defn.params:
            value = scope.block.values[param.name]
            kind = {int: "int", float: "float", bool: "bool", str: "str"}.get(type(value))
            default = _constant_default(param)
            if param.default is None:
                sig.append(f"{param.name}: {kind}" if kind else param.name)
            elif default is not None:
                sig.append(f"{param.name}{': ' + kind if kind else ''} = {render_value(default)}")
            else:
                self.uses_optional = True
                sig.append(f"{param.name}: {kind or 'object'} | None = None")
                late.append(f"        if {param.name} is None:\n"
                            f"            {param.name} = {expr_text(param.default)}")
        body.init[:0] = late
        params_text = ", ".join(p.name + (f"={expr_text(p.default)}" if p.default is not None
                                          else "") for p in defn.params)
        doc = f'    """Block {_doc(f"{defn.name}({params_text}), {_location(defn.name_span)}")}."""'
        text = self.class_text("{NAME}", doc, sig, body, "x")
        if text in self.class_texts:
            return self.class_texts[text]
        name = _safe_class_name(defn.name, self.taken)
        self.taken.add(name)
        self.class_texts[text] = name
        self.class_order.append((name, text.replace("{NAME}", name, 1)))
        return name

    def class_text(self, name: str, doc: str, sig: list[str], body: _Body, arg: str) -> str:
        signature = ", ".join(sig)
        lines = [f"class {name}(nn.Module):", doc, ""]
        head = f"    def __init__({signature}) -> None:"
        if len(head) > 100:
            head = "    def __init__(\n" + "".join(f"        {s},\n" for s in sig) + \
                "    ) -> None:"
        lines.append(head)
        lines.append("        super().__init__()")
        lines.extend(body.init)
        lines.append("")
        lines.extend(body.forward)
        for method in body.methods:
            lines.append("")
            lines.append(method)
        return "\n".join(lines)

    # --- class bodies ------------------------------------------------------------------------------
    def class_body(self, root: Scope, sym: SymbolicClass, is_model: bool) -> _Body:
        body = _Body()
        for child in root.children:
            self.init_line(child, sym, body, is_model)
        self.forward_attrs: set[str] = set()
        appended = None if is_model else appended_channels(self.ir, root)
        if appended is None:
            body.forward = self.forward(root, sym, is_model)
        else:  # a dense layer: its new channels in a method of their own, for `DenseStack`
            new = self.forward(root, sym, is_model, until=appended)
            new[0] = "    def new_features(self, x: torch.Tensor) -> torch.Tensor:"
            new.insert(1, '        """The channels this layer appends to its input."""')
            concat = Unit(node=self.ir.graph.node(root.exit))
            expr = self.call_expr(concat, ["x", "self.new_features(x)"], root, sym)
            body.forward = ["    def forward(self, x: torch.Tensor) -> torch.Tensor:",
                            f"        return {expr}"]
            body.methods.append("\n".join(new))
        if self.forward_attrs:  # parameters forward reads (a channel slice), kept as attributes
            body.init[:0] = [f"        self.{name} = {name}" for name in sorted(self.forward_attrs)]
        return body

    def init_line(self, child, sym: SymbolicClass, body: _Body, is_model: bool) -> None:
        if isinstance(child, Scope):
            text = self.scope_ctor(child, sym)
            loc = _location(child.span)
            body.init.append(f"        self.{child.local} = {text}" + (f"  # {loc}" if loc and
                                                                          "\n" not in text else ""))
            return
        if not child.op.module:
            return
        loc = f"  # {_location(child.span)}" if child.span is not None else ""
        if child.op.name == "Shortcut" and not sym.concrete:
            cond, text = self.conditional_shortcut(child, sym)
            if cond is None:
                if text is not None:
                    body.init.append(f"        self.{child.local} = {text}{loc}")
                return
            self.uses_optional = True
            body.init.append(f"        self.{child.local}: nn.Module | None = None{loc}")
            body.init.append(f"        if {cond}:")
            text = self._projection_text(child, sym, "            ")
            body.init.append(f"            self.{child.local} = {text}")
            return
        text = self.ctor(child, sym)
        if text is not None:
            body.init.append(f"        self.{child.local} = {text}{loc}")

    def _projection_text(self, node: Node, sym: SymbolicClass, indent: str) -> str:
        src = sym.shape(self.ir.graph.inputs(node.key)[0].key)
        call = node.op.projection(sym.params[node.key], src[0], sym.targets[node.key][0],
                                  sym.target_jumps[node.key])
        return render_call(call, indent + f"self.{node.local} = "[:0])

    def conditional_shortcut(self, node: Node, sym: SymbolicClass):
        """(condition, projection) for a Shortcut in a block class; condition None when fixed."""
        src = sym.shape(self.ir.graph.inputs(node.key)[0].key)
        target = sym.targets[node.key]
        stride = sym.target_jumps[node.key]
        params = sym.params[node.key]
        projection = render_call(node.op.projection(params, src[0], target[0], stride))
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

    # --- forward -------------------------------------------------------------------------------------
    def forward(self, root: Scope, sym: SymbolicClass, is_model: bool,
                until: int | None = None) -> list[str]:
        """The lines of `forward`; `until`: stop at that value, leaving out the rest (the
        concatenation that ends a dense layer) and return it."""
        graph = self.ir.graph
        units = class_units(self.ir, root)
        if until is not None:
            units = [u for u in units if u.output != root.exit]
        unit_inputs: dict[int, list[int]] = {}
        for u in units:
            unit_inputs[id(u)] = [i.key for i in graph.inputs(u.node.key)] if u.node else \
                [u.scope.entry]
        outputs = [key for _, key in self.ir.outputs] if is_model else \
            [root.exit if until is None else until]
        remaining: dict[int, int] = {}
        for u in units:
            for v in unit_inputs[id(u)]:
                remaining[v] = remaining.get(v, 0) + 1
        for v in outputs:
            remaining[v] = remaining.get(v, 0) + 1
        var_of: dict[int, str] = {root.entry: "x"}
        pending: dict[str, int] = {"x": remaining.get(root.entry, 0)}
        live = {"x", "self", "torch", "nn", "F"}
        lines: list[str] = []
        aux_names = {key: name for name, key in self.ir.outputs[1:]} if is_model else {}
        sig = "    def forward(self, x: torch.Tensor) -> torch.Tensor:"
        if is_model and len(self.ir.outputs) > 1:
            sig = f"    def forward(self, x: torch.Tensor) -> {self.model_class}Outputs:"
        lines.append(sig)
        if is_model and self.ir.settings.transform_input:
            lines.append("        x = self._transform_input(x)")
        for name, _ in self.ir.outputs[1:] if is_model else ():
            lines.append(f"        {name}: torch.Tensor | None = None")
            live.add(name)

        def new_var(base: str) -> str:
            base = base if base.isidentifier() and not base[0].isdigit() else f"x{base}"
            if keyword.iskeyword(base) or base in dir(builtins):
                base = f"{base}_"
            candidate, n = base, 1
            while candidate in live:
                candidate, n = f"{base}_{n}", n + 1
            live.add(candidate)
            return candidate

        def emit(u: Unit, indent: str) -> None:
            ins = unit_inputs[id(u)]
            in_vars = [var_of[v] for v in ins]
            out_key = u.output
            update = self.update_of(u, sym)
            if update is not None:  # an in-place Add: the overwritten input first
                in_vars.insert(0, in_vars.pop(self.inplace[u.node.key]))
                expr = in_vars[0] + "".join(f".{update.method}({v})" for v in in_vars[1:])
            else:
                expr = self.call_expr(u, in_vars, root, sym)
            for var in in_vars:
                pending[var] -= 1
            if expr is None:  # an identity: the output is the input's variable
                var = in_vars[0]
                var_of[out_key] = var
                pending[var] += remaining.get(out_key, 0)
                return
            if isinstance(expr, list):  # a conditional shortcut
                var = new_var("identity")
                var_of[out_key] = var
                pending[var] = remaining.get(out_key, 0)
                for line in expr:
                    lines.append(indent + line.format(out=var, inp=in_vars[0]))
                return
            if out_key in aux_names:
                var = aux_names[out_key]
            else:
                # reuse a dead input's variable, unless it carries a label (`branch1`)
                base = _var_base(u)
                # a branch that feeds a merge is named by its label (`branch4`), as people write it
                feeds_merge = any(c.op.arity is None for c in self.ir.graph.consumers(out_key))
                reusable = [v for v in in_vars if pending.get(v, 0) == 0 and
                            _generic(v) and v not in aux_names.values()]
                var = reusable[0] if reusable and (_generic(base) or not feeds_merge) \
                    else new_var(base)
            var_of[out_key] = var
            pending[var] = pending.get(var, 0) + remaining.get(out_key, 0)
            comment = ""
            if sym.concrete and self.ir.graph.node(out_key).ann.out_shape is not None:
                comment = f"  # {fmt_shape(self.ir.graph.node(out_key).ann.out_shape)}"
            if update is not None and var == in_vars[0]:  # `out += identity`
                for i, other in enumerate(in_vars[1:], 2):
                    end = comment if i == len(in_vars) else ""
                    lines.append(f"{indent}{var} {update.operator}= {other}{end}")
                return
            lines.append(f"{indent}{var} = {expr}{comment}")

        done_aux: set[int] = set()
        for u in units:
            aux = self._aux_of(u) if is_model else None
            if aux is not None:
                if id(aux) in done_aux:
                    continue
                done_aux.add(id(aux))
                lines.append("        if self.training or self.all_outputs:")
                for v in units:
                    if self._aux_of(v) is aux:
                        emit(v, "            ")
                continue
            emit(u, "        ")
        if is_model and len(self.ir.outputs) > 1:
            values = ", ".join(var_of[key] for _, key in self.ir.outputs)
            lines.append("        if torch.jit.is_scripting():")
            lines.append(f"            return {self.model_class}Outputs({values})")
            lines.append(f"        return self._eager_outputs({values})")
        else:
            lines.append(f"        return {var_of[outputs[0]]}")
        return lines

    def update_of(self, u: Unit, sym: SymbolicClass) -> Update | None:
        """The in-place form of a forward expression that runs in place (a residual Add)."""
        node = u.node
        if node is None or node.key not in self.inplace or node.op.module:
            return None
        call = node.op.torch_inplace(sym.params[node.key],
                                     [sym.shape(i.key) for i in self.ir.graph.inputs(node.key)],
                                     sym.shape(node.key))
        return call if isinstance(call, Update) else None

    def _aux_of(self, u: Unit) -> Scope | None:
        node = u.node if u.node is not None else next(u.scope.walk_nodes(), None)
        return aux_scope_of(node) if node is not None else None

    def call_expr(self, u: Unit, in_vars: list[str], root: Scope, sym: SymbolicClass):
        if u.scope is not None:
            target = _attr("self", path_of(u.scope, root))
            arg = in_vars[0]
            first = next((c for c in u.scope.children if isinstance(c, Node)), None)
            if u.scope.kind == "group" and first is not None and needs_flatten(first):
                arg = f"torch.flatten({arg}, 1)"
            return f"{target}({arg})"
        node = u.node
        if node.op.name == "Shortcut" and not sym.concrete:
            cond, _ = self.conditional_shortcut(node, sym)
            attr = _attr("self", path_of(node, root))
            if cond is None:
                return None if not node.op.projects(
                    [n.ann.out_shape for n in self.ir.graph.inputs(node.key)],
                    node.ann.out_shape) else f"{attr}({in_vars[0]})"
            return ["{out} = {inp}", f"if {attr} is not None:",
                    f"    {{out}} = {attr}({{inp}})"]
        if node.op.module:
            call = node.op.torch(sym.params[node.key],
                                 [sym.shape(i.key) for i in self.ir.graph.inputs(node.key)],
                                 sym.shape(node.key))
            if isinstance(call, Functional):
                return _functional(call, in_vars, self.forward_attrs)
            arg = in_vars[0]
            if call.flatten_input:
                arg = f"torch.flatten({arg}, 1)"
            return f"{_attr('self', path_of(node, root))}({arg})"
        call = node.op.torch(sym.params[node.key],
                             [sym.shape(i.key) for i in self.ir.graph.inputs(node.key)],
                             sym.shape(node.key))
        return _functional(call, in_vars, self.forward_attrs)

    # --- the model class ---------------------------------------------------------------------------
    def model_class_text(self) -> str:
        ir = self.ir
        sym = SymbolicClass(ir, ir.root, concrete=True)
        body = self.class_body(ir.root, sym, is_model=True)
        settings = ir.settings
        multi = len(ir.outputs) > 1
        if multi:
            self.uses_optional = self.uses_namedtuple = True
            body.init.append("        self.all_outputs = False  # eval returns every output "
                             "too when True")
        if settings.init.kind != "default":
            body.init.append("        self._init_weights()")
            body.methods.append(_init_method(settings.init))
        frozen = _frozen_modules(ir)
        if frozen:
            body.init.append(f"        for name in {frozen!r}:  # freeze: "
                             f"{_comment(', '.join(settings.freeze))}")
            body.init.append("            self.get_submodule(name).requires_grad_(False)")
        if settings.transform_input:
            body.methods.append(_TRANSFORM_INPUT)
        if multi:
            names = [name for name, _ in ir.outputs]
            body.methods.append(
                "    @torch.jit.unused\n"
                f"    def _eager_outputs(self, {', '.join(names)}) -> "
                f"{self.model_class}Outputs:\n"
                "        # torchvision's convention: eval mode returns the main output only\n"
                "        if self.training or self.all_outputs:\n"
                f"            return {self.model_class}Outputs({', '.join(names)})\n"
                f"        return {names[0]}  # type: ignore[return-value]")
        totals = self.model.totals
        doc = (f'    """{_doc(self.model.name)}: {fmt_shape(self.model.input_shape)} -> '
               f'{fmt_shape(self.model.output_shape)}, {totals.params:,} parameters, '
               f'{totals.macs:,} MACs."""')
        text = self.class_text(self.model_class, doc, ["self"], body, "x")
        if multi:
            fields = "\n".join(f"    {name}: {'torch.Tensor' if i == 0 else 'torch.Tensor | None'}"
                               for i, (name, _) in enumerate(ir.outputs))
            text = (f"class {self.model_class}Outputs(NamedTuple):\n"
                    f'    """The outputs of {_doc(self.model.name)}, main first."""'
                    f'\n\n{fields}\n\n\n'
                    + text)
        return text


def _constant_default(param):
    from archdsl.syntax import ast

    if param.default is None:
        return None
    if isinstance(param.default, (ast.Num, ast.Literal)) and not isinstance(
            param.default.value, (list, dict)):
        return param.default.value
    if isinstance(param.default, ast.Str):
        return param.default.value
    if isinstance(param.default, ast.Name) and param.default.id.lower() in ("true", "false"):
        return param.default.id.lower() == "true"
    return None


def _same_expr(value, default_expr, env) -> bool:
    """Whether a call passes exactly what a parameter's expression default would give."""
    try:
        default = evaluate(default_expr, env)
    except Exception:  # noqa: BLE001  (a default that does not evaluate symbolically)
        return False
    if isinstance(value, Sym) and isinstance(default, Sym):
        return value.poly == default.poly and int(value) == int(default)
    return value == default and type(value) is type(default)


def _same(a, b):
    """True/False when two (possibly symbolic) numbers are known equal/unequal, else None."""
    sa, sb = Sym.lift(a), Sym.lift(b)
    if sa is None or sb is None:
        return a == b
    if not sa.symbolic and not sb.symbolic:
        return int(sa) == int(sb)
    if sa.poly is not None and sb.poly is not None and sa.poly == sb.poly:
        return True
    return None


def _generic(var: str) -> bool:
    return var == "x" or var == "identity" or var.startswith("out")


def _var_base(u: Unit) -> str:
    """A variable for a new value: the label the user gave, else `out` (as torchvision)."""
    if u.node is not None:
        return "identity" if u.node.op.name == "Shortcut" else "out"
    name = u.scope.explicit_name
    return name if name and not name[0].isdigit() else "out"


def _attr(base: str, parts: list[str]) -> str:
    out = base
    for part in parts:
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


def _functional(call: Functional, in_vars: list[str], attrs: set[str]) -> str | None:
    """A forward expression; symbolic values read attributes of the block (`self.bw`), which
    are recorded in `attrs` so the constructor stores them."""
    template = call.template
    if template == "{0}":
        return None
    if "{all:" in template:
        start = template.index("{all:")
        end = template.index("}", start)
        sep = template[start + 5:end]
        template = template[:start] + sep.join(in_vars) + template[end + 1:]
    values = {}
    for key, value in call.values:
        if isinstance(value, Sym) and value.symbolic:
            attrs.update(value.names())
        values[key] = render_value(value, "self.")
    return _fill(template, in_vars, values)


def _fill(template: str, in_vars: list[str], values: dict[str, str]) -> str:
    out = template
    for i, var in enumerate(in_vars):
        out = out.replace(f"{{{i}}}", var)
    for key, text in values.items():
        out = out.replace(f"{{{key}}}", text)
    return out


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


_INIT_BODIES = {
    "kaiming": ('nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")',
                'nn.init.kaiming_normal_(m.weight, nonlinearity="relu")'),
    "xavier": ("nn.init.xavier_uniform_(m.weight)", "nn.init.xavier_uniform_(m.weight)"),
    "lecun": ('nn.init.kaiming_normal_(m.weight, nonlinearity="linear")  # Var(w) = 1 / fan_in',
              'nn.init.kaiming_normal_(m.weight, nonlinearity="linear")'),
}


def _init_method(init) -> str:
    if init.kind == "normal":
        conv = linear = f"nn.init.normal_(m.weight, 0.0, {init.std!r})"
    else:
        conv, linear = _INIT_BODIES[init.kind]
    return (f"    def _init_weights(self) -> None:\n"
            f"        # init: {init.kind}\n"
            f"        for m in self.modules():\n"
            f"            if isinstance(m, nn.Conv2d):\n"
            f"                {conv}\n"
            f"                if m.bias is not None:\n"
            f"                    nn.init.zeros_(m.bias)\n"
            f"            elif isinstance(m, nn.Linear):\n"
            f"                {linear}\n"
            f"                if m.bias is not None:\n"
            f"                    nn.init.zeros_(m.bias)\n"
            f"            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)) "
            f"and m.affine:\n"
            f"                nn.init.ones_(m.weight)\n"
            f"                nn.init.zeros_(m.bias)")


_TRANSFORM_INPUT = '''    def _transform_input(self, x: torch.Tensor) -> torch.Tensor:
        # transform_input: ImageNet statistics to the [-1, 1] scaling (torchvision's GoogLeNet)
        x_ch0 = torch.unsqueeze(x[:, 0], 1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
        x_ch1 = torch.unsqueeze(x[:, 1], 1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
        x_ch2 = torch.unsqueeze(x[:, 2], 1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
        return torch.cat((x_ch0, x_ch1, x_ch2), 1)'''
