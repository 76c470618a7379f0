"""Naming: every node and scope gets a local name, unique in its parent scope.

Rules (the language reference states them too):
- a label names the module: `FC:fc` is `fc`; a numeric label is a display name and the module is
  named from the kind and number (`Conv:1` is `conv1`, `Pool:2` is `pool2`);
- in a labelled group (`features: [...]`, `layer1: ...`, `Seq[...]`) and in a block written as
  one `Seq[...]`, an unlabelled child is named by its position, counting every module child
  (torchvision's `features.3`, `layer1.0`, `features.1.conv.0.0`);
- elsewhere an unlabelled child is named from its kind and a counter (`conv1`, `relu2`,
  `bottleneck1`), skipping names that labels already took;
- two labels with the same name in one scope are an error.
"""

from __future__ import annotations

from archdsl.diagnostics import Note, Reporter
from archdsl.ir import Node, Scope


def _label_span(child: Node | Scope):
    return child.span


def assign_names(root: Scope, reporter: Reporter) -> None:
    for scope in root.walk_scopes():
        _name_children(scope, reporter)


def _is_module(child: Node | Scope) -> bool:
    return isinstance(child, Scope) or child.op.module


def _name_children(scope: Scope, reporter: Reporter) -> None:
    explicit: dict[str, Node | Scope] = {}
    for child in scope.children:
        name = child.explicit_name
        if name is None:
            continue
        if name in explicit:
            reporter.error("duplicate-name", f"the name '{name}' is used twice in "
                           f"{_scope_words(scope)}", _label_span(child),
                           "give one of them another label",
                           (Note("first used here", _label_span(explicit[name])),))
            continue
        explicit[name] = child
    taken = set(explicit)
    counters: dict[str, int] = {}
    position = 0
    positional = scope.kind == "group" or scope.sequential
    for child in scope.children:
        module = _is_module(child)
        if child.explicit_name:
            child.local = child.explicit_name
        elif positional and module:
            child.local = str(position)
        else:
            prefix = child.prefix
            while True:
                counters[prefix] = counters.get(prefix, 0) + 1
                candidate = f"{prefix}{counters[prefix]}"
                if candidate not in taken:
                    break
            child.local = candidate
        taken.add(child.local)
        if module:
            position += 1


def _scope_words(scope: Scope) -> str:
    if scope.parent is None:
        return "the model"
    if scope.kind == "block" and scope.block is not None:
        return f"block {scope.block.definition.name}"
    return f"'{scope.name}'"
