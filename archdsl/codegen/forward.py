"""The `forward` method of a generated class: straight-line statements, one per unit.

Contract: `ForwardWriter(ir, inplace, model_class, root, sym, is_model)` writes the `forward` of
the class made from `root` (the model, or a block in the symbolic terms of `sym`). It walks the
class's units (`archdsl.codegen.units`) in order and writes one statement each:
- a module call (`out = self.conv1(x)`), flattening first where the op asks;
- a functional expression from the op's `Functional` template (`torch.cat([a, b], 1)`); the
  symbolic values it reads become attributes of the block (`self.bw`), collected in `attrs`
  for the constructor to store;
- an in-place update where `archdsl.passes.inplace` decided it (`out += identity`, or
  `a.add_(b)` when the result takes another variable); the overwritten input comes first;
- nothing for an identity (the value keeps its input's variable), nor for a module built but
  not called (`Op.skipped_in_forward`);
- for a parameter of the class (`OwnParameter`, LayerScale), its expression over the attribute;
- for a skip branch whose projection depends on the block's arguments, a test of the attribute
  the constructor set (`archdsl.codegen.shortcut`).
Variables come from `archdsl.codegen.variables`. In the model class, the units of a side output
(`Aux:name`) run under one guard, `if self.training or self.all_outputs:`, and the side outputs
start as `None`; concrete shapes are commented on each line. With `until=key` the writer stops
at that value (the new features of a dense layer) and returns it.
"""

from __future__ import annotations

from dataclasses import replace

from archdsl.codegen.shortcut import conditional_projection
from archdsl.codegen.symbolic import SymbolicClass
from archdsl.codegen.text import attr
from archdsl.codegen.units import Unit, aux_scope_of, class_units, needs_flatten, path_of
from archdsl.codegen.variables import ForwardVariables, is_generic
from archdsl.expr import Sym, render_value
from archdsl.ir import ModelIR, Node, Scope
from archdsl.ops.base import Functional, OwnParameter, Update, fmt_shape


class ForwardWriter:
    """The `forward` of one class; `attrs`: the constructor arguments it reads as attributes."""

    def __init__(self, ir: ModelIR, inplace: dict[int, int], model_class: str, root: Scope,
                 sym: SymbolicClass, is_model: bool, until: int | None = None):
        self.ir, self.inplace, self.model_class = ir, inplace, model_class
        self.root, self.sym, self.is_model = root, sym, is_model
        self.attrs: set[str] = set()
        # side outputs, by the value each one is: locals of the model's forward
        self.aux_names = {key: name for name, key in ir.outputs[1:]} if is_model else {}
        self.units = class_units(ir, root)
        if until is not None:
            self.units = [u for u in self.units if u.output != root.exit]
        self.unit_inputs = {id(u): [i.key for i in ir.graph.inputs(u.node.key)] if u.node
                            else [u.scope.entry] for u in self.units}
        self.outputs = [key for _, key in ir.outputs] if is_model else \
            [root.exit if until is None else until]
        reads = [v for u in self.units for v in self.unit_inputs[id(u)]] + self.outputs
        self.vars = ForwardVariables(root.entry, reads)
        self.out: list[str] = []

    def lines(self) -> list[str]:
        """The lines of `forward` (once per writer)."""
        ir, is_model = self.ir, self.is_model
        sig = "    def forward(self, x: torch.Tensor) -> torch.Tensor:"
        if is_model and len(ir.outputs) > 1:
            sig = f"    def forward(self, x: torch.Tensor) -> {self.model_class}Outputs:"
        self.out.append(sig)
        if is_model and ir.settings.transform_input:
            self.out.append("        x = self._transform_input(x)")
        for name, _ in ir.outputs[1:] if is_model else ():
            self.out.append(f"        {name}: torch.Tensor | None = None")
            self.vars.reserve(name)
        self._statements(self.units)
        var_of = self.vars.var_of
        if is_model and len(ir.outputs) > 1:
            values = ", ".join(var_of[key] for _, key in ir.outputs)
            self.out.append("        if torch.jit.is_scripting():")
            self.out.append(f"            return {self.model_class}Outputs({values})")
            self.out.append(f"        return self._eager_outputs({values})")
        else:
            self.out.append(f"        return {var_of[self.outputs[0]]}")
        return self.out

    def _statements(self, units: list[Unit]) -> None:
        """One statement per unit; a side output's units together, under one guard."""
        done_aux: set[int] = set()
        for u in units:
            aux = self._aux_of(u) if self.is_model else None
            if aux is None:
                self._statement(u, "        ")
                continue
            if id(aux) in done_aux:
                continue
            done_aux.add(id(aux))
            self.out.append("        if self.training or self.all_outputs:")
            for v in units:
                if self._aux_of(v) is aux:
                    self._statement(v, "            ")

    def _aux_of(self, u: Unit) -> Scope | None:
        node = u.node if u.node is not None else next(u.scope.walk_nodes(), None)
        return aux_scope_of(node) if node is not None else None

    def _statement(self, u: Unit, indent: str) -> None:
        variables = self.vars
        in_vars = [variables.var_of[v] for v in self.unit_inputs[id(u)]]
        out_key = u.output
        update = self.update_of(u)
        if update is not None:  # an in-place Add: the overwritten input first
            in_vars.insert(0, in_vars.pop(self.inplace[u.node.key]))
            expr = in_vars[0] + "".join(f".{update.method}({v})" for v in in_vars[1:])
        else:
            expr = self.call_expr(u, in_vars)
        variables.read(in_vars)
        if expr is None:  # an identity: the output is the input's variable
            variables.alias(out_key, in_vars[0])
            return
        if isinstance(expr, list):  # a conditional projection
            var = variables.fresh(out_key, "identity")
            self.out.extend(indent + line.format(out=var, inp=in_vars[0]) for line in expr)
            return
        if out_key in self.aux_names:
            var = self.aux_names[out_key]
        else:
            # reuse a dead input's variable, unless it carries a label (`branch1`)
            base = _var_base(u)
            # a branch that feeds a merge is named by its label (`branch4`), as people write it
            feeds_merge = any(c.op.arity is None for c in self.ir.graph.consumers(out_key))
            reusable = variables.reusable(in_vars)
            var = reusable[0] if reusable and (is_generic(base) or not feeds_merge) \
                else variables.new(base)
        variables.bind(out_key, var)
        comment = ""
        shape = self.ir.graph.node(out_key).ann.out_shape
        if self.sym.concrete and shape is not None:
            comment = f"  # {fmt_shape(shape)}"
        if update is not None and var == in_vars[0]:  # `out += identity`
            for i, other in enumerate(in_vars[1:], 2):
                end = comment if i == len(in_vars) else ""
                self.out.append(f"{indent}{var} {update.operator}= {other}{end}")
            return
        self.out.append(f"{indent}{var} = {expr}{comment}")

    def update_of(self, u: Unit) -> Update | None:
        """The in-place form of a forward expression that runs in place (a residual Add)."""
        node = u.node
        if node is None or node.key not in self.inplace or node.op.module:
            return None
        call = node.op.torch_inplace(*self._shapes(node))
        return call if isinstance(call, Update) else None

    def _shapes(self, node: Node) -> tuple:
        """(params, input shapes, output shape) of a node, in the class's terms."""
        sym = self.sym
        return (sym.params[node.key], [sym.shape(i.key) for i in self.ir.graph.inputs(node.key)],
                sym.shape(node.key))

    def call_expr(self, u: Unit, in_vars: list[str]) -> str | list[str] | None:
        """The expression a unit computes from its inputs' variables; None for an identity; for
        a conditional projection the lines that compute it (`{out}`, `{inp}` to fill)."""
        root = self.root
        if u.scope is not None:
            target = attr("self", path_of(u.scope, root))
            arg = in_vars[0]
            first = next((c for c in u.scope.children if isinstance(c, Node)), None)
            if u.scope.kind == "group" and first is not None and needs_flatten(first):
                arg = f"torch.flatten({arg}, 1)"
            return f"{target}({arg})"
        node = u.node
        if node.op.is_skip_branch and not self.sym.concrete:
            cond, _ = conditional_projection(self.ir, node, self.sym)
            target = attr("self", path_of(node, root))
            if cond is None:
                return None if not node.op.projects(
                    [n.ann.out_shape for n in self.ir.graph.inputs(node.key)],
                    node.ann.out_shape) else f"{target}({in_vars[0]})"
            return ["{out} = {inp}", f"if {target} is not None:",
                    f"    {{out}} = {target}({{inp}})"]
        shapes = self._shapes(node)
        if node.op.skipped_in_forward(shapes[0]):  # built, never called: the value passes on
            return None
        call = node.op.torch(*shapes)
        if isinstance(call, OwnParameter):  # a parameter of this class, by the layer's name
            call = replace(call, template=call.template.replace(
                "{param}", attr("self", path_of(node, root))))
        if isinstance(call, Functional):
            return _functional(call, in_vars, self.attrs)
        arg = in_vars[0]
        if call.flatten_input:
            arg = f"torch.flatten({arg}, 1)"
        return f"{attr('self', path_of(node, root))}({arg})"


def _var_base(u: Unit) -> str:
    """A variable for a new value: the label the user gave, else `out` (as torchvision), or
    `identity` for a skip branch."""
    if u.node is not None:
        return "identity" if u.node.op.is_skip_branch else "out"
    name = u.scope.explicit_name
    return name if name and name.isidentifier() else "out"


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
        if f"{{{key}}}" not in template:
            continue  # a value only the constructor reads (an `OwnParameter`'s size)
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
