"""Names for block parameters from the module's own source: what its `__init__` passes.

Contract: `source_name(owner, child, label, key)` is the name the constructor of `owner` (a
module class) gives the value it passes for `key` (an archdsl argument: `out_channels`,
`kernel`, `stride`...) when it makes `child`: `width` for ResNet's `conv1x1(inplanes, width)`,
`expanded_channels` for MBConv's depthwise `Conv2dNormActivation(expanded_channels, ...)`,
`stochastic_depth_prob` for its `StochasticDepth(stochastic_depth_prob, "row")`. The child's
construction is found by its attribute (`self.conv1 = ...`) or else as the k-th call of its
class in the source, when the source calls its class as often as `owner` holds such children.
None where the source cannot be read or the argument is not a plain name (`planes * 4`).
"""

from __future__ import annotations

import ast
import functools
import inspect
import sys
import textwrap

from torch import nn

# an archdsl argument (or a short parameter name) -> the names torch constructors give it
TORCH_NAMES = {"out_channels": ("out_channels", "out_planes", "out_features"),
               "c": ("out_channels", "out_planes", "out_features"),
               "out_features": ("out_features",), "n": ("out_features",),
               "kernel": ("kernel_size",), "k": ("kernel_size",),
               "stride": ("stride",), "s": ("stride",), "groups": ("groups",), "g": ("groups",),
               "dilation": ("dilation",), "d": ("dilation",), "padding": ("padding",),
               "pad": ("padding",), "p": ("p",)}
GENERIC = {"self", "cnf", "x", "i", "kwargs", "args"}
FACTORY = "a factory passed in"  # the callee of `conv_block(...)`, `conv_block` a parameter


@functools.lru_cache(maxsize=256)
def _calls(owner: type) -> tuple:
    """(callee, positional argument names, keyword -> name, `self.X` target) for each call in
    the `__init__` of `owner` and of the classes it derives from, in source order; a callee is
    a name, or the class an `__init__` parameter defaults to (`conv_layer=nn.Conv2d`)."""
    found: list = []
    for cls in owner.__mro__:
        if cls in (nn.Module, nn.Sequential, object) or "__init__" not in vars(cls):
            continue
        found += _own_calls(cls)
    return tuple(found)


def _own_calls(cls: type) -> list:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls.__init__)))
        defaults = {name: p.default if isinstance(p.default, type) else FACTORY
                    for name, p in inspect.signature(cls.__init__).parameters.items()}
    except (OSError, TypeError, ValueError, SyntaxError):
        return []
    targets = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            for t in node.targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and \
                        t.value.id == "self":
                    targets[id(node.value)] = t.attr
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = _tail(node.func)
        callee = defaults.get(callee, callee)
        if callee is None or any(isinstance(a, ast.Starred) for a in node.args):
            continue
        found.append((node.lineno, node.col_offset, callee,
                      tuple(_tail(a) for a in node.args),
                      {k.arg: _tail(k.value) for k in node.keywords if k.arg},
                      targets.get(id(node))))
    return [f[2:] for f in sorted(found, key=lambda f: f[:2])]


def _tail(node) -> str | None:
    """`width` for `width`, `out_channels` for `cnf.out_channels`; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _built(module: nn.Module) -> list[nn.Module]:
    """The modules `module`'s constructor makes itself: its children, through containers."""
    out = []
    for child in module.children():
        if type(child) in (nn.Sequential, nn.ModuleList, nn.ModuleDict):
            out += _built(child)
        else:
            out.append(child)
    return out


def _parameters(owner: type, callee: str, child: nn.Module) -> list[str]:
    """The parameter names of what `callee` names: the child's class, or a function of the
    owner's module (`conv1x1`)."""
    target = callee if isinstance(callee, type) else type(child) \
        if callee == type(child).__name__ else \
        vars(sys.modules.get(owner.__module__, object())).get(callee)
    if not callable(target):  # a factory passed in (`conv_block(...)`): the child's class
        target = type(child)
    try:
        sig = inspect.signature(target.__init__ if isinstance(target, type) else target)
    except (TypeError, ValueError):
        return []
    return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind in (
        p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def source_name(owner: nn.Module, child: nn.Module, label: str | None, key: str) -> str | None:
    calls = _calls(type(owner))
    if not calls:
        return None
    call = next((c for c in calls if label is not None and c[3] == label), None)
    if call is None:
        same = [m for m in _built(owner) if type(m) is type(child)]
        made = [c for c in calls if c[0] in (type(child), type(child).__name__)] or \
            [c for c in calls if c[0] == FACTORY]
        if len(made) != len(same) or not any(m is child for m in same):
            return None
        call = made[next(k for k, m in enumerate(same) if m is child)]
    callee, args, keywords, _ = call
    names = _parameters(type(owner), callee, child)
    for wanted in (key, *TORCH_NAMES.get(key, ())):
        if wanted not in names:
            continue
        position = names.index(wanted)
        found = keywords.get(wanted) or (args[position] if position < len(args) else None)
        if found and found not in GENERIC and found.isidentifier():
            return found
        return None
    return None
