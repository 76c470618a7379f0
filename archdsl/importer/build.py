"""From a reading (`trace`) to terms (`terms`): a module's forward as chains and merges.

Contract: `body(reading)` is the list of items of a traced module's forward or of a
sequential's children, each child named as torch names it (a label) except where a sequential
numbers it. A forward's graph becomes chains and merges by dominators: a merge's branches all
start from the nearest step every path to the merge passes through. A forward that is not such
a graph, or that calls what no layer kind imports, raises `Inexpressible`.
"""

from __future__ import annotations

from torch import nn

from archdsl import ops
from archdsl.importer.terms import Call, Group, Instance, Layer, Merge, Opaque, Side
from archdsl.importer.trace import Reading, Step, is_sequential, qualname


class Inexpressible(Exception):
    """What the language cannot say about a forward (the opaque layer's `why`)."""


def child_term(reading: Reading, label: str | None):
    """The item for a child module."""
    module = reading.module
    if reading.kind == "leaf":
        for op in ops.for_torch_type(qualname(type(module))):
            args = op.from_torch(module, [reading.in_shape], reading.out_shape)
            if args is not None:
                return Layer(op, args, label, module=module)
        return Opaque(module, label, reading.out_shape,
                      f"{type(module).__name__} has settings no layer kind expresses")
    if reading.kind == "opaque":
        return Opaque(module, label, reading.out_shape, reading.why)
    if reading.kind == "sequential" and type(module) is nn.Sequential:
        return Group(label, sequence(reading), module=module)
    try:
        items = body(reading)
    except Inexpressible as e:
        return Opaque(module, label, reading.out_shape, str(e))
    if isinstance(module, (nn.ModuleDict, nn.ModuleList)) and _calls_children_in_order(
            module, items):
        return Group(label, items, module=module)  # a container run in order: a Sequential
    return Call(Instance(module, reading.in_shape, items, is_sequential(module)), label)


def _describe(args: tuple, kwargs: dict) -> str:
    """A call's arguments in a few words: tensors by their shapes."""
    def one(v):
        if hasattr(v, "shape") and hasattr(v, "dtype"):
            return "tensor " + "x".join(str(d) for d in v.shape)
        if isinstance(v, (list, tuple)):
            return "(" + ", ".join(one(x) for x in v) + ")"
        return repr(v)
    text = ", ".join([one(a) for a in args] + [f"{k}={one(v)}" for k, v in kwargs.items()])
    return text if len(text) <= 80 else text[:77] + "..."


def _calls_children_in_order(module, items: list) -> bool:
    return [getattr(i, "label", None) for i in items] == [n for n, _ in module.named_children()] \
        and all(isinstance(i, (Layer, Call, Group)) for i in items)


def sequence(reading: Reading) -> list:
    items = []
    for position, (name, child) in enumerate(reading.children.items()):
        items.append(child_term(child, None if name == str(position) else name))
    _settle_bias(items, numbered=True)
    return items


def body(reading: Reading) -> list:
    if reading.kind == "sequential":
        return sequence(reading)
    return _Forward(reading).items()


def _as_skip(branch: list, ins: tuple, out: tuple) -> list:
    """A merge's branch that is exactly what a skip-branch kind builds for these shapes
    (ResNet's `downsample`: Shortcut) becomes that kind."""
    if len(branch) != 1 or not isinstance(branch[0], Group) or branch[0].label is None:
        return branch
    group = branch[0]
    for op in ops.all_ops():
        if not op.is_skip_branch or not op.projects([ins], out):
            continue
        args = op.from_torch(group.module, [ins], out)
        if args is None:
            continue
        stride = getattr(group.module[0], "stride", (1,))[0] if len(group.module) else 1
        built = _instantiate(op.projection(op.Params(**args), ins[0], out[0], stride))
        if repr(built) == repr(group.module):
            return [Layer(op, args, group.label)]
    return branch


def _instantiate(spec):
    """An `ops.TorchModule` of torch.nn classes as a module, to compare with one."""
    if not isinstance(spec, ops.TorchModule):
        return spec
    cls = getattr(nn, spec.cls.removeprefix("nn."))
    return cls(*(_instantiate(a) for a in spec.args), **dict(spec.kwargs))


def _settle_bias(chain: list, numbered: bool = False) -> None:
    """Where a layer's only consumer is the next item of its chain, what `bias=auto` gives;
    a Flatten right before an FC that flattens by itself is left out (not where the chain's
    modules are numbered)."""
    for item, after in zip(chain, chain[1:] + [None], strict=False):
        if isinstance(item, Layer) and "bias" in item.args:
            absorbs = isinstance(after, Layer) and after.op.absorbs_preceding_bias
            item.auto_bias = not absorbs if after is not None else None
        for branch in getattr(item, "branches", ()):
            _settle_bias(branch)
    if numbered:
        return
    chain[:] = [item for item, after in zip(chain, chain[1:] + [None], strict=False)
                if not (isinstance(item, Layer) and item.op.flattens and item.label is None and
                        isinstance(after, Layer) and after.args.get("flatten") is True)]


def _cropped_from(step: Step, size: tuple) -> Step | None:
    """The step whose map `step` crops, centred, to `size` (height, width), as
    `x[:, :, dy:dy + h, dx:dx + w]` with `dy = (x.size(2) - h) // 2` does; None if it is not
    such a crop."""
    if step.call != "getitem" or len(step.inputs) != 1 or len(step.args) != 1 or \
            len(step.ins[0]) != 3:
        return None
    index = step.args[0] if isinstance(step.args[0], tuple) else (step.args[0],)
    if index[:1] == (Ellipsis,):
        index = (slice(None), slice(None), *index[1:])
    if len(index) != 4 or any(i != slice(None) for i in index[:2]):
        return None
    for piece, have, want in zip(index[2:], step.ins[0][1:], size, strict=True):
        if not isinstance(piece, slice) or piece.step not in (None, 1) or \
                (piece.start or 0, piece.stop) != ((have - want) // 2, (have + want) // 2):
            return None
    return step.inputs[0]


class _Forward:
    """One traced forward, written as chains and merges."""

    def __init__(self, reading: Reading):
        self.reading = reading
        self.steps = reading.steps
        self.by_index = {s.index: s for s in self._all_steps()}
        self.input = next((s for s in self.by_index.values() if s.is_input), None)
        if self.input is None:
            raise Inexpressible("its forward does not read its input")
        self.dom = self._dominators()
        self.emitted: set[int] = set()
        self.labelled: set[str] = set()
        self.ends: list = []  # (top-level item index, step) for side outputs

    def _all_steps(self):
        seen = {}
        for s in self.steps:
            for i in s.inputs:
                seen.setdefault(i.index, i)
            seen.setdefault(s.index, s)
        if not seen:  # forward returns its input
            return [s for s in self.reading.outputs]
        return sorted(seen.values(), key=lambda s: s.index)

    def _dominators(self) -> dict[int, list[int]]:
        """For each step, the steps every path from the input to it passes through, in order
        (the last but one: the nearest, where a merge's branches start)."""
        dom: dict[int, list[int]] = {}
        for s in self.by_index.values():
            if not s.inputs:
                dom[s.index] = [s.index]
                continue
            common = set(dom[s.inputs[0].index])
            for i in s.inputs[1:]:
                common &= set(dom[i.index])
            dom[s.index] = sorted(common) + [s.index]
        return dom

    def idom(self, step: Step) -> int:
        if len(self.dom[step.index]) < 2:
            made = self._made(step)
            if made is not None:
                raise Inexpressible(f"its forward makes a tensor of its own ({made})")
            raise Inexpressible(f"{self._what(step)} merges values that do not all come from "
                                "its input")
        return self.dom[step.index][-2]

    def items(self) -> list:
        outputs = self.reading.outputs
        if not outputs:
            raise Inexpressible("forward returns no tensor")
        chain = self._dense_chain(outputs[0])
        if chain is None:
            chain = self.expr(outputs[0], self.input.index, top=True)
        for order, side in enumerate(outputs[1:], 1):
            self._add_side(chain, side, order)
        self._unused_children(chain)
        _settle_bias(chain)
        return chain

    def _dense_chain(self, out: Step) -> list | None:
        """DenseNet's dense block: layer k reads the list of the block's input and the earlier
        layers' outputs, and the block returns them all concatenated. That is a chain of
        `Concat[Id, layer]`, each on the concatenation so far: the layers' blocks say so."""
        concat = next((op for op in ops.for_torch_call(out.call or "") if op.concatenates), None)
        layers = out.inputs[1:]
        if concat is None or out.inputs[:1] != [self.input] or not layers:
            return None
        for k, layer in enumerate(layers):
            if not layer.list_input or \
                    [s.index for s in layer.inputs] != [s.index for s in [self.input, *layers[:k]]]:
                return None
        chain = []
        for layer in layers:
            term = self.term(layer)
            if not isinstance(term, Call):
                return None
            term.instance.body = [Merge(concat, {}, [[], term.instance.body])]
            term.instance.in_shape = layer.ins[0][:0] + (sum(s[0] for s in layer.ins),) + \
                tuple(layer.ins[0][1:])
            chain.append(term)
        return chain

    def expr(self, step: Step, base: int, top: bool = False) -> list:
        if step.index == base:
            return []
        if step.index in self.emitted:
            raise Inexpressible("its forward reuses a value in a way chains and merges "
                                "cannot express")
        if step.is_input:
            raise Inexpressible("its forward is not a chain from its input")
        if not step.inputs:
            raise Inexpressible(f"its forward makes a tensor of its own ({self._what(step)})")
        self.emitted.add(step.index)
        if len(step.inputs) == 1:
            chain = self.expr(step.inputs[0], base, top)
            item = self.term(step)
        else:
            d = self.idom(step)
            chain = self.expr(self._step(d), base, top)
            item = self.term(step)
            if not isinstance(item, Merge):
                raise Inexpressible(f"{self._what(step)} takes several inputs")
            inputs = self._uncropped(item, step)
            item.branches = [_as_skip(self.expr(i, d), self._step(d).out, step.out)
                             for i in inputs]
            if not item.op.concatenates:  # a sum or product: the identity last, as written
                item.branches.sort(key=lambda b: not b)
        if item is not None:
            chain.append(item)
            if top:
                self.ends.append((len(chain) - 1, step))
        return chain

    def _uncropped(self, merge: Merge, step: Step) -> list[Step]:
        """A merge's inputs; where a merge that can crop (`Concat(crop=true)`) joins maps
        cropped, centred, to the last input's height and width (U-Net's skip, the crop computed
        from the sizes), the maps before the crop, and the merge says crop=true."""
        last = step.inputs[-1]
        if "crop" not in merge.op.Params.model_fields or len(last.out) != 3:
            return step.inputs
        inputs = [_cropped_from(i, last.out[1:]) for i in step.inputs[:-1]]
        if all(i is None for i in inputs):
            return step.inputs
        merge.args = {**merge.args, "crop": True}
        return [i or s for i, s in zip(inputs, step.inputs[:-1], strict=True)] + [last]

    def _made(self, step: Step) -> str | None:
        """The call that makes a tensor from no input (`torch.ones`), upstream of `step`."""
        todo, seen = [step], set()
        while todo:
            s = todo.pop()
            if s.index in seen:
                continue
            seen.add(s.index)
            if not s.inputs and not s.is_input:
                return self._what(s)
            todo += s.inputs
        return None

    def _step(self, index: int) -> Step:
        return self.by_index[index]

    def _what(self, step: Step) -> str:
        return step.child or step.call or "input"

    def term(self, step: Step):
        if step.child is not None:
            name = step.child
            reading = self.reading.children[name]
            if name in self.labelled:  # a module called again: only parameterless ones
                if any(True for _ in reading.module.parameters()):
                    raise Inexpressible(f"it calls {name} twice (shared weights)")
                item = child_term(reading, None)
                return item
            self.labelled.add(name)
            return child_term(reading, name)
        for op in ops.for_torch_call(step.call):
            args = op.from_torch_call(step.call, step.args, step.kwargs, step.ins, step.out)
            if args is None:
                continue
            if op.is_identity:
                return None
            if op.arity is None:
                return Merge(op, args, [])
            if op.held_by_class:  # a parameter of this module's own, named as torch names it
                return Layer(op, args, step.attrs[0] if step.attrs else None)
            return Layer(op, args)
        raise Inexpressible(f"no layer kind imports `{step.call}` "
                            f"(arguments {_describe(step.args, step.kwargs)})")

    def _add_side(self, chain: list, side: Step, order: int) -> None:
        branch_from, s = None, side
        path = []
        ends = {st.index: pos for pos, st in self.ends}
        while s.index not in ends:
            if len(s.inputs) != 1:
                raise Inexpressible("a side output is not a chain off the main one")
            path.append(s)
            s = s.inputs[0]
        branch_from = ends[s.index]
        items = self.expr(side, s.index)
        label = next((st.child for st in reversed(path) if st.child), None)
        if label is None:
            raise Inexpressible("a side output without a module")
        if len(items) == 1 and isinstance(items[0], (Call, Layer, Group)):
            items[0].label = None
        chain.insert(branch_from + 1, Side(label, items, order))
        self.ends = [(p + 1 if p > branch_from else p, st) for p, st in self.ends]

    def _unused_children(self, chain: list) -> None:
        """Children the forward never calls: one with an `applied` switch (MBConv's
        stochastic depth without a residual) is built but not applied; parameterless others
        are left out; others cannot be expressed."""
        module = self.reading.module
        for name, child in module.named_children():
            if name in self.reading.children:
                continue
            op = next(iter(ops.for_torch_type(qualname(type(child)))), None)
            if op is not None and "applied" in op.Params.model_fields:
                shape = self.reading.out_shape
                args = op.from_torch(child, [shape], shape)
                chain.append(Layer(op, {**args, "applied": False}, name))
                continue
            if any(True for _ in child.parameters()) or any(True for _ in child.buffers()):
                raise Inexpressible(f"its forward does not use {name}, which has parameters")
