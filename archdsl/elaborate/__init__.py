"""Elaboration: a parsed spec to the IR of one model.

Contract: `elaborate(loaded, model=None, overrides=None, limits=...)` picks a model of the spec
(the first, or the one named), reads its settings (overrides win), walks its body into an IR
graph (`walker`), settles what depends on the graph's structure (a convolution's bias is off when
a BatchNorm directly follows it; the `head:` replaces the classifier), names every module
(`naming`), marks frozen layers and orders the outputs. It raises `ArchError` with every problem
it found. Shapes are not known yet: they come from `archdsl.passes.shapes`.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from archdsl.diagnostics import ArchError, Diagnostic, Note, Reporter, suggest
from archdsl.elaborate.binding import schema_fields
from archdsl.elaborate.naming import assign_names
from archdsl.elaborate.walker import Pending, Walker, Where
from archdsl.ir import Graph, ModelIR, Node
from archdsl.limits import DEFAULT_LIMITS, Limits
from archdsl.loader import LoadedSpec
from archdsl.settings import ModelSettings, read_settings
from archdsl.syntax import ast


def pick_model(loaded: LoadedSpec, name: str | None) -> ast.ModelDef:
    models = loaded.program.models
    program = loaded.program
    if not models and not program.blocks and not program.uses:
        raise ArchError([Diagnostic("empty-spec", "the spec is empty", None,
                                    "write layers such as \"Conv-ReLU-Pool-FC\", or a "
                                    "`model Name { ... }`")])
    if not models:
        blocks = ", ".join(b.name for b in loaded.program.blocks) or "none"
        raise ArchError([Diagnostic("no-model", "this spec defines no model", None,
                                    f"it is a block library (blocks: {blocks}); add "
                                    "`model Name { ... }` or use it from another spec")])
    if name is None:
        return models[0]
    for m in models:
        if m.name == name or m.name.lower() == name.lower():
            return m
    guess = suggest(name, [m.name for m in models])
    raise ArchError([Diagnostic("no-model", f"no model named '{name}' in this spec", None,
                                f"did you mean '{guess}'?" if guess else
                                "models: " + ", ".join(m.name for m in models))])


def elaborate(loaded: LoadedSpec, model: str | None = None,
              overrides: dict[str, Any] | None = None,
              limits: Limits = DEFAULT_LIMITS) -> ModelIR:
    mdef = pick_model(loaded, model)
    settings = read_settings(mdef, overrides)
    reporter = Reporter()
    if settings.input is None:
        raise ArchError([Diagnostic(
            "missing-input", f"model {mdef.name} does not say its input size", mdef.name_span
            if not mdef.implicit else None,
            "add `input: 3x224x224` (channels x height x width) or pass --input 3x224x224")])
    env = {"classes": settings.classes} if settings.classes is not None else {}
    walker = Walker(loaded.blocks, limits, reporter)
    root, input_key, main = walker.model(mdef, settings.input, env)
    reporter.raise_if_errors()
    graph = walker.graph
    if len(graph) == 1:
        raise ArchError([Diagnostic("empty-model", f"model {mdef.name} has no layers",
                                    mdef.name_span if not mdef.implicit else None,
                                    "add layers, e.g. `Conv(32, 3) - ReLU - FC(10)`")])
    if settings.head is not None:
        main = _replace_head(walker, graph, main, settings, env)
        reporter.raise_if_errors()
    _settle_bias(graph)
    assign_names(root, reporter)
    outputs = _outputs(walker, main, settings, reporter)
    _freeze(graph, settings, reporter)
    reporter.raise_if_errors()
    return ModelIR(mdef.name, graph, root, input_key, outputs, settings, mdef.span)


def _settle_bias(graph: Graph) -> None:
    """The notes: a convolution followed directly by BatchNorm has no bias (BN shifts): its
    only consumer declares `absorbs_preceding_bias`."""
    settled: dict[tuple[int, bool], Any] = {}  # layers bound alike share their params
    for node in graph.nodes:
        params = node.params
        if params is not None and "bias" in schema_fields(type(params))[1] and \
                params.bias == "auto":
            consumers = graph.consumers(node.key)
            bias = not (len(consumers) == 1 and consumers[0].op.absorbs_preceding_bias)
            key = (id(params), bias)
            if key not in settled:
                settled[key] = params.model_copy(update={"bias": bias})
            node.params = settled[key]


def _classifier(graph: Graph, main: int) -> Node | None:
    """The weighted layer the main output comes from, past the elementwise layers after it
    (softmax, dropout, flatten, activations); None when there is none."""
    node = graph.node(main)
    while node.op.elementwise:
        inputs = graph.inputs(node.key)
        if len(inputs) != 1:
            return None
        node = inputs[0]
    return node if node.op.weighted else None


def _replace_head(walker: Walker, graph: Graph, main: int, settings: ModelSettings,
                  env: dict) -> int:
    old = _classifier(graph, main)
    if old is None:
        raise ArchError([Diagnostic("no-head", "cannot find the classifier to replace: the "
                                    "model does not end with FC (or a 1x1 Conv)", None,
                                    "add the new layers to the spec instead of `head:`")])
    source = graph.inputs(old.key)[0].key
    scope = old.scope
    index = scope.children.index(old)
    before = len(scope.children)
    pending = Pending(None, old.explicit_name, None)
    where = Where(scope, env, old.trace)
    new_out = walker.chain(settings.head, source, where, pending)
    added = scope.children[before:]
    del scope.children[before:]
    scope.children[index:index + 1] = added
    graph.rewire(old.key, new_out)
    graph.remove(old.key)
    if scope.exit == old.key:
        scope.exit = new_out
    return new_out if main == old.key else main


def _outputs(walker: Walker, main: int, settings: ModelSettings, reporter: Reporter
             ) -> list[tuple[str, int]]:
    side = [(scope.local, key) for scope, key in walker.side_outputs]
    available = [("main", main), *side]
    if settings.outputs is None:
        return available
    by_name = dict(available)
    order = list(settings.outputs)
    span = settings.spans.get("outputs")
    for name in order:
        if name not in by_name:
            guess = suggest(name, list(by_name))
            reporter.error("bad-setting", f"outputs: no output named '{name}'", span,
                           f"did you mean '{guess}'?" if guess else
                           "outputs are: " + ", ".join(by_name))
    if sorted(order) != sorted(by_name) or (order and order[0] != "main"):
        reporter.error("bad-setting", "outputs must list 'main' first and then every side "
                       "output once", span, "e.g. `outputs: [main, " +
                       ", ".join(n for n, _ in side) + "]`")
        return available
    return [(name, by_name[name]) for name in order]


def _freeze(graph: Graph, settings: ModelSettings, reporter: Reporter) -> None:
    if not settings.freeze:
        return
    names: set[str] = set()
    for node in graph.nodes:
        parts = node.name.split(".")
        names.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    used = set()
    for node in graph.nodes:
        parts = node.name.split(".")
        prefixes = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
        for pattern in settings.freeze:
            if any(p == pattern or fnmatch.fnmatchcase(p, pattern) for p in prefixes):
                node.frozen = True
                used.add(pattern)
    for pattern in settings.freeze:
        if pattern not in used:
            guess = suggest(pattern, sorted(names))
            reporter.error("bad-setting", f"freeze: nothing is named '{pattern}'",
                           settings.spans.get("freeze"),
                           f"did you mean '{guess}'?" if guess else
                           "freeze takes module names (conv1, layer1) or patterns (\"layer*\")",
                           (Note("the model's modules are listed by `archdsl summary`", None),))
