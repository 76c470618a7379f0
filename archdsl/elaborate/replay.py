"""Replaying a block instance: a copy of an earlier expansion instead of walking the body again.

Contract: a block called again with the same argument values, at the same nesting depth,
expands to the same layers, scopes and edges as its first call; only the keys, the repeat
groups, the input it is fed and the block calls above it (the trace) differ. At the second such
call, `Expansion.record` takes the first call's subtree as the template (only when it expanded
without a diagnostic; a block called once is never recorded) and `Expansion.replay` copies it
under each new instance scope, taking fresh keys and groups from the walker's counters in the
same order, so the graph is exactly what walking the body would have built
(`tests/test_replay.py` compares the two for the zoo). ResNet-152 calls Bottleneck(256) 35 times
and DenseNet-201 calls DenseLayer(32) 98 times: walking a body binds every layer's arguments,
resolves its name and checks its label; copying it does none of that. The template is kept as
plain recipes (positions instead of keys and objects), so a copy is one pass.

Nothing is replayed across loads: the records belong to one walker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archdsl.ir import Graph, Node, RepeatInfo, Scope

ENTRY = -1  # in a recipe, the key that flows into the instance


@dataclass(frozen=True)
class Expansion:
    size: int  # nodes in the template (their keys were consecutive)
    # per node: op, params, scope, span, trace, written, label, explicit name, argument
    # expressions, bare, repeat, input keys; scopes, traces and keys as positions in the template
    nodes: tuple[tuple[Any, ...], ...]
    # per scope below the instance, parents first: its parent, kind, span, trace, explicit name,
    # block, repeat, entry, exit, written, side, sequential (the instance itself is scope 0)
    scopes: tuple[tuple[Any, ...], ...]
    children: tuple[tuple[tuple[bool, int], ...], ...]  # per scope: (is a scope, position)
    traces: tuple[tuple, ...]  # the traces below the instance's own, each once
    groups: tuple[int, ...]  # the repeat groups of the subtree, ascending
    targets: tuple[tuple[int, int], ...]  # (Shortcut, its Add)
    out: int  # the key that flows out

    @classmethod
    def record(cls, graph: Graph, scope: Scope, entry: int, out: int, depth: int
               ) -> Expansion | None:
        """The template of the instance `scope`, fed by `entry`, with `depth` calls in the trace
        inside it; None when its keys are not consecutive (then it is walked every time)."""
        nodes = sorted(scope.walk_nodes(), key=lambda n: n.key)
        if not nodes or nodes[-1].key - nodes[0].key != len(nodes) - 1:
            return None
        first = nodes[0].key

        def position(key: int | None) -> int | None:
            return None if key is None else ENTRY if key == entry else key - first

        scopes = list(scope.walk_scopes())
        scope_at = {id(s): i for i, s in enumerate(scopes)}
        traces: dict[tuple, int] = {}

        def trace(t: tuple) -> int:
            return traces.setdefault(t[depth:], len(traces))

        node_recipes = tuple(
            (n.op, n.params, scope_at[id(n.scope)], n.span, trace(n.trace), n.written, n.label,
             n.explicit_name, n.arg_exprs, n.bare, n.repeat,
             tuple(position(k) for k in graph.input_keys(n.key))) for n in nodes)
        scope_recipes = tuple(
            (scope_at[id(s.parent)], s.kind, s.span, trace(s.trace), s.explicit_name, s.block,
             s.repeat, position(s.entry), position(s.exit), s.written, s.side, s.sequential)
            for s in scopes[1:])
        node_at = {id(n): i for i, n in enumerate(nodes)}
        children = tuple(tuple((isinstance(c, Scope), scope_at[id(c)] if isinstance(c, Scope)
                                else node_at[id(c)]) for c in s.children) for s in scopes)
        groups = {c.repeat.group for c in (*nodes, *scopes[1:]) if c.repeat is not None}
        targets = tuple((n.key - first, position(graph.target_of(n.key))) for n in nodes
                        if graph.target_of(n.key) is not None)
        return cls(len(nodes), node_recipes, scope_recipes, children, tuple(traces),
                   tuple(sorted(groups)), targets, position(out))

    def replay(self, graph: Graph, scope: Scope, entry: int, trace: tuple,
               take_keys: Callable[[int], int], new_group: Callable[[], int]) -> int:
        """Copy the template under `scope` (a fresh instance scope fed by `entry`, with `trace`
        inside it); returns the key that flows out."""
        first = take_keys(self.size)
        groups = {g: new_group() for g in self.groups}
        traces = [trace + t for t in self.traces]

        def key(position: int) -> int:
            return entry if position == ENTRY else first + position

        def repeat(info: RepeatInfo | None) -> RepeatInfo | None:
            return None if info is None else RepeatInfo(groups[info.group], info.index,
                                                        info.count)

        scopes = [scope]
        for (parent, kind, span, t, name, block, rep, start, end, written,
             side, sequential) in self.scopes:
            new = Scope(kind, scopes[parent], span, traces[t], name, block=block,
                        repeat=repeat(rep), written=written, side=side, sequential=sequential)
            new.entry = None if start is None else key(start)
            new.exit = None if end is None else key(end)
            scopes.append(new)
        nodes = [Node(first + i, op, params, scopes[s], span, traces[t], written, label, name,
                      exprs, bare, repeat=None if rep is None else repeat(rep))
                 for i, (op, params, s, span, t, written, label, name, exprs, bare, rep, _)
                 in enumerate(self.nodes)]
        graph.add_all(nodes, [[entry if k == ENTRY else first + k for k in recipe[-1]]
                              for recipe in self.nodes])
        for shortcut, merge in self.targets:
            graph.set_target(first + shortcut, key(merge))
        for new, kids in zip(scopes, self.children, strict=True):
            new.children.extend(scopes[i] if is_scope else nodes[i] for is_scope, i in kids)
        return key(self.out)
