"""How many layers a piece of a spec unrolls to, at least, before unrolling it.

Contract: `Sizer(resolve, cap).unit(unit, env)` returns a lower bound on the IR nodes one use
of an AST unit creates: a layer is 1, a block call is the size of the block's body (with the
call's literal arguments bound; memoised per block when it has none), a repeat multiplies by its
count when the count is a literal or a name bound in `env` (other counts count once). Results are capped at `cap` (more is "too many" anyway), so the
arithmetic stays small however the repeats nest. The walker compares these bounds with
`Limits.max_layers` before it unrolls, which is how a spec that would unroll to 10^12 layers is
refused in microseconds instead of after building 10,000 nodes. A recursive block counts once
here (the walker reports the recursion); nesting deeper than `max_depth` counts once too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from archdsl.syntax import ast

Resolver = Callable[[ast.Layer], "ast.BlockDef | None"]


class Sizer:
    def __init__(self, resolve: Resolver, cap: int, max_depth: int = 32):
        self.resolve, self.cap, self.max_depth = resolve, cap, max_depth
        self._blocks: dict[tuple, int] = {}
        self._active: set[int] = set()

    def unit(self, unit: Any, env: Mapping[str, Any] | None = None, depth: int = 0) -> int:
        if isinstance(unit, ast.Layer):
            defn = self.resolve(unit)
            if defn is None:
                return 1
            return self.block(defn, depth + 1, _literal_args(defn, unit))
        if isinstance(unit, ast.Optional_):
            return self.chain(unit.chain, env, depth)
        if isinstance(unit, ast.Group):
            total = 1 if unit.head is not None else 0
            for branch in unit.branches:
                total += self.statements(branch.statements, env, depth)
            return min(max(total, 1), self.cap)
        return 1

    def block(self, defn: ast.BlockDef, depth: int = 0, env: dict[str, Any] | None = None
              ) -> int:
        """The body's size, memoised per block and literal arguments (so sizing is linear)."""
        try:
            key: tuple = (id(defn), tuple(sorted((env or {}).items())))
            hash(key)
        except TypeError:
            key, env = (id(defn), ()), None
        if key in self._blocks:
            return self._blocks[key]
        if id(defn) in self._active or depth > self.max_depth:
            return 1
        self._active.add(id(defn))
        try:
            size = max(self.statements(defn.body, env or None, depth), 1)
        finally:
            self._active.discard(id(defn))
        self._blocks[key] = size
        return size

    def statements(self, stmts, env: Mapping[str, Any] | None, depth: int) -> int:
        total = 0
        for st in stmts:
            if isinstance(st, ast.Chain):
                total += self.chain(st, env, depth)
            elif isinstance(st, ast.Stage):
                total += self.chain(st.chain, env, depth)
            elif isinstance(st, ast.Dag):
                total += sum(self.chain(n.chain, env, depth) for n in st.nodes)
        return min(total, self.cap)

    def chain(self, chain: ast.Chain, env: Mapping[str, Any] | None, depth: int) -> int:
        total = 0
        for el in chain.elements:
            total += self.unit(el.unit, env, depth) * _count(el.repeat, env)
            if total >= self.cap:
                return self.cap
        return total


def _literal_args(defn: ast.BlockDef, call: ast.Layer) -> dict[str, Any]:
    """The block parameters a call gives as plain numbers (`Dense(6)` binds n=6)."""
    names = [p.name for p in defn.params]
    env: dict[str, Any] = {p.name: p.default.value for p in defn.params
                           if isinstance(p.default, ast.Num)}
    for i, arg in enumerate(call.args or ()):
        name = arg.key if arg.key is not None else (names[i] if i < len(names) else None)
        if name is not None and isinstance(arg.value, ast.Num):
            env[name] = arg.value.value
    return env


def _count(rep: ast.Repeat | None, env: Mapping[str, Any] | None) -> int:
    if rep is None:
        return 1
    value: Any = None
    if isinstance(rep.count, ast.Num):
        value = rep.count.value
    elif isinstance(rep.count, ast.Name) and env is not None:
        value = env.get(rep.count.id)
    if isinstance(value, int) and not isinstance(value, bool) and value > 1:
        return value
    return 1
