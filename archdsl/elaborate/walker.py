"""Walking the AST of one model into the IR graph.

Contract: `Walker.model(model_def)` evaluates arguments, unrolls `x N`, expands blocks, merges
branches, and records every layer as an IR node in a scope, with its span and the block calls
that led to it. It checks what can be checked without shapes: layer and block names, argument
types and ranges, block parameters, recursion, and the limits. Errors are collected and raised
together; a failing layer is skipped so later mistakes are still found. It does not infer shapes
or assign names (see `naming`).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from archdsl import ops
from archdsl.caches import register
from archdsl.diagnostics import ArchError, Diagnostic, Note, Reporter, did_you_mean, suggest
from archdsl.elaborate.binding import bind_block, bind_op
from archdsl.elaborate.replay import Expansion
from archdsl.elaborate.sizes import Sizer
from archdsl.expr import evaluate, names_in, unknown_name
from archdsl.identifiers import (
    BLOCK_INPUT_NAMES,
    check_identifier,
    check_module_name,
    check_output_name,
)
from archdsl.ir import BlockInfo, Graph, Node, RepeatInfo, Scope
from archdsl.limits import Limits
from archdsl.ops.base import ShapeError
from archdsl.source import Span
from archdsl.syntax import ast

# Copy a block instance expanded before instead of walking its body again (`replay`); tests
# turn it off to check that both give the same graph.
REPLAY_BLOCKS = True


@dataclass(frozen=True)
class Call:
    """One block call on the way to a node: where it was called, and which block."""

    span: Span
    block: str


@dataclass(frozen=True)
class Where:
    scope: Scope
    env: dict[str, Any]
    trace: tuple[Call, ...] = ()


@dataclass
class Pending:
    """How the next created child is named and counted (set by `x N` and DAG ids)."""

    repeat: RepeatInfo | None = None
    name: str | None = None
    name_span: Span | None = None


@dataclass
class Walker:
    blocks: dict[str, ast.BlockDef]
    limits: Limits
    reporter: Reporter = field(default_factory=Reporter)
    prelude: dict[str, ast.BlockDef] | None = None

    def __post_init__(self) -> None:
        self.graph = Graph()
        self._next_key = 0
        self._groups = itertools.count()
        self.side_outputs: list[tuple[Scope, int]] = []
        self._stack: list[ast.BlockDef] = []
        self._sizer = Sizer(self._block_of, 10**12, self.limits.max_depth)
        # A block called many times binds the same layer with the same arguments again and
        # again (ResNet-152: 50 Bottlenecks, 8 argument sets): bind each combination once.
        self._bound: dict[tuple, tuple] = {}
        self._bound_blocks: dict[tuple, tuple] = {}  # block calls, as `_bound` for layers
        self._stripped: dict[int, tuple] = {}  # id(layer) -> (it without `when=`, the `when`)
        self._arg_names: dict[int, tuple[str, ...]] = {}  # id(layer) -> names its args use
        self._env_tokens: dict[tuple, int] = {}  # values in scope, with types -> token
        self._resolved: dict[str, tuple[str, Any, dict]] = {}
        # block instances that expanded cleanly, by block, argument values and depth (`replay`):
        # the first one, until a second call makes it the template (None: not replayable)
        self._first: dict[tuple, tuple] = {}
        self._expansions: dict[tuple, Expansion | None] = {}
        self._reads: dict[int, bool] = {}  # id(block) -> whether it reads its input's shape
        self._index_readers: dict[int, bool] = {}  # id(element) -> whether it reads `i`
        self._shapes: dict[int, tuple[int, ...]] = {}  # node key -> shape, as blocks ask
        self._ctx = ops.Ctx()

    def _block_of(self, layer: ast.Layer) -> ast.BlockDef | None:
        """The block a layer name calls, or None (an op, or unknown: reported later)."""
        try:
            kind, what, _ = self.resolve_name(layer)
        except ArchError:
            return None
        return what if kind == "block" else None

    # --- nodes -----------------------------------------------------------------------------------
    def _take_keys(self, count: int) -> int:
        """The first of `count` fresh consecutive node keys."""
        first = self._next_key
        self._next_key += count
        return first

    def add_node(self, op: ops.Op, params, where: Where, span: Span, inputs: list[int], *,
                 written: str = "", label: str | None = None, name: str | None = None,
                 exprs: dict | None = None, bare: bool = False, pending: Pending | None = None
                 ) -> int:
        if len(self.graph) - 1 >= self.limits.max_layers:  # the input node is no layer
            raise ArchError([Diagnostic("limit-exceeded", f"the model unrolls to more than "
                                        f"{self.limits.max_layers:,} layers", span,
                                        "lower the repeat counts, or raise the limit max_layers")])
        if pending is not None:
            name, repeat = pending.name or name, pending.repeat
        else:
            repeat = None
        node = Node(self._take_keys(1), op, params, where.scope, span, where.trace, written or
                    op.name, label, name, exprs or {}, bare, repeat=repeat)
        self.graph.add(node, inputs)
        where.scope.children.append(node)
        return node.key

    # --- model -----------------------------------------------------------------------------------
    def model(self, mdef: ast.ModelDef, input_shape: tuple[int, ...] | None,
              env: dict[str, Any]) -> tuple[Scope, int, int]:
        self._ctx = ops.Ctx(model_input=tuple(input_shape or ()), classes=env.get("classes"))
        root = Scope("model", None, mdef.span)
        where = Where(root, env)
        input_op = ops.input_op()
        params = input_op.Params.model_construct(shape=tuple(input_shape or (1,)))
        key = self._take_keys(1)
        node = Node(key, input_op, params, root, mdef.span, (), input_op.name, None, "input")
        node.local = "input"
        self.graph.add(node, [])
        root.entry = key
        seq = _sequential(mdef.body)  # `model M { Seq[...] }`: the model is an nn.Sequential
        root.sequential = seq is not None
        out = self.statements(seq.branches[0].statements if seq else mdef.body, key, where)
        root.exit = out
        return root, key, out

    def statements(self, stmts, cur: int, where: Where) -> int:
        for st in stmts:
            cur = self.statement(st, cur, where)
        return cur

    def statement(self, st, cur: int, where: Where, pending: Pending | None = None) -> int:
        if isinstance(st, ast.Chain):
            return self.chain(st, cur, where, pending)
        if isinstance(st, ast.Stage):
            try:
                check_identifier(st.label, st.label_span)
            except ArchError as err:
                self.reporter.extend(err.diagnostics)
            return self._scoped(where, st.span, st.label, pending, cur,
                                lambda inner: self.chain(st.chain, cur, inner))
        if isinstance(st, ast.Dag):
            return self.dag(st, cur, where)
        raise TypeError(st)

    def _child_scope(self, kind: str, where: Where, span: Span, name: str | None,
                     pending: Pending | None = None, **extra) -> Scope:
        pending = pending or Pending()
        scope = Scope(kind, where.scope, span, where.trace, pending.name or name,
                      repeat=pending.repeat, **extra)
        where.scope.children.append(scope)
        return scope

    def _scoped(self, where: Where, span: Span, name: str | None, pending: Pending | None,
                cur: int, walk) -> int:
        """A new group scope under `where` (a stage, `Seq[...]`, a named chain), fed by `cur`,
        with `walk(inner)` walking its content; returns what flows out."""
        scope = self._child_scope("group", where, span, name, pending)
        scope.entry = cur
        out = walk(Where(scope, where.env, where.trace))
        scope.exit = out
        return out

    def chain(self, chain: ast.Chain, cur: int, where: Where, pending: Pending | None = None
              ) -> int:
        if pending and pending.name and (len(chain.elements) > 1 or
                                         chain.elements[0].repeat is not None):
            # a named multi-layer chain (a DAG node, a repeat copy) becomes a group
            return self._scoped(where, chain.span, None, pending, cur,
                                lambda inner: self.chain(chain, cur, inner))
        for el in chain.elements:
            cur = self.element(el, cur, where, pending if len(chain.elements) == 1 else None)
        return cur

    # --- elements and repeats ---------------------------------------------------------------------
    def element(self, el: ast.Element, cur: int, where: Where, pending: Pending | None) -> int:
        if el.repeat is None:
            return self.unit(el.unit, cur, where, pending)
        count = self._count(el.repeat, where)
        if count is None:
            return cur
        size = self._sizer.unit(el.unit, where.env)
        if len(self.graph) - 1 + count * size > self.limits.max_layers:
            self.reporter.error("limit-exceeded", "this repeat unrolls to "
                                f"{_at_least(count * size)} layers; the model would have "
                                f"more than the limit of {self.limits.max_layers:,}",
                                el.repeat.span,
                                "lower the count, or raise the limit max_layers")
            raise ArchError(self.reporter.diagnostics)
        group = next(self._groups)
        errors = len(self.reporter.diagnostics)
        for i in range(count):
            if len(self.reporter.diagnostics) > errors:
                break  # the copies would repeat the first one's errors: `Bad x 10000` is one
            name, name_span = None, None
            if el.repeat.template is not None:
                name = self._template(el.repeat.template, {**where.env, "i": i})
                name_span = el.repeat.template.span
            before = len(where.scope.children)
            info = RepeatInfo(group, i, count)
            copy = Where(where.scope, {**where.env, "i": i}, where.trace) \
                if self._reads_index(el) else where
            cur = self.unit(el.unit, cur, copy, Pending(info, name, name_span))
            for child in where.scope.children[before:]:
                if child.repeat is None:
                    child.repeat = info
        return cur

    def _reads_index(self, el: ast.Element) -> bool:
        """Whether a repeated unit's arguments read `i`, the copy's index (only then is it put
        in scope, so copies that do not read it stay equal and blocks replay)."""
        found = self._index_readers.get(id(el))
        if found is None:
            found = self._index_readers[id(el)] = any(
                name == "i" for name, _ in _names_and_layers(el.unit))
        return found

    def _count(self, rep: ast.Repeat, where: Where) -> int | None:
        try:
            count = evaluate(rep.count, where.env)
        except ArchError as err:
            self.reporter.extend(err.diagnostics)
            return None
        if isinstance(count, str) and isinstance(rep.count, ast.Name) and \
                rep.count.id not in where.env:
            self.reporter.add(unknown_name(rep.count, where.env))
            return None
        if not isinstance(count, int) or isinstance(count, bool):
            self.reporter.error("bad-repeat", f"a repeat count must be a whole number, got "
                                f"{count!r}", rep.count.span, "e.g. `x 3`")
            return None
        if count < 1:
            self.reporter.error("bad-repeat", f"a repeat count must be at least 1, got {count}",
                                rep.count.span, "remove the `x` to use the layer once")
            return None
        if count > self.limits.max_repeat:
            self.reporter.error("limit-exceeded", f"repeat count {count} is over the limit of "
                                f"{self.limits.max_repeat}", rep.count.span,
                                "lower it, or raise the limit max_repeat")
            return None
        return count

    def _template(self, label: ast.Label, env: dict) -> str:
        """Format `denselayer{i+1}`: each `{...}` is an expression of our own language."""
        out, text, pos = [], label.text, 0
        while pos < len(text):
            start = text.find("{", pos)
            if start == -1:
                out.append(text[pos:])
                break
            end = text.find("}", start)
            if end == -1:
                raise ArchError([Diagnostic("bad-label", "'{' without '}' in a name template",
                                            label.span)])
            out.append(text[pos:start])
            inner = text[start + 1:end].strip()
            expr = _template_expression(inner)
            if expr is None:
                raise ArchError([Diagnostic(
                    "bad-label", f"'{{{inner}}}' in a name template is not an expression",
                    label.span, "write an expression of the block's parameters and `i`, e.g. "
                    "\"layer{i+1}\"")])
            try:
                value = evaluate(expr, env)
            except ArchError as err:
                raise ArchError([Diagnostic(d.code, d.message, label.span, d.hint)
                                 for d in err.diagnostics]) from None
            out.append(str(value))
            pos = end + 1
        name = "".join(out)
        check_module_name(name, label.span)
        return name

    # --- units -------------------------------------------------------------------------------------
    def unit(self, unit, cur: int, where: Where, pending: Pending | None) -> int:
        try:
            if isinstance(unit, ast.Layer):
                return self.layer(unit, cur, where, pending)
            if isinstance(unit, ast.Group):
                return self.group(unit, cur, where, pending)
            if isinstance(unit, ast.Optional_):
                return self.chain(unit.chain, cur, where, pending)
            if isinstance(unit, ast.StringUnit):
                raise ArchError([Diagnostic("not-a-layer", f"the string \"{unit.value}\" is not "
                                            "a layer", unit.span, "remove the quotes")])
        except ArchError as err:
            for diag in err.diagnostics:
                if diag not in self.reporter.diagnostics:
                    self.reporter.add(self._in_blocks(diag, where.trace))
            if any(d.code == "limit-exceeded" for d in err.diagnostics):
                raise ArchError(self.reporter.diagnostics) from None
            return cur
        raise TypeError(unit)

    def _in_blocks(self, diag: Diagnostic, trace: tuple[Call, ...]) -> Diagnostic:
        for call in reversed(trace):
            if diag.span is not None and diag.span.file is call.span.file and \
                    call.span.start <= diag.span.start < call.span.end:
                continue
            diag = diag.with_note(f"in block {call.block}, called here", call.span)
        return diag

    def resolve_name(self, layer: ast.Layer) -> tuple[str, Any, dict]:
        """('op', Op, implied args) or ('block', BlockDef, {}) for a layer name."""
        found = self._resolved.get(layer.name)
        if found is None:
            try:
                found = self._resolve_name(layer)
            except ArchError as err:  # an unknown name is looked up (and suggested for) once
                found = err
            self._resolved[layer.name] = found
        if isinstance(found, ArchError):
            raise ArchError([replace(d, span=layer.name_span) for d in found.diagnostics])
        return found

    def _resolve_name(self, layer: ast.Layer) -> tuple[str, Any, dict]:
        name = layer.name
        vgg = ops.vgg_token(name)
        if vgg is not None:
            return "op", ops.lookup(vgg[0]), vgg[1]
        if name in self.blocks:
            return "block", self.blocks[name], {}
        op = ops.lookup(name)
        if op is not None:
            return "op", op, {}
        lowered = [b for b in self.blocks if b.lower() == name.lower()]
        if len(lowered) == 1:
            return "block", self.blocks[lowered[0]], {}
        if self.prelude is None:
            from archdsl.loader import prelude_blocks

            self.prelude = prelude_blocks()
        prelude = self.prelude
        if name in prelude:
            return "block", prelude[name], {}
        lowered = [b for b in prelude if b.lower() == name.lower()]
        if len(lowered) == 1:
            return "block", prelude[lowered[0]], {}
        from archdsl.plugins import load_plugins, missing_kind_hint

        if load_plugins():  # a name the catalog does not know: installed plugins may have it
            return self._resolve_name(layer)
        candidates = ops.names() + list(self.blocks) + list(prelude) + ["Aux"]
        guess = suggest(name, candidates)
        amb = ops.ambiguous(name)
        hint = (missing_kind_hint(name) or
                (f"'{name}' could be {' or '.join(amb)}; write the exact name" if amb else
                 did_you_mean(name, guess) if guess else
                 "see `archdsl ops` for the layer kinds; a kind from a plugin needs its "
                 "package installed"))
        raise ArchError([Diagnostic("unknown-layer", f"unknown layer '{name}'", layer.name_span,
                                    hint)])

    def layer(self, layer: ast.Layer, cur: int, where: Where, pending: Pending | None) -> int:
        layer, when = self._when(layer, where.env)
        if not when:  # `ConvBNReLU(hidden, 1, when=t != 1)`: left out
            return cur
        kind, what, implied = self.resolve_name(layer)
        if kind == "block":
            return self.block_call(what, layer, cur, where, pending)
        op: ops.Op = what
        if op.arity is None:
            raise ArchError([Diagnostic("merge-without-branches", f"{op.name} merges branches",
                                        layer.span, f"write {op.name}[branch, branch]")])
        if op.is_input:
            raise ArchError([Diagnostic("not-a-layer", "the input is a setting, not a layer",
                                        layer.span, "write `input: 3x224x224`")])
        if op.is_skip_branch:
            raise ArchError([Diagnostic("shortcut-outside-add", f"{op.name} must be a whole "
                                        "branch of Add[...]", layer.span,
                                        f"write Add[ main branch, {op.name} ]")])
        return self.op_node(op, layer, implied, [cur], where, pending)

    def op_node(self, op: ops.Op, layer: ast.Layer, implied: dict, inputs: list[int],
                where: Where, pending: Pending | None) -> int:
        params, exprs = self._bind(op, layer, where.env, implied)
        name, label = self._label(layer, where, op.prefix()) if layer.label is not None \
            else (None, None)
        return self.add_node(op, params, where, layer.span, inputs, written=layer.name,
                             label=label, name=name, exprs=exprs, bare=layer.args is None,
                             pending=self._pending_with_label(pending, layer))

    def _bind(self, op: ops.Op, layer: ast.Layer, env: dict, implied: dict) -> tuple:
        """`bind_op`, memoised on the layer and the values of the names its arguments use
        (errors are not kept): a BatchNorm inside Bottleneck(64) and inside Bottleneck(128)
        binds once. With the types: true, 1 and 1.0 are equal keys but bind differently; an
        unbound name is a bare word (`same`), so whether it is bound is part of the key."""
        names = self._arg_names.get(id(layer))
        if names is None:
            names = self._arg_names[id(layer)] = tuple(sorted(
                {n for arg in layer.args or () for n in names_in(arg.value)}))
        seen = tuple((n, type(env[n]), env[n]) if n in env else (n,) for n in names)
        key = (id(layer), id(op), seen)  # implied arguments follow from the layer name
        try:
            found = self._bound.get(key)
        except TypeError:  # an unhashable value in scope: bind without the memo
            return bind_op(op, layer, env, implied)[:2]
        if found is None:
            found = self._bound[key] = bind_op(op, layer, env, implied)[:2]
        return found

    def _bind_block(self, defn: ast.BlockDef, layer: ast.Layer, env: dict, implicit: dict
                    ) -> tuple[dict, dict]:
        """`bind_block`, memoised as `_bind` is: on the call and the values its arguments read
        (and the input's channels where the block reads them); EfficientNet-B0 binds 445 block
        calls, few of them different."""
        names = self._arg_names.get(id(layer))
        if names is None:
            names = self._arg_names[id(layer)] = tuple(sorted(
                {n for arg in layer.args or () for n in names_in(arg.value)}))
        seen = tuple((n, type(env[n]), env[n]) if n in env else (n,) for n in names)
        key = (id(layer), id(defn), seen, tuple(implicit.items()))
        try:
            found = self._bound_blocks.get(key)
        except TypeError:  # an unhashable value in scope
            return bind_block(defn, layer, env, implicit)
        if found is None:
            found = self._bound_blocks[key] = bind_block(defn, layer, env, implicit)
        return dict(found[0]), found[1]

    def _env_token(self, env: dict) -> int | None:
        """A small number per distinct set of values in scope (hashed once, not per layer);
        None when a value is unhashable. With the types: true, 1 and 1.0 are equal keys but
        bind differently."""
        values = tuple((k, type(v), v) for k, v in env.items())
        try:
            return self._env_tokens.setdefault(values, len(self._env_tokens))
        except TypeError:
            return None

    def _pending_with_label(self, pending: Pending | None, layer: ast.Layer) -> Pending | None:
        if pending and pending.name and layer.label is not None:
            raise ArchError([Diagnostic("label-and-template", "a repeated layer cannot have both "
                                        "a label and a name template", layer.label.span,
                                        "remove the label; the template names each copy")])
        return pending

    def _label(self, layer: ast.Layer, where: Where, prefix: str) -> tuple[str | None, str | None]:
        """(module name, display label) from `:1`, `:fc` or `:"tmpl{x}"`."""
        lab = layer.label
        if lab is None:
            return None, None
        if lab.numeric:
            stem = "".join(ch for ch in layer.name.lower() if ch.isalnum() or ch == "_")
            if ops.vgg_token(layer.name) is not None:
                stem = prefix
            stem = stem.rstrip("0123456789") or prefix
            return f"{stem}{lab.text.lstrip('0') or '0'}", f"{layer.name}:{lab.text}"
        if lab.template:
            return self._template(lab, where.env), None
        check_identifier(lab.text, lab.span)
        return lab.text, None

    # --- blocks ------------------------------------------------------------------------------------
    def block_call(self, defn: ast.BlockDef, layer: ast.Layer, cur: int, where: Where,
                   pending: Pending | None) -> int:
        if defn in self._stack:
            path = [d.name for d in self._stack[self._stack.index(defn):]] + [defn.name]
            how = "" if len(path) == 2 else " through " + " -> ".join(path)
            raise ArchError([Diagnostic("recursive-block", f"block {defn.name} calls itself{how}",
                                        layer.span, "a block cannot contain itself, directly or "
                                        "through other blocks",
                                        (Note(f"{defn.name} is defined here", defn.name_span),))])
        if len(self._stack) >= self.limits.max_depth:
            raise ArchError([Diagnostic("limit-exceeded", f"blocks nest more than "
                                        f"{self.limits.max_depth} deep", layer.span,
                                        "raise the limit max_depth if this is intended")])
        implicit = self._input_names(defn, layer, cur)
        values, call_exprs = self._bind_block(defn, layer, where.env, implicit)
        token = self._env_token(values) if REPLAY_BLOCKS else None
        replay_key = (id(defn), token, len(self._stack))
        done = self._expansion(replay_key) if token is not None else None
        if done is not None and len(self.graph) - 1 + done.size > self.limits.max_layers:
            done = None  # walk it: the limit is reported where it is reached
        if done is None:
            size = self._sizer.block(defn, len(self._stack), values)  # memoised per values
            if len(self.graph) - 1 + size > self.limits.max_layers:
                raise ArchError([Diagnostic("limit-exceeded", f"block {defn.name} expands to "
                                            f"{_at_least(size)} layers; the model would have "
                                            f"more than the limit of "
                                            f"{self.limits.max_layers:,}", layer.span,
                                            "lower its sizes or repeat counts, or raise the "
                                            "limit max_layers")])
        name, _ = self._label(layer, where, defn.name.lower())
        pending = self._pending_with_label(pending, layer)
        scope = self._child_scope("block", where, layer.span, name, pending,
                                  block=BlockInfo(defn, values, call_exprs), written=layer.name)
        scope.entry = cur
        scope.sequential = _sequential_body(defn) is not None
        inner = Where(scope, values, (*where.trace, Call(layer.span, defn.name)))
        if done is not None:
            out = done.replay(self.graph, scope, cur, inner.trace,
                              self._take_keys, lambda: next(self._groups))
        else:
            errors = len(self.reporter.diagnostics)
            self._stack.append(defn)
            seq = _sequential_body(defn)
            body = seq.branches[0].statements if seq is not None else defn.body
            try:
                out = self.statements(body, cur, inner)
            finally:
                self._stack.pop()
            if token is not None and len(self.reporter.diagnostics) == errors and \
                    replay_key not in self._expansions:
                self._first[replay_key] = (scope, cur, out, len(inner.trace))
        scope.exit = out
        return out

    # --- the block's input, known inside its body -----------------------------------------------
    def _input_names(self, defn: ast.BlockDef, layer: ast.Layer, cur: int) -> dict[str, int]:
        """`in_channels` for a block that reads it, itself or through a block it calls; {} for
        others, so that their instances stay equal (and replayable) whatever their input."""
        if not self._reads_input(defn):
            return {}
        return {"in_channels": self._shape_of(cur, layer)[0]}

    def _reads_input(self, defn: ast.BlockDef) -> bool:
        found = self._reads.get(id(defn))
        if found is None:
            self._reads[id(defn)] = False  # a recursive call is reported elsewhere
            found = False
            for name, layer in _names_and_layers(defn):
                if name in BLOCK_INPUT_NAMES:
                    found = True
                    break
                if layer is not None:
                    inner = self._block_of(layer)
                    if inner is not None and self._reads_input(inner):
                        found = True
                        break
            self._reads[id(defn)] = found
        return found

    def _shape_of(self, key: int, layer: ast.Layer) -> tuple[int, ...]:
        """The output shape of a node already walked, inferred from the graph so far (the
        shape pass proper runs after the walk; this only covers what a block's input needs)."""
        shapes = self._shapes
        if key not in shapes:
            todo, stack = set(), [key]
            while stack:
                k = stack.pop()
                if k in shapes or k in todo:
                    continue
                todo.add(k)
                stack.extend(self.graph.input_keys(k))
                target = self.graph.target_of(k)
                if target is not None:  # a Shortcut is shaped by its merge's other branches
                    stack.extend(i for i in self.graph.input_keys(target) if i != k)
            for k in sorted(todo):
                self._infer_one(k, layer)
        return shapes[key]

    def _infer_one(self, key: int, layer: ast.Layer) -> None:
        node = self.graph.node(key)
        if node.op.is_input:
            self._shapes[key] = tuple(node.params.shape)
            return
        ins = [self._shapes[k] for k in self.graph.input_keys(key)]
        ctx = self._ctx
        target = self.graph.target_of(key)
        if target is not None:
            others = [k for k in self.graph.input_keys(target) if k != key]
            ctx = replace(ctx, target=self._shapes[others[0]] if others else None)
        try:
            params = node.op.resolve(node.params, ins, ctx)
            self._shapes[key] = tuple(node.op.infer(params, ins, ctx))
        except ShapeError as err:
            raise ArchError([Diagnostic(
                "unknown-input", f"the input of {layer.name} is not known: {node.written} "
                f"before it fails ({err.message})", layer.span,
                "fix that layer first",
                (Note(f"{node.written} is here", node.span),))]) from None

    def _expansion(self, replay_key: tuple) -> Expansion | None:
        """The template for a block call, if one can be replayed: at the second call with the
        same key, the first instance becomes the template."""
        if replay_key in self._first:
            self._expansions[replay_key] = Expansion.record(self.graph,
                                                            *self._first.pop(replay_key))
        return self._expansions.get(replay_key)

    # --- brackets -----------------------------------------------------------------------------------
    def group(self, group: ast.Group, cur: int, where: Where, pending: Pending | None) -> int:
        head = group.head
        if head is None:
            if len(group.branches) > 1:
                raise ArchError([Diagnostic("branches-without-merge", "parallel branches need a "
                                            "merge", group.span,
                                            "write Add[...] or Concat[...] around them")])
            if pending and pending.name:
                return self._scoped(where, group.span, None, pending, cur, lambda inner:
                                    self.statements(group.branches[0].statements, cur, inner))
            return self.statements(group.branches[0].statements, cur, where)
        if head.name.lower() == "aux":
            return self.aux(group, cur, where, pending)
        if _is_seq(head):
            return self.seq(group, cur, where, pending)
        head, when = self._when(head, where.env)
        if not when:
            # `Add(when=false)[main, Id]`: no merge; the first branch alone is the block's path
            return self.statements(group.branches[0].statements, cur, where)
        kind, what, _ = self.resolve_name(head)
        if kind != "op" or what.arity is not None:
            raise ArchError([Diagnostic("not-a-merge", f"{head.name} does not take branches in "
                                        "[...]", head.name_span,
                                        "merges are Add[...] and Concat[...]; separate layers "
                                        "with '-'")])
        outs: list[int] = []
        shortcuts: list[int] = []
        for branch in group.branches:
            single = _single_layer(branch)
            branch_op = ops.lookup(single.name) if single is not None else None
            if branch_op is not None and branch_op.is_identity and single.args is None and \
                    single.label is None:
                outs.append(cur)
                continue
            if branch_op is not None and branch_op.is_skip_branch:
                key = self.op_node(branch_op, single, {}, [cur], where, None)
                shortcuts.append(key)
                outs.append(key)
                continue
            outs.append(self.statements(branch.statements, cur, where))
        if len(outs) < 2:
            raise ArchError([Diagnostic("one-branch", f"{what.name} needs at least two branches",
                                        group.span, "separate branches with ','")])
        key = self.op_node(what, head, {}, outs, where, pending)
        for s in shortcuts:
            self.graph.set_target(s, key)
        return key

    def _when(self, head: ast.Layer, env: dict) -> tuple[ast.Layer, bool]:
        """A layer's `when=` condition, evaluated, and the layer without it: the layer exists
        only where the condition holds (`ConvBNReLU(hidden, 1, when=t != 1)`); for a merge,
        `Add(when=s == 1 and in_channels == c)[main, Id]`, only its first branch is kept."""
        stripped = self._stripped.get(id(head))
        if stripped is None:
            args = head.args or ()
            found = [a for a in args if a.key == "when"]
            # one stripped copy per layer, kept: binding memoises on the layer's identity
            stripped = self._stripped[id(head)] = (head, None) if not found else (
                replace(head, args=tuple(a for a in args if a is not found[0])), found[0])
        without, arg = stripped
        if arg is None:
            return head, True
        value = evaluate(arg.value, env)
        if isinstance(value, str) and isinstance(arg.value, ast.Name) and arg.value.id not in env \
                and arg.value.id.lower() not in ("true", "false"):
            raise ArchError([unknown_name(arg.value, env)])
        if not isinstance(value, (bool, int, float)):
            raise ArchError([Diagnostic("bad-argument", f"`when` must be a condition, got "
                                        f"{value!r}", arg.span,
                                        "e.g. when=stride == 1 and in_channels == c")])
        return without, bool(value)

    def seq(self, group: ast.Group, cur: int, where: Where, pending: Pending | None) -> int:
        """`Seq[ chain ]`: an nn.Sequential, its modules numbered by position; `Seq:name[...]`
        names it (as `name: [...]` does)."""
        head = group.head
        if len(group.branches) != 1:
            raise ArchError([Diagnostic("branches-without-merge", "Seq takes one chain of "
                                        "layers", group.span, "remove the ',' inside Seq[...]")])
        if head.args:
            raise ArchError([Diagnostic("unknown-argument", "Seq takes no arguments", head.span)])
        name, _ = self._label(head, where, "seq")
        pending = self._pending_with_label(pending, head)
        return self._scoped(where, group.span, name, pending, cur, lambda inner:
                            self.statements(group.branches[0].statements, cur, inner))

    def aux(self, group: ast.Group, cur: int, where: Where, pending: Pending | None) -> int:
        head = group.head
        if where.scope.kind != "model" or where.trace:
            raise ArchError([Diagnostic("aux-placement", "side outputs (Aux) belong at the top "
                                        "level of a model", head.span,
                                        "move Aux[...] out of the block or group")])
        if len(group.branches) != 1:
            raise ArchError([Diagnostic("aux-branches", "Aux takes one chain of layers",
                                        group.span, "remove the ',' inside Aux[...]")])
        if head.args:
            raise ArchError([Diagnostic("unknown-argument", "Aux takes no arguments", head.span)])
        name, _ = self._label(head, where, "aux")
        if name is not None:
            check_output_name(name, head.label.span)
        single = _single_layer(group.branches[0])
        if single is not None and single.label is None and \
                self.resolve_name(single)[0] == "block":
            # `Aux:aux1[ InceptionAux(...) ]`: the block instance is the side output's module,
            # named aux1 (torchvision's `aux1.conv`), not a wrapper around it.
            before = len(where.scope.children)
            out = self.layer(single, cur, where, Pending(None, name, head.span))
            scope = where.scope.children[before]
        else:
            scope = self._child_scope("aux", where, group.span, name, pending)
            scope.entry = cur
            out = self.statements(group.branches[0].statements, cur,
                                  Where(scope, where.env, where.trace))
            scope.exit = out
        scope.side = True
        if out == cur:
            raise ArchError([Diagnostic("aux-empty", "Aux needs layers", group.span)])
        self.side_outputs.append((scope, out))
        return cur

    # --- explicit graphs (YAML nodes:) -------------------------------------------------------------
    def dag(self, dag: ast.Dag, cur: int, where: Where) -> int:
        values: dict[str, int] = {"input": cur}
        prev = cur
        for node in dag.nodes:
            if node.id in values:
                self.reporter.error("duplicate-name", f"node id '{node.id}' is used twice",
                                    node.id_span)
                continue
            sources = []
            for i, src in enumerate(node.sources or ()):
                if src not in values:
                    guess = suggest(src, list(values))
                    span = node.source_spans[i] if i < len(node.source_spans) else node.span
                    self.reporter.error("unknown-node", f"no node '{src}' before this one",
                                        span, f"did you mean '{guess}'?" if guess else
                                        "`from` names earlier nodes or `input`")
                    values[node.id] = prev  # known, so later nodes do not repeat the error
                    break
                sources.append(values[src])
            else:
                if not sources:
                    sources = [prev]
                try:
                    check_identifier(node.id, node.id_span)
                    prev = self._dag_node(node, sources, where)
                except ArchError as err:
                    self.reporter.extend(self._in_blocks(d, where.trace) for d in err.diagnostics)
                    prev = sources[0]
                values[node.id] = prev
        return prev

    def _dag_node(self, node: ast.DagNode, sources: list[int], where: Where) -> int:
        first = node.chain.elements[0]
        unit = first.unit
        labelled = len(node.chain.elements) == 1 and isinstance(unit, ast.Layer) and \
            unit.label is not None
        pending = None if labelled else Pending(None, node.id, node.id_span)
        kind = None
        if isinstance(unit, ast.Layer):
            kind, what, _ = self.resolve_name(unit)
        if len(sources) > 1 or (kind == "op" and what.arity is None):
            if kind != "op" or what.arity is None and first.repeat is not None or \
                    what.arity is not None:
                raise ArchError([Diagnostic("dag-merge", f"node '{node.id}' has "
                                            f"{len(sources)} inputs, so it must start with a "
                                            "merge (Add or Concat)", unit.span,
                                            "write `layer: Concat` or `layer: Add`")])
            if unit.args:
                raise ArchError([Diagnostic("unknown-argument", f"{what.name} takes no "
                                            "arguments", unit.span)])
            rest = node.chain.elements[1:]
            key = self.op_node(what, unit, {}, sources, where, pending if not rest else None)
            if rest:
                sub = ast.Chain(rest, node.chain.span)
                return self.chain(sub, key, where, pending)
            return key
        return self.chain(node.chain, sources[0], where, pending)


def _at_least(size: int) -> str:
    """A lower bound in words; sizes are capped, so a huge one reads as "over 10,000"."""
    return f"at least {size:,}" if size <= 10**9 else "over a billion"


def _names_and_layers(what) -> list[tuple[str, ast.Layer | None]]:
    """The names a block's defaults and body (or a unit) read, and the layers it calls ("",
    layer); not what the blocks it calls read."""
    found: list[tuple[str, ast.Layer | None]] = []

    def visit(obj) -> None:
        kind = type(obj)
        if kind is ast.Name:
            found.append((obj.id, None))
            return
        if kind is ast.Layer:
            found.append(("", obj))
        if kind is tuple or kind is list:
            for item in obj:
                visit(item)
            return
        for name in _ast_fields(kind):
            visit(getattr(obj, name))

    if isinstance(what, ast.BlockDef):
        visit(tuple(p.default for p in what.params))
        visit(what.body)
    else:
        visit(what)
    return found


@functools.cache
def _ast_fields(kind: type) -> tuple[str, ...]:
    """The fields of an AST class that can hold expressions or layers (not its spans); none for
    other values (numbers, strings)."""
    if not dataclasses.is_dataclass(kind):
        return ()
    return tuple(f.name for f in dataclasses.fields(kind) if not f.name.endswith("span"))


def _is_seq(head: ast.Layer) -> bool:
    return head.name.lower() in ("seq", "sequential")


def _sequential_body(defn: ast.BlockDef) -> ast.Group | None:
    """The `Seq[...]` that is a block's whole body, unlabelled: the block is then itself an
    nn.Sequential (as torchvision's Conv2dNormActivation is), not a module holding one."""
    return _sequential(defn.body)


def _sequential(body: list) -> ast.Group | None:
    """The unlabelled `Seq[...]` that is a whole body (a block's or a model's), if it is one."""
    if len(body) != 1 or not isinstance(body[0], ast.Chain):
        return None
    elements = body[0].elements
    if len(elements) != 1 or elements[0].repeat is not None:
        return None
    unit = elements[0].unit
    if isinstance(unit, ast.Group) and unit.head is not None and _is_seq(unit.head) and \
            unit.head.label is None and not unit.head.args and len(unit.branches) == 1:
        return unit
    return None


def _single_layer(branch: ast.Branch) -> ast.Layer | None:
    if len(branch.statements) == 1 and isinstance(branch.statements[0], ast.Chain):
        elements = branch.statements[0].elements
        if len(elements) == 1 and elements[0].repeat is None and \
                isinstance(elements[0].unit, ast.Layer):
            return elements[0].unit
    return None


@register
@functools.lru_cache(maxsize=256)
def _template_expression(inner: str):
    """The expression inside one `{...}` of a name template, parsed once per text (a template
    is formatted for every copy of a repeated block: DenseNet-201 formats 98), or None when it
    is not a single expression."""
    from archdsl.syntax.parser import parse_text

    try:
        program = parse_text(f"_({inner})", "<template>")
    except ArchError:
        return None
    body = program.models[0].body if len(program.models) == 1 else ()
    element = body[0].elements[0] if len(body) == 1 and isinstance(body[0], ast.Chain) \
        and len(body[0].elements) == 1 else None
    layer = element.unit if element is not None else None
    if not isinstance(layer, ast.Layer) or layer.args is None or len(layer.args) != 1 \
            or layer.args[0].key is not None or element.repeat is not None:
        return None
    return layer.args[0].value
