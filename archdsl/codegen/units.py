"""How the IR of one class (the model, or a block) splits into the units its `forward` calls.

Contract: `class_units(ir, scope)` lists, in a valid order, what the `forward` of the class made
from `scope` calls: module nodes, functional nodes (Add, Concat, Slice), block instances and
labelled groups that can be called as one `nn.Sequential`. A group that cannot (it branches, or
an FC in its middle must flatten first) is transparent: its members become units, called through
the group (`self.features[3]`). Every unit has one output value (a node key); block instances
and groups read a single value (their entry).
"""

from __future__ import annotations

from dataclasses import dataclass

from archdsl.ir import ModelIR, Node, Scope


@dataclass(eq=False)
class Unit:
    node: Node | None = None
    scope: Scope | None = None

    @property
    def output(self) -> int:
        return self.node.key if self.node is not None else self.scope.exit

    @property
    def local(self) -> str:
        return (self.node or self.scope).local


def needs_flatten(node: Node) -> bool:
    if node.ann.params is None or not node.op.module:
        return False
    call = node.op.torch(node.ann.params, list(node.ann.in_shapes), node.ann.out_shape)
    return getattr(call, "flatten_input", False)


def is_linear(ir: ModelIR, scope: Scope) -> bool:
    """Whether a labelled group runs as `nn.Sequential`: a chain of modules, each feeding the
    next, with no flatten except before the first."""
    if scope.kind not in ("group", "aux") or not scope.children:
        return False
    graph = ir.graph
    previous = scope.entry
    for i, child in enumerate(scope.children):
        if isinstance(child, Scope):
            if child.kind == "group" and not is_linear(ir, child):
                return False
            if child.entry != previous:
                return False
            out = child.exit
        else:
            if not child.op.module or child.op.skipped_in_forward(child.params):
                return False
            inputs = graph.inputs(child.key)
            if len(inputs) != 1 or inputs[0].key != previous:
                return False
            if i > 0 and needs_flatten(child):
                return False
            out = child.key
        if i < len(scope.children) - 1:
            following = scope.children[i + 1]
            inside = {n.key for n in following.walk_nodes()} if isinstance(following, Scope) \
                else {following.key}
            if any(c.key not in inside for c in graph.consumers(out)):
                return False
        previous = out
    return previous == scope.exit


def appended_channels(ir: ModelIR, scope: Scope) -> int | None:
    """For a block whose result is its input with new channels appended, `Concat[Id, ...]` (a
    DenseNet layer): the key of the value holding the new channels; None for other scopes."""
    if scope.kind != "block" or not scope.children:
        return None
    last = scope.children[-1]
    if isinstance(last, Scope) or last.key != scope.exit or \
            not last.op.joins_unchanged(last.params):
        return None
    inputs = [n.key for n in ir.graph.inputs(last.key)]
    if len(inputs) != 2 or inputs[0] != scope.entry or inputs[1] == scope.entry:
        return None
    return inputs[1]


def is_dense_stack(ir: ModelIR, scope: Scope) -> bool:
    """Whether a labelled group is a run of such blocks, one feeding the next, that nothing
    outside reads from the middle of: the generated `DenseStack` runs it as torchvision runs a
    dense block, reading each layer's input as one concatenation of the features so far."""
    if len(scope.children) < 2 or not is_linear(ir, scope):
        return False
    if not all(isinstance(c, Scope) and appended_channels(ir, c) is not None
               for c in scope.children):
        return False
    inside = {n.key for n in scope.walk_nodes()} - {scope.exit}
    return not any(key in inside for _, key in ir.outputs)


def first_node(ir: ModelIR, scope: Scope) -> Node | None:
    for child in scope.children:
        if isinstance(child, Scope):
            found = first_node(ir, child)
            if found is not None:
                return found
        else:
            return child
    return None


def class_units(ir: ModelIR, root: Scope) -> list[Unit]:
    """The units of the class made from `root`, in topological order."""
    owner: dict[int, Unit] = {}

    def assign(scope: Scope) -> None:
        for child in scope.children:
            if isinstance(child, Scope):
                if child.kind == "block" or (child.kind == "group" and is_linear(ir, child)):
                    unit = Unit(scope=child)
                    for n in child.walk_nodes():
                        owner[n.key] = unit
                else:
                    assign(child)
            else:
                owner[child.key] = Unit(node=child)

    assign(root)
    units: list[Unit] = []
    seen: set[int] = set()
    for node in ir.graph.order():
        unit = owner.get(node.key)
        if unit is None or id(unit) in seen:
            continue
        seen.add(id(unit))
        units.append(unit)
    return units


def path_of(node_or_scope, root: Scope) -> list[str]:
    """The attribute path from the class made from `root` to a module."""
    parts = []
    current = node_or_scope
    while current is not None and current is not root:
        parts.append(current.local)
        current = current.parent if isinstance(current, Scope) else current.scope
    return list(reversed(parts))


def aux_scope_of(node: Node) -> Scope | None:
    """The side-output scope (Aux) a node belongs to, if any."""
    scope = node.scope
    while scope is not None:
        if scope.side:
            return scope
        scope = scope.parent
    return None
