"""The classes of generated code: constructors, bodies, and one class per block structure.

Contract: `ClassWriter(ir, inplace, taken, model_class)` writes class bodies
(`class_body(root, sym, is_model)`: the `__init__` lines, `forward` and further methods) and
whole classes (`class_text`). Constructors come from the ops' `torch()` data (in-place forms
where `inplace` says), a scope becomes an `nn.Sequential` (a `DenseStack` for a run of dense
layers) or a block class. A block instance's class is written in the symbolic terms of
`archdsl.codegen.symbolic` and shared by every instance whose text comes out the same: the text
with a placeholder for the name is the key, so equal structure gives one class and different
structure a new name (`Bottleneck`, `Bottleneck2`). `classes` lists them, dependencies first.
A constructor argument whose value differs from the parameter's default is passed; defaults
that are expressions of other parameters become `None` defaults resolved in `__init__`. What the
module header must import is collected in `imports`. Class names never shadow a name the module
uses (`torch`, a helper, a builtin).
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field

from archdsl.codegen.forward import ForwardWriter
from archdsl.codegen.helpers import HELPERS
from archdsl.codegen.shortcut import conditional_projection, projection_text
from archdsl.codegen.symbolic import SymbolicClass
from archdsl.codegen.text import assign_module, doc, location, render_call
from archdsl.codegen.units import Unit, appended_channels, is_dense_stack
from archdsl.expr import Sym, evaluate, expr_text, render_value
from archdsl.identifiers import CLASS_RESERVED
from archdsl.ir import ModelIR, Node, Scope
from archdsl.ops.base import Functional

RESERVED_CLASS_NAMES = CLASS_RESERVED | set(HELPERS)


def safe_class_name(name: str, taken: set[str]) -> str:
    """A class name for `name`: a valid identifier that no module-level name takes."""
    base = name if name.isidentifier() and name.isascii() and not keyword.iskeyword(name) \
        else "Net_" + "".join(c if c.isalnum() else "_" for c in name)
    if base in RESERVED_CLASS_NAMES:
        base += "Net"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}{n}", n + 1
    return candidate


@dataclass
class Imports:
    """What the module's header imports, as writing the classes finds it needed."""

    helpers: set[str] = field(default_factory=set)  # helper classes (`archdsl.codegen.helpers`)
    ordered_dict: bool = False  # an `nn.Sequential` with named children
    namedtuple: bool = False  # the model's outputs, when it has side outputs
    math: bool = False  # an expression function Python keeps in `math` (`math.ceil(...)`)


@dataclass
class ClassBody:
    init: list[str] = field(default_factory=list)  # lines after `super().__init__()`
    forward: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)  # each one's text, after forward


class ClassWriter:
    """Writes the classes of one generated module; see the module docstring."""

    def __init__(self, ir: ModelIR, inplace: dict[int, int], taken: set[str], model_class: str):
        self.ir = ir
        self.inplace = inplace  # node key -> the input slot it overwrites
        self.taken = taken  # class names in use
        self.model_class = model_class
        self.imports = Imports()
        self.by_text: dict[str, str] = {}  # class text (name a placeholder) -> class name
        self.classes: list[tuple[str, str]] = []  # (name, full text), dependencies first

    # --- constructors ------------------------------------------------------------------------
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
            self.imports.helpers.add(call.helper)
        return render_call(call)

    def parameter(self, node: Node, sym: SymbolicClass) -> str:
        """`nn.Parameter(...)` for a layer held as a parameter of the class (`OwnParameter`);
        its values are the constructor's (arguments, not attributes)."""
        call = node.op.torch(sym.params[node.key],
                             [sym.shape(i.key) for i in self.ir.graph.inputs(node.key)],
                             sym.shape(node.key))
        init = call.init
        for key, value in call.values:
            init = init.replace(f"{{{key}}}", render_value(value))
        return f"nn.Parameter({init})"

    def scope_ctor(self, scope: Scope, sym: SymbolicClass, indent: str = "        ") -> str:
        if scope.kind == "block":
            return self.block_call(scope, sym)
        return self.sequential(scope, sym, indent)

    def sequential(self, scope: Scope, sym: SymbolicClass, indent: str = "        ") -> str:
        items: list[tuple[str, str]] = []
        named = not all(child.local == str(i) for i, child in enumerate(
            c for c in scope.children if isinstance(c, Scope) or c.op.module))
        nested = indent + ("        " if named else "    ")  # where an item's lines start
        for child in scope.children:
            if isinstance(child, Scope):
                items.append((child.local, self.scope_ctor(child, sym, nested)))
            elif child.op.module:
                text = self.ctor(child, sym)
                if text is not None:
                    items.append((child.local, text))
        inner = indent + "    "
        container = "nn.Sequential"
        if is_dense_stack(self.ir, scope):
            container = "DenseStack"
            self.imports.helpers.add(container)
        if all(name == str(i) for i, (name, _) in enumerate(items)):
            body = "".join(f"{inner}{text},\n" for _, text in items)
            return f"{container}(\n{body}{indent})"
        self.imports.ordered_dict = True
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
                if _same_expr(value, param.default, inner_env):
                    continue
            elif not getattr(value, "symbolic", False) and value == default and \
                    type(value) is type(default):
                continue
            args.append(f"{param.name}={render_value(value)}")
        return f"{cls}({', '.join(args)})"

    # --- block classes -----------------------------------------------------------------------
    def block_class(self, scope: Scope) -> str:
        """The name of the class for a block instance, written when no equal one exists."""
        sym = SymbolicClass(self.ir, scope)
        defn = scope.block.definition
        body = self.class_body(scope, sym, is_model=False)
        sig = ["self", "in_channels: int" if len(sym.entry_shape) > 1 else "in_features: int"]
        late: list[str] = []
        # the defaults as Python source: they may read the parameters and the input's channels
        in_scope = frozenset(p.name for p in defn.params) | {"in_channels"}
        for param in defn.params:
            value = scope.block.values[param.name]
            kind = {int: "int", float: "float", bool: "bool", str: "str"}.get(type(value))
            default = _constant_default(param)
            if param.default is None:
                sig.append(f"{param.name}: {kind}" if kind else param.name)
            elif default is not None:
                sig.append(f"{param.name}{': ' + kind if kind else ''} = {render_value(default)}")
            else:
                sig.append(f"{param.name}: {kind or 'object'} | None = None")
                late.append(f"        if {param.name} is None:\n"
                            f"            {param.name} = "
                            f"{expr_text(param.default, python=in_scope)}")
        body.init[:0] = late
        params_text = ", ".join(p.name + (f"={expr_text(p.default)}" if p.default is not None
                                          else "") for p in defn.params)
        docstring = f'    """Block {doc(f"{defn.name}({params_text}), {location(defn.name_span)}")}."""'
        text = self.class_text("{NAME}", docstring, sig, body,
                               base="nn.Sequential" if scope.sequential else "nn.Module")
        if text in self.by_text:
            return self.by_text[text]
        name = safe_class_name(defn.name, self.taken)
        self.taken.add(name)
        self.by_text[text] = name
        self.classes.append((name, text.replace("{NAME}", name, 1)))
        return name

    def class_text(self, name: str, docstring: str, sig: list[str], body: ClassBody,
                   base: str = "nn.Module") -> str:
        signature = ", ".join(sig)
        lines = [f"class {name}({base}):", docstring, ""]
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

    # --- class bodies ------------------------------------------------------------------------
    def class_body(self, root: Scope, sym: SymbolicClass, is_model: bool) -> ClassBody:
        body = ClassBody()
        for child in root.children:
            self.init_line(child, sym, body)
        appended = None if is_model else appended_channels(self.ir, root)
        writer = ForwardWriter(self.ir, self.inplace, self.model_class, root, sym, is_model,
                               until=appended)
        if appended is None:
            body.forward = writer.lines()
        else:  # a dense layer: its new channels in a method of their own, for `DenseStack`
            new = writer.lines()
            new[0] = "    def new_features(self, x: torch.Tensor) -> torch.Tensor:"
            new.insert(1, '        """The channels this layer appends to its input."""')
            concat = Unit(node=self.ir.graph.node(root.exit))
            expr = writer.call_expr(concat, ["x", "self.new_features(x)"])
            body.forward = ["    def forward(self, x: torch.Tensor) -> torch.Tensor:",
                            f"        return {expr}"]
            body.methods.append("\n".join(new))
        if writer.attrs:  # parameters forward reads (a channel slice), kept as attributes
            body.init[:0] = [f"        self.{name} = {name}" for name in sorted(writer.attrs)]
        return body

    def init_line(self, child: Node | Scope, sym: SymbolicClass, body: ClassBody) -> None:
        if isinstance(child, Scope):
            text = self.scope_ctor(child, sym)
            loc = location(child.span)
            body.init.append(f"        {assign_module(child.local, text)}" +
                             (f"  # {loc}" if loc and "\n" not in text else ""))
            return
        loc = f"  # {location(child.span)}" if child.span is not None else ""
        if not child.op.module:
            if child.op.held_by_class:  # a parameter of this class (LayerScale)
                body.init.append(f"        self.{child.local} = {self.parameter(child, sym)}{loc}")
            return
        if child.op.is_skip_branch and not sym.concrete:
            cond, text = conditional_projection(self.ir, child, sym)
            if cond is None:
                if text is not None:
                    body.init.append(f"        {assign_module(child.local, text)}{loc}")
                return
            body.init.append(f"        self.{child.local}: nn.Module | None = None{loc}")
            body.init.append(f"        if {cond}:")
            text = projection_text(self.ir, child, sym, "            ")
            body.init.append(f"            self.{child.local} = {text}")
            return
        text = self.ctor(child, sym)
        if text is not None:
            body.init.append(f"        {assign_module(child.local, text)}{loc}")


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
