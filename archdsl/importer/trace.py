"""Read a torch module as data: each module's forward as steps over its direct children.

Contract: `read(module, input_shape)` runs one real forward of a small batch (in eval mode,
under no_grad) and returns the root `Reading`. A module is either a leaf (a kind of the op
catalog, `ops.for_torch_type`), an `nn.Sequential` (its children in order), or a module whose
forward torch.fx traces with every direct child as a leaf: its `steps` are the forward's
tensor-valued operations in order, each knowing its tensor inputs and per-sample shapes. Python
control flow is taken as in training mode (so training-only parts such as auxiliary classifiers
are read), while the values are computed in eval mode (so running statistics stay as they
are). A module that cannot be traced is `opaque`, with the reason.
"""

from __future__ import annotations

import operator
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn

from archdsl import ops


def qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def is_sequential(module: nn.Module) -> bool:
    """An `nn.Sequential` or a subclass that keeps its forward (`Conv2dNormActivation`)."""
    return isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward


@dataclass
class Step:
    """One tensor-valued operation of a forward: a child module call (`child` its name), a
    function or method call (`call` its name, `.mean` for a method), or the input."""

    index: int
    inputs: list[Step]
    ins: list[tuple]
    out: tuple
    child: str | None = None
    call: str | None = None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    attrs: tuple = ()  # names of the module's own parameters it reads (`layer_scale`)
    # a child called with a list of tensors (DenseNet's layers read all earlier features),
    # which it concatenates first: `inputs` are the list's tensors, in order
    list_input: bool = False

    @property
    def is_input(self) -> bool:
        return self.child is None and self.call is None


@dataclass
class Reading:
    """What one module instance is: a leaf kind, a sequence of children, or traced steps."""

    module: nn.Module
    name: str
    in_shape: tuple
    out_shape: tuple
    kind: str  # "leaf", "sequential", "traced" or "opaque"
    children: dict[str, Reading] = field(default_factory=dict)  # read children, by name
    steps: list[Step] = field(default_factory=list)
    outputs: list[Step] = field(default_factory=list)  # main output first, then side outputs
    why: str = ""


class _Tracer(fx.Tracer):
    """Every module the traced forward calls is a leaf: the graph is in terms of children."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return True


def _wrapped_functions(module: nn.Module) -> tuple:
    """Plain functions of the module's own Python module that the catalog imports whole
    (torchvision's `channel_shuffle`), so that tracing keeps the call instead of its reshapes."""
    names = {n for op in ops.all_ops() for n in op.torch_calls if not n.startswith(".")}
    home = sys.modules.get(type(module).__module__)
    found = []
    for name in names:
        fn = getattr(home, name, None)
        if isinstance(fn, types.FunctionType) and fn.__module__ == home.__name__:
            found.append(fn)
    return tuple(found)


class _Mode:
    """Every submodule in training (True) or eval mode for a while, then each as it was."""

    def __init__(self, module: nn.Module, training: bool):
        self.module, self.training = module, training

    def __enter__(self):
        self.saved = [(m, m.training) for m in self.module.modules()]
        self.module.train(self.training)

    def __exit__(self, *exc):
        for m, training in self.saved:
            m.training = training


def _trace(module: nn.Module) -> fx.Graph:
    # Python branches as in training: auxiliary heads are part of the model
    with _Mode(module, True):
        return _Tracer(autowrap_functions=_wrapped_functions(module)).trace(module)


_KNOWN_ATTRIBUTES = ("shape", "ndim", "dtype", "device", "is_cuda")
_KNOWN_METHODS = ("size", "dim", "numel")


class _SizedProxy(fx.Proxy):
    """A proxy that knows the tensor it stands for in the real forward: `x.shape`, `x.ndim`,
    `x.size(1)` and `x.dim()` are numbers, so branches and crops computed from sizes trace."""

    def __getattr__(self, k):
        if k in _KNOWN_ATTRIBUTES and "node" in self.__dict__:
            return getattr(self.tracer.values[self.node], k)
        return super().__getattr__(k)

    def __len__(self):
        return len(self.tracer.values[self.node])


class _SizedTracer(_Tracer):
    """Traces one module instance on its real input (torch.fx's symbolic tracing, every child
    a leaf), computing each node's value as it goes: the graph is specialised to the input's
    sizes, and a branch on the values still fails (a proxy used as a bool)."""

    def __init__(self, module: nn.Module, x, **kwargs):
        super().__init__(**kwargs)
        self.module, self.x = module, x
        self.values: dict[fx.Node, Any] = {}
        self.inputs_seen = 0
        self.computing = False

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return _SizedProxy(node, self)

    # while computing a value, modules run and read their parameters as usual, untraced
    # (tracing patches nn.Module's __call__ and __getattr__)
    def call_module(self, m, forward, args, kwargs):
        if self.computing:
            return forward(*args, **kwargs)
        return super().call_module(m, forward, args, kwargs)

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        if self.computing:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def _real(self, a):
        def real(v):
            if isinstance(v, fx.Proxy):
                v = v.node
            if not isinstance(v, fx.Node):
                return v
            if v not in self.values:  # a buffer or constant fx made a node of directly
                self.values[v] = _attribute(self.module, v.target)
            return self.values[v]
        return fx.node.map_aggregate(a, real)

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None,
                     proxy_factory_fn=None):
        if kind == "call_method" and target in _KNOWN_METHODS:
            self_, *rest = self._real(args)
            return getattr(self_, target)(*rest, **self._real(kwargs))
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr,
                                     proxy_factory_fn)
        self.computing = True
        try:
            self.values[proxy.node] = self._value(proxy.node)
        finally:
            self.computing = False
        return proxy

    def _value(self, node: fx.Node):
        kind, target = node.op, node.target
        real_args, real_kwargs = self._real(node.args), self._real(node.kwargs)
        if kind == "placeholder":
            self.inputs_seen += 1
            value = self.x if self.inputs_seen == 1 else (node.args[0] if node.args else None)
        elif kind == "get_attr":
            value = _attribute(self.module, target)
        elif kind == "call_module":
            child = self.module.get_submodule(target)
            with _Mode(child, False):  # values as in eval mode; only the sizes matter here
                value = child(*real_args, **real_kwargs)
        elif kind == "call_function":
            value = target(*real_args, **real_kwargs)
        elif kind == "call_method":
            self_, *rest = real_args
            value = getattr(self_, target)(*rest, **real_kwargs)
        else:
            value = None
        return value


def _trace_sized(module: nn.Module, x) -> fx.Graph:
    """torch.fx's graph of `module`'s forward for this input `x`, its sizes known."""
    with _Mode(module, True):
        return _SizedTracer(module, x, autowrap_functions=_wrapped_functions(module)).trace(module)


def call_name(node: fx.Node) -> str:
    if node.op == "call_method":
        return "." + node.target
    target = node.target
    if target in (operator.getitem,):
        return "getitem"
    return getattr(target, "__name__", str(target))


def _attribute(module: nn.Module, target: str):
    """A tensor the forward reads from the module: a parameter, a buffer (timm's BatchNormAct
    reads `running_mean`) or a plain attribute."""
    owner, _, name = target.rpartition(".")
    return getattr(module.get_submodule(owner) if owner else module, name)


def _in_shape(x) -> tuple | None:
    """A module's input shape; a list input is read concatenated along the channels."""
    return _shape(torch.cat(x, 1)) if isinstance(x, list) else _shape(x)


def _shape(value) -> tuple | None:
    return tuple(value.shape[1:]) if isinstance(value, torch.Tensor) else None


class Reader:
    def __init__(self):
        self.opaque: list[Reading] = []

    def read(self, module: nn.Module, name: str, x: torch.Tensor) -> tuple[Reading, Any]:
        """Run `module` on `x`, reading it; returns the reading and the module's output."""
        if ops.for_torch_type(qualname(type(module))):
            y = module(x)
            return Reading(module, name, _in_shape(x), _shape(_main(y)), "leaf"), y
        if is_sequential(module):
            reading = Reading(module, name, _in_shape(x), (), "sequential")
            y = x
            for child_name, child in module.named_children():
                reading.children[child_name], y = self.read(child, child_name, y)
            reading.out_shape = _shape(y)
            return reading, y
        try:
            graph = _trace(module)
        except Exception as e:  # noqa: BLE001  (torch.fx raises many kinds)
            try:  # a branch or a crop on the input's sizes: trace it for this input's sizes
                graph = _trace_sized(module, x)
            except Exception as sized:  # noqa: BLE001
                y = module(x)
                why = (f"torch.fx cannot trace it: {_reason(e)}; nor with its input's sizes "
                       f"known: {_reason(sized)}")
                reading = Reading(module, name, _in_shape(x), _shape(_main(y)), "opaque",
                                  why=why)
                self.opaque.append(reading)
                return reading, y
        return self._run_graph(module, name, graph, x)

    def _run_graph(self, module, name, graph, x):
        reading = Reading(module, name, _in_shape(x), (), "traced")
        values: dict[fx.Node, Any] = {}
        steps: dict[fx.Node, Step] = {}
        placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        for node in graph.nodes:
            if node.op == "placeholder":
                if node is not placeholders[0]:
                    if node.args:  # a default
                        values[node] = node.args[0]
                        continue
                    raise ValueError(f"forward takes more than one input ({node.target})")
                values[node] = x
                steps[node] = Step(len(steps), [], [], _in_shape(x))
                continue
            if isinstance(x, list) and node.op == "call_function" and node.args and \
                    node.args[0] is placeholders[0] and call_name(node) == "cat":
                # the list input concatenated: the step the module's input stands for
                values[node] = torch.cat(x, *node.args[1:], **node.kwargs)
                steps[node] = steps[placeholders[0]]
                continue
            if node.op == "output":
                outs = node.args[0]
                reading.outputs = [steps[n] for n in _output_nodes(outs, steps)]
                y = fx.node.map_arg(outs, lambda n: values[n])
                reading.out_shape = reading.outputs[0].out if reading.outputs else ()
                return reading, y
            args = fx.node.map_arg(node.args, lambda n: values[n])
            kwargs = fx.node.map_arg(node.kwargs, lambda n: values[n])
            if node.op == "get_attr":
                values[node] = _attribute(module, node.target)
                continue
            if node.op == "call_module":
                child = module.get_submodule(node.target)
                if node.target in reading.children:
                    value = child(*args, **kwargs)
                else:
                    reading.children[node.target], value = self.read(child, node.target,
                                                                     *args, **kwargs)
            elif node.op == "call_function":
                value = node.target(*args, **kwargs)
            else:  # call_method
                self_, *rest = args
                value = getattr(self_, node.target)(*rest, **kwargs)
            values[node] = value
            if isinstance(value, torch.Tensor):
                inputs = [steps[n] for n in node.all_input_nodes if n in steps]
                if node.op == "call_function" and node.target is operator.getitem and \
                        node.args[0] not in steps:
                    # one piece of a tuple-valued call (`x.chunk(2, dim=1)[0]`)
                    src = node.args[0]
                    inputs = [steps[n] for n in src.all_input_nodes if n in steps]
                    step = Step(len(steps), inputs, [s.out for s in inputs], _shape(value),
                                call=call_name(src),
                                args=_plain(src.args[1:], values),
                                kwargs={**_plain(src.kwargs, values), "_item": node.args[1]})
                else:
                    step = Step(len(steps), inputs, [s.out for s in inputs], _shape(value))
                    if node.op == "call_module":
                        step.child = node.target
                        step.list_input = bool(node.args) and isinstance(node.args[0], list)
                    else:
                        step.call = call_name(node)
                        step.args = _plain(_non_tensor(node.args, steps), values)
                        step.attrs = tuple(n.target for n in node.all_input_nodes
                                           if n.op == "get_attr")
                        step.kwargs = _plain(node.kwargs, values)
                steps[node] = step
                reading.steps.append(step)
        raise ValueError("forward has no output")


def _reason(e: Exception) -> str:
    return f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"


def _output_nodes(outs, steps) -> list:
    """The tensor steps a forward returns, in order (through tuples and named tuples)."""
    if isinstance(outs, (tuple, list)):
        return [n for o in outs for n in _output_nodes(o, steps)]
    if isinstance(outs, fx.Node):
        if outs in steps:
            return [outs]
        if outs.op == "call_function":  # a named tuple built in forward (GoogLeNetOutputs)
            return _output_nodes(outs.args, steps)
    return []


def _non_tensor(args: tuple, steps) -> tuple:
    """The arguments that are not tensor inputs (nor lists of them: `torch.cat`'s)."""
    def is_tensor(a):
        if isinstance(a, (list, tuple)):
            return bool(a) and all(is_tensor(b) for b in a)
        return isinstance(a, fx.Node) and a in steps
    return tuple(a for a in args if not is_tensor(a))


def _plain(value, values):
    """Arguments with graph values replaced by what they computed (sizes, numbers)."""
    return fx.node.map_arg(value, lambda n: values[n])


def _main(y):
    return y[0] if isinstance(y, (tuple, list)) else y


def read(module: nn.Module, input_shape: tuple[int, ...]) -> tuple[Reading, list[Reading]]:
    """Read `module` on a batch of one random input of `input_shape` (CxHxW)."""
    like = next(module.parameters(), None)  # the module's dtype and device
    x = torch.randn(1, *input_shape, dtype=like.dtype if like is not None else None,
                    device=like.device if like is not None else None)
    reader = Reader()
    # a forward traced as in training and run may update buffers (`F.batch_norm(...,
    # training=self.training)`'s running statistics): they are put back as they were
    saved = [(b, b.clone()) for b in module.buffers()]
    try:
        with _Mode(module, False), torch.no_grad():
            reading, _ = reader.read(module, "", x)
    finally:
        with torch.no_grad():
            for b, value in saved:
                b.copy_(value)
    return reading, reader.opaque
