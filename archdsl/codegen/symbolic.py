"""Symbolic shapes and parameters for the classes of generated code.

Contract: `SymbolicClass(ir, scope)` re-evaluates the arguments of every layer under `scope` with
the block's parameters (and its input channels) bound to `Sym` integers, and runs the catalog's
shape rules on them. The result gives, for each node, parameters and shapes whose numbers are
also expressions (`planes * expansion`), so one Python class serves every instance of a block.
Values that cannot be written in terms of the parameters (a spatial size, say) stay plain
numbers; instances that differ in such numbers then simply get different classes. Each symbolic
value carries its concrete value, and it is checked against the shape pass.
"""

from __future__ import annotations

from typing import Any

from archdsl.diagnostics import InternalError
from archdsl.expr import Sym, SymFloat, evaluate
from archdsl.identifiers import BLOCK_INPUT_NAMES
from archdsl.ir import ModelIR, Node, Scope
from archdsl.ops.base import Ctx, pair


def symbolic_env(scope: Scope, parent_env: dict[str, Any] | None,
                 entry_shape: tuple = ()) -> dict[str, Any]:
    """The parameters of a block instance, bound to Syms named after them (for its own class),
    or re-evaluated in the enclosing class's terms (`parent_env`); what the block knows of its
    input (`in_channels`, ...) comes from its entry's symbolic shape."""
    info = scope.block
    defn = info.definition
    env: dict[str, Any] = {}
    for name, dim in zip(BLOCK_INPUT_NAMES, entry_shape, strict=False):
        if name in info.values:
            env[name] = dim
    for order, param in enumerate(defn.params, start=1):
        value = info.values[param.name]
        if parent_env is None:
            if _is_int(value):
                env[param.name] = Sym.name(value, param.name, order)
            elif isinstance(value, float):
                env[param.name] = SymFloat(value, param.name)
            else:
                env[param.name] = value
        elif param.name in info.call_exprs:
            env[param.name] = evaluate(info.call_exprs[param.name],
                                       with_copy_index(parent_env, scope.repeat, scope.parent))
        elif param.default is not None:
            env[param.name] = evaluate(param.default, env)
        else:
            env[param.name] = value
    return env


def with_copy_index(env: dict[str, Any], repeat, scope: Scope | None) -> dict[str, Any]:
    """`env` with `i` bound to the copy index of the innermost repeat that made an element
    (its own `repeat`, else that of a group around it inside the same block), as the elaborator
    bound it: arguments of a repeated unit inside a block may read `i` (a stage's
    stochastic-depth rate over the block index)."""
    while repeat is None and scope is not None and scope.kind == "group":
        repeat, scope = scope.repeat, scope.parent
    return env if repeat is None else {**env, "i": repeat.index}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def lift(value: Any) -> Any:
    if _is_int(value) and not isinstance(value, Sym):
        return Sym.const(value)
    if isinstance(value, tuple):
        return tuple(lift(v) for v in value)
    return value


class SymbolicClass:
    """Symbolic parameters and shapes of the nodes of one generated class."""

    def __init__(self, ir: ModelIR, root: Scope, concrete: bool = False):
        self.ir, self.root = ir, root
        self.envs: dict[int, dict[str, Any]] = {}
        self.params: dict[int, Any] = {}
        self.shapes: dict[int, tuple] = {}
        self.jumps: dict[int, Any] = {}
        self.targets: dict[int, tuple] = {}
        self.target_jumps: dict[int, Any] = {}
        entry = ir.graph.node(root.entry) if root.entry is not None else None
        if concrete or root.kind != "block":
            self.entry_shape = tuple(lift(d) for d in entry.ann.out_shape) if entry else ()
            root_env: dict[str, Any] = {}
        else:
            c, *rest = entry.ann.out_shape
            name = "in_channels" if rest else "in_features"
            self.entry_shape = (Sym.name(c, name, 0), *(Sym.opaque(d) for d in rest))
            root_env = symbolic_env(root, None, self.entry_shape)
        self.root_env = root_env
        self.concrete = concrete or root.kind != "block"
        if root.entry is not None:
            self.shapes[root.entry] = self.entry_shape
            self.jumps[root.entry] = Sym.const(1)
        self._walk()

    def env_of(self, scope: Scope) -> dict[str, Any]:
        """The values in scope inside `scope`, in this class's terms; a nested block's are
        made when first asked, after its input's symbolic shape is known."""
        if scope is self.root or scope.parent is None:
            return self.root_env
        env = self.envs.get(id(scope))
        if env is None:
            outer = self.env_of(scope.parent)
            if scope.kind != "block":
                env = outer
            elif self.concrete:
                env = dict(scope.block.values)
            else:
                env = symbolic_env(scope, outer, self.shapes.get(scope.entry, ()))
            self.envs[id(scope)] = env
        return env

    def _walk(self) -> None:
        graph = self.ir.graph
        members = {n.key for n in self.root.walk_nodes()}
        for node in graph.order():
            if node.key not in members:
                continue
            ins = [self.shapes[i.key] for i in graph.inputs(node.key)]
            params = self._params(node)
            ctx = Ctx(model_input=tuple(self.ir.settings.input), classes=self.ir.settings.classes)
            merge = graph.target_of(node.key)
            if merge is not None:
                others = [n for n in graph.inputs(merge) if n.key != node.key]
                ctx.target = self.shapes[others[0].key]
                ctx.target_stride = _ratio(self.jumps[others[0].key],
                                           self.jumps[graph.inputs(node.key)[0].key])
                self.targets[node.key] = ctx.target
                self.target_jumps[node.key] = ctx.target_stride
            out = tuple(node.op.infer(params, ins, ctx))
            if tuple(int(d) for d in out) != tuple(node.ann.out_shape):
                raise InternalError(f"symbolic shape of {node.name} {out} disagrees with "
                                    f"{node.ann.out_shape}")
            self.params[node.key] = params
            self.shapes[node.key] = out
            first_in = graph.inputs(node.key)[0].key if graph.inputs(node.key) else None
            jump = self.jumps.get(first_in, Sym.const(1))
            # a skip branch strides as the merge's other branch does, whatever its params say
            rf = node.op.rf(params) if not node.op.is_skip_branch else None
            if node.op.is_skip_branch and merge is not None:
                jump = jump * ctx.target_stride
            elif rf is not None:
                jump = jump * lift(pair(rf.stride)[0])
            self.jumps[node.key] = jump

    def _params(self, node: Node):
        concrete = node.ann.params
        if self.concrete or not node.arg_exprs:
            return concrete.model_copy(update={
                k: lift(getattr(concrete, k)) for k in type(concrete).model_fields})
        env = with_copy_index(self.env_of(node.scope), node.repeat, node.scope)
        update = {}
        for field in type(concrete).model_fields:
            value = getattr(concrete, field)
            if field in node.arg_exprs:
                sym = evaluate(node.arg_exprs[field], env)
                if _matches(sym, value):
                    update[field] = sym
                    continue
            update[field] = lift(value)
        return concrete.model_copy(update=update)

    def shape(self, key: int) -> tuple:
        return self.shapes[key]


def _matches(sym: Any, value: Any) -> bool:
    if isinstance(sym, tuple) and isinstance(value, tuple):
        return len(sym) == len(value) and all(_matches(a, b) for a, b in zip(sym, value, strict=True))
    if _is_int(sym) and _is_int(value):
        return int(sym) == int(value)
    if isinstance(sym, SymFloat) and isinstance(value, float):
        return float(sym) == value
    return False


def _ratio(a: Any, b: Any) -> Any:
    if isinstance(b, Sym) and not b.symbolic and int(b) == 1:
        return a
    return a // b
