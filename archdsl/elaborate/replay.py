"""Replaying a block instance: a copy of an earlier expansion instead of walking the body again.

Contract: a block called again with the same argument values, at the same nesting depth,
expands to the same layers, scopes and edges as its first call; only the keys, the repeat
groups, the input it is fed and the block calls above it (the trace) differ. At the second such
call, `Expansion.record` takes the first call's subtree as the template (only when it expanded
without a diagnostic; a block called once is never recorded) and `Expansion.replay` copies it
under each new instance scope, taking fresh keys and groups from the
walker's counters in the same order, so the graph is exactly what walking the body would have
built (`tests/test_replay.py` compares the two for the zoo). ResNet-152 calls Bottleneck(256) 35
times and DenseNet-201 calls DenseLayer(32) 98 times: walking a body binds every layer's
arguments, resolves its name and checks its label; copying it does none of that.

Nothing is replayed across loads: the records belong to one walker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from archdsl.ir import Graph, Node, RepeatInfo, Scope


@dataclass(frozen=True)
class Expansion:
    scope: Scope  # the first instance's scope; its subtree is the template
    entry: int  # the key that flowed into it
    out: int  # the key that flowed out
    nodes: tuple[Node, ...]  # every node of the subtree, in key order (consecutive keys)
    inputs: tuple[tuple[int, ...], ...]  # each node's input keys, in slot order
    scopes: tuple[Scope, ...]  # every scope below the instance, parents first
    groups: tuple[int, ...]  # the repeat groups of the subtree, ascending
    depth: int  # the length of the trace inside the instance

    @classmethod
    def record(cls, graph: Graph, scope: Scope, entry: int, out: int, depth: int
               ) -> Expansion | None:
        nodes = tuple(sorted(scope.walk_nodes(), key=lambda n: n.key))
        if not nodes or nodes[-1].key - nodes[0].key != len(nodes) - 1:
            return None
        inputs = tuple(tuple(graph.input_keys(n.key)) for n in nodes)
        scopes = tuple(scope.walk_scopes())[1:]
        groups = {c.repeat.group for c in (*nodes, *scopes) if c.repeat is not None}
        return cls(scope, entry, out, nodes, inputs, scopes, tuple(sorted(groups)), depth)

    def replay(self, graph: Graph, scope: Scope, entry: int, trace: tuple,
               take_keys: Callable[[int], int], new_group: Callable[[], int]) -> int:
        """Copy the template under `scope` (a fresh instance scope fed by `entry`, with `trace`
        inside it); returns the key that flows out."""
        old_entry = self.entry
        shift = take_keys(len(self.nodes)) - self.nodes[0].key

        def key(old: int) -> int:
            return entry if old == old_entry else old + shift

        groups = {g: new_group() for g in self.groups}
        depth = self.depth
        traces: dict[int, tuple] = {}  # the layers of one scope share one trace: copy it once

        def moved(old: tuple) -> tuple:
            found = traces.get(id(old))
            if found is None:
                found = traces[id(old)] = trace + old[depth:]
            return found

        def repeat(info: RepeatInfo | None) -> RepeatInfo | None:
            return None if info is None else RepeatInfo(groups[info.group], info.index,
                                                        info.count)

        copies: dict[int, Node | Scope] = {id(self.scope): scope}
        for old in self.scopes:
            new = Scope(old.kind, copies[id(old.parent)], old.span, moved(old.trace),
                        old.explicit_name, block=old.block, repeat=repeat(old.repeat),
                        written=old.written, side=old.side)
            new.entry = key(old.entry) if old.entry is not None else None
            new.exit = key(old.exit) if old.exit is not None else None
            copies[id(old)] = new
        for old, inputs in zip(self.nodes, self.inputs, strict=True):
            node = Node(old.key + shift, old.op, old.params, copies[id(old.scope)], old.span,
                        moved(old.trace), old.written, old.label, old.explicit_name,
                        old.arg_exprs, old.bare,
                        repeat=None if old.repeat is None else repeat(old.repeat))
            graph.add(node, [entry if k == old_entry else k + shift for k in inputs])
            copies[id(old)] = node
        for old in self.nodes:
            merge = graph.target_of(old.key)
            if merge is not None:
                graph.set_target(old.key + shift, key(merge))
        for old_scope in (self.scope, *self.scopes):
            copies[id(old_scope)].children.extend(copies[id(c)] for c in old_scope.children)
        return key(self.out)
