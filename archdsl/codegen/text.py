"""How values, constructor calls, comments and attribute paths are written in generated source.

Contract: pure functions from data to Python text, no state. `render_call` writes a
`TorchModule` (an op's `torch()` result) as `cls(args)`, one argument per line when the call
would pass the line width; `render_arg` writes one argument. `comment`, `doc` and `location`
make text from a spec safe inside a `#` comment or a docstring (one line, control characters
escaped, no closing quotes), so spec text cannot escape into code. `attr` writes an attribute
path (`self.features[3].conv1`).
"""

from __future__ import annotations

from archdsl.expr import render_value
from archdsl.ops.base import TorchModule


def render_call(call: TorchModule, indent: str = "", width: int = 100) -> str:
    """`cls(args)` on one line, or with one argument per line when that would be too long."""
    args = [render_arg(a) for a in call.args]
    args += [f"{k}={render_arg(v)}" for k, v in call.kwargs]
    flat = f"{call.cls}({', '.join(args)})"
    if len(indent) + len(flat) <= width or not any(isinstance(a, TorchModule)
                                                   for a in call.args):
        return flat
    inner = indent + "    "
    parts = [render_call(a, inner, width) if isinstance(a, TorchModule) else render_arg(a)
             for a in call.args] + [f"{k}={render_arg(v)}" for k, v in call.kwargs]
    return f"{call.cls}(\n" + "".join(f"{inner}{p},\n" for p in parts) + f"{indent})"


def render_arg(value) -> str:
    if isinstance(value, TorchModule):
        return render_call(value)
    if isinstance(value, list):
        return "[" + ", ".join(render_arg(v) for v in value) + "]"
    return render_value(value)


def location(span) -> str:
    """`file:line:col` of a span, for a comment beside a layer's construction ('' for none)."""
    if span is None:
        return ""
    file, line, col, _ = span.located()
    return comment(f"{file.name}:{line}:{col}")


def comment(text: str) -> str:
    """Text from a spec or a file name, safe in a `#` comment: one line, control chars escaped."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def doc(text: str) -> str:
    """Text safe inside a triple-quoted docstring: it cannot end the string or escape."""
    return comment(text.replace("\\", "\\\\")).replace('"""', '\\"\\"\\"')


def attr(base: str, parts: list[str]) -> str:
    """`base.a.b[3]`: digits index an `nn.Sequential`, other parts are attributes; a name that
    is not an identifier (RegNet's `block1-0`) is read with `get_submodule` (the generated source
    calls no `getattr`: tests/test_safety.py's audit forbids it)."""
    out = base
    for part in parts:
        if part.isdigit():
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out = f'{out}.get_submodule("{part}")'
    return out


def assign_module(name: str, text: str) -> str:
    """The `__init__` statement that registers a submodule: `self.conv1 = ...`, or
    `self.add_module("0", ...)` for a position or a name that is not an identifier."""
    if name.isidentifier():
        return f"self.{name} = {text}"
    return f'self.add_module("{name}", {text})'


