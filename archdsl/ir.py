"""The IR: a directed graph of layers plus the tree of scopes that names them.

Contract: `Graph` holds the layers and their edges (adjacency dicts shaped like a networkx
DiGraph's; `to_networkx()` gives a networkx copy, and only it imports networkx, which would cost
`archdsl check` a third of its start-up); nobody outside this module reads its storage. A `Node` is one layer: its op (from the catalog), its validated
parameters, its source span and the chain of block calls that produced it (`trace`). Edges go
from producer to consumer and carry the consumer's input slots (the order of Concat inputs).
Passes write their results into `node.ann` (typed annotations, defined here: `Ann`, and `Field`
for receptive fields), never into the structure.

Scopes say how nodes group into modules: the model, labelled groups (`layer1: ...`, compiled to
an `nn.Sequential` whose unnamed children are indexed by position), block instances (compiled to
a class per block) and side outputs (`Aux:aux1[...]`). Every node and scope has a local name,
unique in its parent; `name` is the dotted path used as the module name (`layer1.0.conv1`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archdsl.source import Span

if TYPE_CHECKING:
    from archdsl.ops.base import Op, Params, Shape
    from archdsl.syntax import ast

Pair = tuple[float, float]


@dataclass(frozen=True)
class Field:
    """The receptive field of one layer's output units: `size`, `jump` and `start` per spatial
    dimension, in input pixels (conventions and the pass that computes it:
    `archdsl.passes.receptive`)."""

    size: Pair
    jump: Pair
    start: Pair
    global_: bool = False  # a window on the way spanned a whole feature map
    covers_input: bool = False

    def area(self) -> float:
        return self.size[0] * self.size[1]

    def cell(self) -> str:
        """The table cell: `7x7`, or `global` once a whole map was pooled."""
        return "global" if self.global_ else "x".join(str(_num(v)) for v in self.size)

    def to_json(self) -> dict:
        return {"size": [_num(v) for v in self.size], "jump": [_num(v) for v in self.jump],
                "start": [_num(v) for v in self.start], "global": self.global_,
                "covers_input": self.covers_input}


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(float(value), 4)


@dataclass(eq=False, slots=True)
class Ann:
    """Per-node results of the passes."""

    params: Params | None = None  # parameters with `auto` resolved
    in_shapes: tuple[Shape, ...] = ()
    out_shape: Shape | None = None
    param_count: int = 0
    buffer_count: int = 0
    macs: int = 0
    activations: int = 0
    frozen: bool = False
    rf: Field | None = None  # receptive field: size, jump, start (archdsl.passes.receptive)
    failed: bool = False  # this node (or one feeding it) has a shape error


@dataclass(eq=False, slots=True)
class Node:
    key: int
    op: Op
    params: Params | None
    scope: Scope
    span: Span
    trace: tuple[Span, ...] = ()  # block call sites, outermost first
    written: str = ""  # the layer name as written (`Mpool`, `conv3-64`)
    label: str | None = None  # display label for numeric labels (`Conv:1`)
    explicit_name: str | None = None  # module name asked for by a label
    arg_exprs: dict[str, ast.Expr] = field(default_factory=dict)  # for symbolic code generation
    bare: bool = False  # written without arguments
    local: str = ""
    repeat: RepeatInfo | None = None
    frozen: bool = False  # `freeze:` matched it: its parameters are not trained
    ann: Ann = field(default_factory=Ann)

    @property
    def name(self) -> str:
        prefix = self.scope.name
        return f"{prefix}.{self.local}" if prefix else self.local

    @property
    def display(self) -> str:
        return self.label or self.name

    @property
    def is_module(self) -> bool:
        return self.op.module

    @property
    def prefix(self) -> str:
        return self.op.prefix()

    def __repr__(self) -> str:
        return f"Node({self.key}, {self.op.name}, {self.name or '?'})"


@dataclass(frozen=True)
class RepeatInfo:
    """This node or scope is copy `index` of `count` made by one `x N` (identified by `group`)."""

    group: int
    index: int
    count: int


@dataclass(eq=False)
class BlockInfo:
    """A block instance: its definition and the values its parameters were bound to."""

    definition: ast.BlockDef
    values: dict[str, Any]
    call_exprs: dict[str, ast.Expr]  # argument expressions at the call, by parameter name


@dataclass(eq=False, slots=True)
class Scope:
    kind: str  # "model" | "group" | "block" | "aux"
    parent: Scope | None
    span: Span | None
    trace: tuple[Span, ...] = ()
    explicit_name: str | None = None
    local: str = ""
    children: list[Node | Scope] = field(default_factory=list)
    block: BlockInfo | None = None
    repeat: RepeatInfo | None = None
    entry: int | None = None  # the value flowing in
    exit: int | None = None  # the node whose output leaves
    written: str = ""  # for blocks: the block name as called
    side: bool = False  # a side output (Aux): computed in training, or when all outputs asked
    # a block written as one `Seq[...]`: it is itself an nn.Sequential, its modules numbered
    # by position as in a labelled group (torchvision's Conv2dNormActivation: `conv.0.0`)
    sequential: bool = False

    @property
    def name(self) -> str:
        if self.parent is None:
            return ""
        prefix = self.parent.name
        return f"{prefix}.{self.local}" if prefix else self.local

    @property
    def prefix(self) -> str:
        if self.kind == "block" and self.block is not None:
            return self.block.definition.name.lower()
        return self.kind

    def walk_nodes(self) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, Scope):
                yield from child.walk_nodes()
            else:
                yield child

    def walk_scopes(self) -> Iterator[Scope]:
        yield self
        for child in self.children:
            if isinstance(child, Scope):
                yield from child.walk_scopes()

    def __repr__(self) -> str:
        return f"Scope({self.kind}, {self.name or '<model>'})"


class Graph:
    """The layers and the tensors between them: a directed graph kept in adjacency dicts (the
    shape of a networkx DiGraph's), so loading a spec never imports networkx; `to_networkx()`
    gives a networkx copy."""

    def __init__(self) -> None:
        self._by_key: dict[int, Node] = {}
        self._preds: dict[int, dict[int, tuple[int, ...]]] = {}  # dst -> {src: input slots}
        self._succs: dict[int, dict[int, None]] = {}  # src -> {dst}
        self._nodes: list[Node] = []
        self._order: list[Node] | None = None
        self._targets: dict[int, int] = {}  # shortcut key -> merge key
        self._inputs: dict[int, tuple[Node, ...]] = {}  # merges' ordered inputs, until a change
        # Every edge goes from a smaller key to a larger one and nodes were added in key order:
        # true for every graph the walker builds (a layer's inputs exist before it), and then
        # key order is the topological order `order()` wants, no sort needed.
        self._forward = True

    def __len__(self) -> int:
        return len(self._nodes)

    def _vertex(self, key: int) -> None:
        self._preds.setdefault(key, {})
        self._succs.setdefault(key, {})

    def _connect(self, src: int, dst: int, slots: tuple[int, ...]) -> None:
        self._vertex(src)
        self._vertex(dst)
        self._preds[dst][src] = self._preds[dst].get(src, ()) + slots
        self._succs[src][dst] = None

    def _disconnect(self, src: int, dst: int) -> tuple[int, ...]:
        del self._succs[src][dst]
        return self._preds[dst].pop(src)

    def add(self, node: Node, inputs: list[int]) -> Node:
        """Add a new node fed by `inputs` (existing keys, in slot order); this runs once per
        layer, so it is written for speed."""
        key = node.key
        if self._nodes and self._nodes[-1].key > key:
            self._forward = False
        self._by_key[key] = node
        preds = self._preds[key] = {}
        self._succs[key] = {}
        for slot, src in enumerate(inputs):
            if src >= key:
                self._forward = False
            preds[src] = preds.get(src, ()) + (slot,)
            self._succs[src][key] = None
        self._nodes.append(node)
        self._order = None
        return node

    def add_all(self, nodes: list[Node], inputs: list[list[int]]) -> None:
        """`add` for each node with its inputs, in order (a replayed block instance)."""
        for node, keys in zip(nodes, inputs, strict=True):
            self.add(node, keys)

    def rewire(self, old: int, new: int) -> None:
        """Feed every consumer of `old` from `new` instead, keeping input slots."""
        self._inputs.clear()
        for dst in list(self._succs.get(old, ())):
            self._connect(new, dst, self._disconnect(old, dst))
            if new >= dst:
                self._forward = False
        self._order = None

    def remove(self, key: int) -> None:
        self._inputs.clear()
        for dst in list(self._succs[key]):
            self._disconnect(key, dst)
        for src in list(self._preds[key]):
            self._disconnect(src, key)
        del self._succs[key], self._preds[key]
        self._by_key.pop(key, None)
        self._nodes = [n for n in self._nodes if n.key != key]
        self._targets = {s: m for s, m in self._targets.items() if s != key and m != key}
        self._order = None

    def node(self, key: int) -> Node:
        return self._by_key[key]

    @property
    def nodes(self) -> list[Node]:
        """All nodes in creation (source) order."""
        return list(self._nodes)

    def inputs(self, key: int) -> list[Node]:
        """The nodes feeding `key`, in input-slot order (a node may appear twice)."""
        return list(self.feeding(key))

    def feeding(self, key: int) -> tuple[Node, ...]:
        """`inputs(key)` as a tuple, without the copy (for passes that run once per layer)."""
        preds = self._preds[key]
        if len(preds) == 1:  # the common case, one producer: cheaper to make than to keep
            (src, taken), = preds.items()
            return (self._by_key[src],) * len(taken)
        found = self._inputs.get(key)
        if found is None:
            slots = [(slot, src) for src, taken in preds.items() for slot in taken]
            found = self._inputs[key] = tuple(self._by_key[src] for _, src in sorted(slots))
        return found

    def input_keys(self, key: int) -> list[int]:
        """The keys of `inputs(key)`."""
        return [node.key for node in self.feeding(key)]

    def consumers(self, key: int) -> list[Node]:
        return [self._by_key[dst] for dst in sorted(self._succs[key])]

    def consumer_keys(self, key: int) -> Iterator[int]:
        """The keys of the nodes `key` feeds, in no particular order (cheaper than
        `consumers` where order does not matter)."""
        return iter(self._succs[key])

    def edges(self) -> Iterator[tuple[Node, Node, tuple[int, ...]]]:
        found = [(dst, src, slots) for dst, preds in self._preds.items()
                 for src, slots in preds.items()]
        for dst, src, slots in sorted(found, key=lambda e: (e[0], e[1])):
            yield self.node(src), self.node(dst), slots

    def set_target(self, shortcut: int, merge: int) -> None:
        """A Shortcut's shape follows the other inputs of `merge`: order them first."""
        self._targets[shortcut] = merge
        self._order = None

    def target_of(self, shortcut: int) -> int | None:
        return self._targets.get(shortcut)

    def order(self) -> list[Node]:
        """A topological order; source order (the smaller key) breaks ties; a Shortcut comes
        after the other branches of its Add, so its shape rule can see them."""
        if self._order is None and self._forward and all(
                src <= short for short, merge in self._targets.items()
                for src in self._preds[merge]):
            self._order = list(self._nodes)  # see `_forward`; the shortcuts come last already
        if self._order is None:
            succs = {key: list(dsts) for key, dsts in self._succs.items()}
            if self._targets:
                pos = {k: i for i, k in enumerate(_lexicographic_topological_sort(succs))}
                for short, merge in self._targets.items():
                    for src in self._preds[merge]:
                        if src != short and short not in succs[src] and \
                                not self._reaches(short, src, pos):
                            succs[src].append(short)
            self._order = [self.node(k) for k in _lexicographic_topological_sort(succs)]
        return self._order

    def _reaches(self, start: int, goal: int, pos: dict[int, int]) -> bool:
        """Whether a path leads from `start` to `goal`; only nodes up to `goal` in the
        topological order `pos` can lie on one, so the search stays near the two."""
        limit = pos[goal]
        seen, stack = {start}, [start]
        while stack:
            key = stack.pop()
            if key == goal:
                return True
            for dst in self._succs[key]:
                if dst not in seen and pos[dst] <= limit:
                    seen.add(dst)
                    stack.append(dst)
        return False

    def descendants(self, key: int) -> set[int]:
        seen: set[int] = set()
        stack = list(self._succs[key])
        while stack:
            k = stack.pop()
            if k not in seen:
                seen.add(k)
                stack.extend(self._succs[k])
        return seen

    def to_networkx(self):
        """A networkx DiGraph copy for users who want its algorithms: node attributes are
        plain data."""
        import networkx as nx

        out = nx.DiGraph()
        for node in self.order():
            out.add_node(node.name or node.op.name, op=node.op.name, shape=node.ann.out_shape,
                         params=node.ann.param_count)
        for src, dst, slots in self.edges():
            out.add_edge(src.name or src.op.name, dst.name or dst.op.name, slots=slots,
                         shape=src.ann.out_shape)
        return out


def _lexicographic_topological_sort(succs: dict[int, list[int]]) -> list[int]:
    """Kahn's algorithm taking the smallest ready key first (networkx's
    `lexicographical_topological_sort` on integer nodes)."""
    indegree = dict.fromkeys(succs, 0)
    for dsts in succs.values():
        for dst in dsts:
            indegree[dst] += 1
    ready = [key for key, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    out: list[int] = []
    while ready:
        key = heapq.heappop(ready)
        out.append(key)
        for dst in succs[key]:
            indegree[dst] -= 1
            if indegree[dst] == 0:
                heapq.heappush(ready, dst)
    if len(out) != len(succs):
        raise ValueError("the layer graph has a cycle")
    return out


@dataclass(eq=False)
class ModelIR:
    """A model after elaboration: its graph, its scope tree and its outputs."""

    name: str
    graph: Graph
    root: Scope
    input_key: int
    outputs: list[tuple[str, int]]  # ("main", key) first, then side outputs in output order
    settings: Any
    span: Span | None = None
    sources: tuple = ()
