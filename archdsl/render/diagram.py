"""What a diagram shows: boxes, clusters and edges of one view of an annotated model.

Contract: `build_diagram(model, options)` reads the annotated IR (`model.ir`: its scope tree,
graph order, shapes and counts; never the spec text) and returns a `Diagram`, a theme-free
description that `graphviz_render` turns into DOT. Same model and options, same diagram: the
scope tree is walked in source order and edges in `graph.order()`.

Views (`options.view`):
- `layers`: one box per layer; blocks, stages and side outputs are clusters around their layers.
- `blocks`: one box per block instance (`Bottleneck(128, stride=2)`) and per side output;
  stages are clusters; a normalisation or activation directly after a layer folds into that
  layer's box (`Conv 7x7, 64, /2` over `BN · ReLU`).
- `stages`: one box per stage, with its content and a count badge (`layer2`: `Bottleneck ×4`);
  a stage holding several runs of repeated blocks (DPN's `features`) is a cluster whose runs
  become the boxes; outside stages, a run of repeated blocks is one box.
- `auto`: the finest of `layers`, `blocks`, `stages` that draws at most `AUTO_BOXES` boxes
  (LeNet-5, AlexNet, VGG-16: layers; VGG-19-BN, ResNet-50, GoogLeNet: blocks; ResNet-152,
  DenseNet: stages), so the default fits a slide.

`options.expand` names scopes (fnmatch patterns on dotted names: `layer2`, `layer3.*`) drawn one
level finer: a box (a stage in the stages view, a block in the blocks view) becomes a cluster of
its parts, and a stage the blocks view frames already gets its blocks opened. A pattern that
opens nothing (any in the layers view) is listed in `Diagram.unopened`; `check_expansions`
refuses it with the reason. With `expand`, `auto` chooses between blocks and stages. Layers that only hand their input on (identity
shortcuts, `Id`) are drawn as edges, so a residual connection reads as a skip line; a merge with
a `glyph` (Add's `+`) is drawn as a small circle. Families come from the op catalog; collapsed
scopes take their layers' family, or `block` when those are mixed.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass, field

from archdsl.describe import (
    block_call,
    composition,
    human,
    is_side,
    is_stage,
    is_trunk,
    layer_label,
    passes_through,
    scope_family,
    scope_title,
)
from archdsl.ir import Node, Scope
from archdsl.ops.base import fmt_shape
from archdsl.render.choices import VIEWS

AUTO_BOXES = 45  # `auto` picks the finest view with at most this many boxes


@dataclass(frozen=True)
class Options:
    view: str = "auto"
    expand: tuple[str, ...] = ()
    shapes: bool = False  # output shapes on edges
    params: bool = False  # parameter counts in boxes
    names: bool = False  # module names in layer boxes


@dataclass(eq=False)
class Box:
    """One drawn node: a layer (with the elementwise layers folded into it) or a scope."""

    id: str
    family: str
    title: str  # the op label, or the scope name
    lines: list[str] = field(default_factory=list)  # what follows the title, in small type
    badge: str = ""  # "×4" for runs and stages
    glyph: str | None = None
    io: bool = False  # the input or an output marker
    scope: bool = False  # a collapsed block, run or stage
    params: int = 0
    keys: list[int] = field(default_factory=list)
    folded: list[str] = field(default_factory=list)  # labels of folded elementwise layers


@dataclass(eq=False)
class Cluster:
    id: str
    title: str
    items: list[Box | Cluster] = field(default_factory=list)
    call: str = ""  # a block's call (`Bottleneck(64)`), the end of its title


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    label: str = ""


@dataclass(eq=False)
class Diagram:
    name: str
    subtitle: str
    view: str
    items: list[Box | Cluster]
    edges: list[Edge]
    unmatched: list[str] = field(default_factory=list)  # `expand` patterns that matched nothing
    unopened: list[str] = field(default_factory=list)  # and those naming only what is drawn open

    def boxes(self) -> list[Box]:
        out: list[Box] = []

        def walk(items):
            for item in items:
                if isinstance(item, Cluster):
                    walk(item.items)
                else:
                    out.append(item)

        walk(self.items)
        return out

    def families(self) -> list[str]:
        """Families drawn, in first-drawn order (the legend lists them)."""
        seen: dict[str, None] = {}
        for box in self.boxes():
            if not box.io:
                seen.setdefault(box.family, None)
        return list(seen)


class _Builder:
    def __init__(self, model, options: Options):
        self.model = model
        self.graph = model.graph
        self.options = options
        self.view = options.view
        self.unit: dict[int, str] = {}  # IR node key -> box id
        self.boxes: dict[str, Box] = {}
        self.count = 0
        self.matched: set[str] = set()  # `expand` patterns that name a scope
        self.opened: set[str] = set()  # and those that drew a box as its parts

    def new_id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def expanded(self, scope: Scope) -> list[str]:
        hits = [p for p in self.options.expand if fnmatch.fnmatchcase(scope.name, p)]
        self.matched.update(hits)
        return hits

    # --- boxes ---------------------------------------------------------------------------------
    def layer_box(self, node: Node) -> Box:
        box = Box(f"n{node.key}", node.op.family, layer_label(node), glyph=node.op.glyph,
                  params=node.ann.param_count, keys=[node.key])
        if node.op.is_input:
            box.io = True
            box.title = "Input"
            box.lines.append(fmt_shape(node.ann.out_shape))
        elif self.options.names and node.name:
            box.lines.append(node.display)
        self.boxes[box.id] = box
        self.unit[node.key] = box.id
        return box

    def scope_box(self, scopes: list[Scope], title: str) -> Box:
        nodes = [n for s in scopes for n in s.walk_nodes()]
        box = Box(self.new_id("s"), scope_family(nodes), title, scope=True,
                  params=sum(n.ann.param_count for n in nodes))
        if len(scopes) > 1:  # a run of repeated blocks
            box.lines.append(block_call(scopes[0]) if scopes[0].block else scopes[0].local)
            box.badge = f"×{len(scopes)}"
        elif scopes[0].kind == "block":
            box.lines.append(block_call(scopes[0]))
        else:
            text, count = composition(scopes[0].children)
            if count > 1:
                kind, _, _ = text.rpartition(" ×")
                text, box.badge = kind, f"×{count}"
            if text:
                box.lines.append(text)
        last = self.graph.node(scopes[-1].exit) if scopes[-1].exit is not None else None
        if last is not None and not self.options.shapes and last.ann.out_shape is not None:
            box.lines.append(fmt_shape(last.ann.out_shape))
        box.keys = [n.key for n in nodes]
        for n in nodes:
            self.unit[n.key] = box.id
        self.boxes[box.id] = box
        return box

    # --- walking the scope tree ----------------------------------------------------------------
    def boxed(self, child: Scope, level: str) -> bool:
        """Whether the view draws a scope as one box (so expanding it opens it)."""
        if level == "stages" and ((child.kind == "block" and child.repeat is not None)
                                  or is_stage(child)):
            return True
        return level != "layers" and child.kind in ("block", "aux") and not is_trunk(child)

    def items(self, scope: Scope, level: str, open_blocks: str = "") -> list[Box | Cluster]:
        """The drawn items of a scope's children. `open_blocks`: the `--expand` pattern of an
        enclosing stage the view already frames (the blocks view), which opens its blocks."""
        out: list[Box | Cluster] = []
        previous: Box | None = None  # the last layer box, for folding
        children = scope.children
        i = 0
        while i < len(children):
            child = children[i]
            i += 1
            if isinstance(child, Node):
                if passes_through(child):
                    continue
                if level != "layers" and previous is not None and self.folds(child, previous):
                    previous.folded.append(layer_label(child))
                    previous.params += child.ann.param_count
                    previous.keys.append(child.key)
                    self.unit[child.key] = previous.id
                    continue
                previous = self.layer_box(child)
                out.append(previous)
                continue
            previous = None
            hits = self.expanded(child) or ([open_blocks] if open_blocks else [])
            if hits and self.boxed(child, level):  # a box becomes a frame of its parts
                self.opened.update(hits)
                out.append(self.cluster(child, "blocks"))
                continue
            if hits and level == "stages":  # a frame of runs: its blocks, one box each
                if any(isinstance(c, Scope) for c in child.children):
                    self.opened.update(hits)
                out.append(self.cluster(child, "blocks"))
                continue
            if hits and level == "blocks":  # a framed stage: its blocks open
                out.append(self.cluster(child, level, hits[0]))
                continue
            if level == "stages" and child.kind == "block" and child.repeat is not None:
                run = [child]
                while i < len(children) and self.same_run(children[i], child):
                    run.append(children[i])
                    i += 1
                title = scope_title(child) if len(run) == 1 else \
                    f"{scope_title(child)} … {run[-1].local}"
                out.append(self.scope_box(run, title))
            elif level == "stages" and is_stage(child):
                out.append(self.scope_box([child], child.local))
            elif level != "layers" and child.kind in ("block", "aux") and not is_trunk(child):
                out.append(self.scope_box([child], scope_title(child)))
            else:
                out.append(self.cluster(child, level))
                # a group ending in a layer box: an activation after it folds in (DenseNet's
                # norm5 inside `features`, its ReLU outside, read `BN · ReLU` as the stem does)
                previous = _last_layer_box(out[-1])
        return out

    def same_run(self, other, first: Scope) -> bool:
        return (isinstance(other, Scope) and other.kind == "block" and other.repeat is not None
                and other.repeat.group == first.repeat.group and not self.expanded(other))

    def folds(self, node: Node, previous: Box) -> bool:
        """An elementwise layer right after a layer box, its only reader, joins that box."""
        if not node.op.elementwise or previous.io or previous.glyph:
            return False
        inputs = self.graph.inputs(node.key)
        if len(inputs) != 1 or self.unit.get(inputs[0].key) != previous.id:
            return False
        return len(self.graph.consumers(inputs[0].key)) == 1

    def cluster(self, scope: Scope, level: str, open_blocks: str = "") -> Cluster:
        call = ""
        if scope.kind == "block" and not is_trunk(scope):
            call = block_call(scope)
            title = f"{scope_title(scope)}: {call}"
        elif is_side(scope):
            title = f"{scope.local} (side output)"
        else:
            title = scope_title(scope)  # `features.1` for a stage named by its position
        return Cluster(f"cluster_{scope.name.replace('.', '_')}", title,
                       self.items(scope, level, open_blocks), call)

    # --- edges ---------------------------------------------------------------------------------
    def drawn(self, node: Node) -> Node:
        """The node itself, or for a pass-through the drawn node whose value it hands on."""
        while node.key not in self.unit:
            node = self.graph.inputs(node.key)[0]
        return node

    def resolve(self, node: Node) -> str:
        return self.unit[self.drawn(node).key]

    def edges(self) -> list[Edge]:
        out: list[Edge] = []
        seen: set[tuple[str, str]] = set()
        for node in self.graph.order():
            if node.key not in self.unit:
                continue
            dst = self.unit[node.key]
            for src_node in self.graph.inputs(node.key):
                src = self.resolve(src_node)
                if src == dst or (src, dst) in seen:
                    continue
                seen.add((src, dst))
                out.append(Edge(src, dst, self.shape_label(self.drawn(src_node))))
        return out

    def shape_label(self, node: Node, always: bool = False) -> str:
        """The shape an edge carries, written where it changes: after a box whose layers change
        the shape they got (a convolution, a pooling, a Concat, with whatever folded into it;
        a collapsed block or stage), not after each ReLU or BN box."""
        shape = node.ann.out_shape
        if not self.options.shapes or shape is None:
            return ""
        box = self.boxes.get(self.unit.get(node.key, ""))
        if not always and box is not None and not box.io:  # a block or stage too
            head = self.graph.node(box.keys[0])
            if all(tuple(s) == tuple(shape) for s in head.ann.in_shapes):
                return ""
        return fmt_shape(shape)

    def outputs(self) -> tuple[list[Box], list[Edge]]:
        boxes, edges = [], []
        for name, node in self.model.outputs:
            box = Box(f"out_{name}", "io", "Output" if name == "main" else name, io=True)
            box.lines.append(fmt_shape(node.ann.out_shape))
            boxes.append(box)
            edges.append(Edge(self.unit[node.key], box.id, self.shape_label(node, True)))
        return boxes, edges


def _side_params(model) -> tuple[int, str]:
    """Parameters of side outputs (GoogLeNet's auxiliary heads), which inference leaves out,
    and what they are (`the side heads aux1, aux2`)."""
    sides = [s for s in model.ir.root.walk_scopes() if s.parent is not None and is_side(s)]
    keys = {n.key for s in sides for n in s.walk_nodes()}
    heads = [s for s in sides if not any(p in sides for p in _ancestors(s))]
    return (sum(model.graph.node(k).ann.param_count for k in keys),
            f"the side heads {', '.join(s.name for s in heads)}")


def _ancestors(scope):
    while scope.parent is not None:
        scope = scope.parent
        yield scope


def _last_layer_box(item: Box | Cluster) -> Box | None:
    while isinstance(item, Cluster) and item.items:
        item = item.items[-1]
    return item if isinstance(item, Box) and not item.scope else None


def build_diagram(model, options: Options | None = None) -> Diagram:
    """The boxes, clusters and edges of one view of `model` (see the module docstring)."""
    options = options or Options()
    if options.view not in VIEWS:
        raise ValueError(f"unknown view {options.view!r}")
    if options.view == "auto":
        # the layers view has no boxes to open: with `expand`, auto starts at blocks
        for view in ("blocks",) if options.expand else ("layers", "blocks"):
            found = build_diagram(model, dataclasses.replace(options, view=view))
            if len(found.boxes()) <= AUTO_BOXES:
                return found
        return build_diagram(model, dataclasses.replace(options, view="stages"))
    b = _Builder(model, options)
    items: list[Box | Cluster] = [b.layer_box(model.graph.node(model.ir.input_key))]
    items += b.items(model.ir.root, b.view)
    edges = b.edges()
    out_boxes, out_edges = b.outputs()
    t = model.totals
    # the total counts the side heads, which are drawn but not run at inference: say so
    side, heads = _side_params(model)
    params = f"{human(t.params)} params" + (
        f" ({human(t.params - side)} without {heads})" if side
        else "")
    subtitle = (f"{fmt_shape(model.input_shape)} → {fmt_shape(model.output_shape)} · "
                f"{params} · {human(t.macs)}{' + ?' if t.uncounted('macs') else ''} MACs")
    unmatched = [p for p in options.expand if p not in b.matched]
    unopened = [p for p in options.expand if p in b.matched and p not in b.opened]
    return Diagram(model.name, subtitle, b.view, items + out_boxes, edges + out_edges, unmatched,
                   unopened)


class NothingToExpand(ValueError):
    """`expand` names a scope the view draws open already (every scope in the layers view)."""


def check_expansions(diagram: Diagram) -> None:
    """Refuse `expand` patterns that opened nothing, saying why and what would."""
    if not diagram.unopened:
        return
    names = ", ".join(diagram.unopened)
    if diagram.view == "layers":
        why = "the layers view draws every layer already; --expand opens a box of the " \
              "blocks or stages view (e.g. --view blocks)"
    else:
        why = f"the {diagram.view} view draws its parts already (no box in it to open)"
    raise NothingToExpand(f"--expand {names}: {why}")


def scope_names(model) -> list[str]:
    """Names `--expand` can take: every stage, block and side output."""
    return [s.name for s in model.ir.root.walk_scopes() if s.parent is not None]
