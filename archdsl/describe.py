"""Words and facts for diagrams and reports: layer labels, block calls, stage compositions,
which scopes count as stages, and a layer's figures as a JSON record.

Contract: pure functions of annotated IR nodes and scopes (labels come from the op catalog's
`label()`, identities from `passes_through()`); no drawing and no Graphviz. `diagram` and
`featuremaps` read them; `layer_record` is a layer of `archdsl summary --json` (`Model.summary`)
and of `archdsl diff --json`.
"""

from __future__ import annotations

from typing import Any

from archdsl.ir import Node, Scope

BLOCK_FAMILY = "block"  # the family of a collapsed scope whose layers are of several families


def human(n: int | float) -> str:
    """25557032 -> '25.6M' (for labels and titles; tables give exact figures)."""
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            text = f"{n / div:.1f}"
            return (text[:-2] if text.endswith(".0") else text) + suffix
    return str(int(n))


def layer_record(node: Node) -> dict[str, Any]:
    kernel, stride, padding = node.op.cells(node.ann.params) if node.ann.params is not None \
        else ("", "", "")
    return {
        "name": node.name,
        "label": node.display,
        "op": node.op.name,
        "output_shape": list(node.ann.out_shape or ()),
        "params": node.ann.param_count,
        "macs": None if "macs" in node.op.unknown_figures else node.ann.macs,  # not known
        "activations": node.ann.activations,
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
        "frozen": node.frozen,
        "receptive_field": node.ann.rf.to_json() if node.ann.rf is not None else None,
    }


def layer_label(node: Node) -> str:
    p = node.ann.params
    if p is None:
        return node.op.name
    return node.op.label(p, list(node.ann.in_shapes), node.ann.out_shape)


def passes_through(node: Node) -> bool:
    p = node.ann.params
    return p is not None and node.op.passes_through(p, list(node.ann.in_shapes),
                                                    node.ann.out_shape)


def block_call(scope: Scope) -> str:
    """A block instance as it is usually called: required parameters by position, parameters
    with defaults by name (`Bottleneck(128, stride=2)`, `BasicConv(192, 3, p=1)`)."""
    info = scope.block
    if info is None:
        return scope.local
    parts = []
    for param in info.definition.params:
        if param.name not in info.call_exprs:
            continue
        value = _value(info.values.get(param.name))
        parts.append(value if param.default is None else f"{param.name}={value}")
    return f"{info.definition.name}({', '.join(parts)})"


def _value(v) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(_value(x) for x in v) + ")"
    if isinstance(v, float):
        return f"{v:.4g}"  # a label, not a record: ConvNeXt's rates read 0.005882, not 0.00588235
    return str(v)


def kind_of(child: Node | Scope) -> str | None:
    """What a child is called in a composition line; None for layers that add nothing to it."""
    if isinstance(child, Scope):
        if child.kind == "block" and child.block is not None:
            return child.block.definition.name
        return child.local
    if child.op.elementwise or child.op.is_input or passes_through(child):
        return None
    return child.op.name


def composition(children: list[Node | Scope]) -> tuple[str, int]:
    """`Bottleneck ×4`, or `Conv ×13 · MPool ×5` when the runs are many; and the count of the
    only kind when there is one (for the badge)."""
    runs: list[list] = []
    for child in children:
        kind = kind_of(child)
        if kind is None:
            continue
        if runs and runs[-1][0] == kind:
            runs[-1][1] += 1
        else:
            runs.append([kind, 1])
    if len(runs) > 4:
        counts: dict[str, int] = {}
        for kind, n in runs:
            counts[kind] = counts.get(kind, 0) + n
        runs = [[k, n] for k, n in counts.items()]
    text = " · ".join(k if n == 1 else f"{k} ×{n}" for k, n in runs)
    return text, (runs[0][1] if len(runs) == 1 else 0)


def scope_family(nodes: list[Node]) -> str:
    """A collapsed scope takes the family of its layers when they share one (BasicConv: conv
    with BN and ReLU folded in); a mix (a residual block, a transition) is a `block`."""
    families = {n.op.family for n in nodes if kind_of(n) is not None}
    return families.pop() if len(families) == 1 else BLOCK_FAMILY


def repeat_groups(scope: Scope) -> set[int]:
    return {c.repeat.group for c in scope.children
            if isinstance(c, Scope) and c.kind == "block" and c.repeat is not None}


def is_trunk(scope: Scope) -> bool:
    """A block that holds repeated blocks, itself or in the groups and blocks it holds
    (EfficientNet's `features`, RegNet's `trunk_output` and its stages: blocks, so that each
    variant is one call): in diagrams it reads as a labelled group of stages, not as one
    block."""
    return scope.kind == "block" and _holds_repeats(scope)


def _holds_repeats(scope: Scope) -> bool:
    for child in scope.children:
        if isinstance(child, Scope):
            if child.kind == "block" and child.repeat is not None:
                return True
            if child.kind in ("group", "block") and _holds_repeats(child):
                return True
    return False


def is_group(scope: Scope) -> bool:
    """A labelled group, `Seq[...]`, or a trunk: a container of stages or blocks."""
    return scope.kind == "group" or is_trunk(scope)


def is_stage(scope: Scope) -> bool:
    """A labelled group drawn as one box in the stages view: it holds no stages of its own and
    at most one run of repeated blocks (a group of several runs, like DPN's `features`, is a
    cluster whose runs are the stages)."""
    if not is_group(scope):
        return False
    if any(isinstance(c, Scope) and is_group(c) for c in scope.children):
        return False
    return len(repeat_groups(scope)) <= 1


def is_side(scope: Scope) -> bool:
    return scope.kind == "aux" or bool(getattr(scope, "side", False))


def scope_title(scope: Scope) -> str:
    """A scope's name as a box title: its local name, or with its parent's when that is only a
    position (`layer2.0`, `branch3.0`)."""
    if scope.local.isdigit() and scope.parent is not None and scope.parent.local:
        return f"{scope.parent.local}.{scope.local}"
    return scope.local
