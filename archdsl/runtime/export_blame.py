"""Which layer an export fails on: the message of an export's `BackendError`.

Contract: `failure_message(net, model, example, fmt, err, what)` runs the module once eagerly on
`example`, recording with forward pre-hooks the input of every layer's module (the IR's nodes
that are modules) in forward order; then it runs the format's exporter on each of those modules
alone (the first of each distinct class, configuration and input shape, within `BUDGET_S`
seconds), and names the first that fails: its module name, op, spec location and the exporter's
reason. When no layer fails alone (the failure lies in the forward code between layers), the
message quotes the generated source line the error points at, if any. It never raises. `what`
names the format in words (`export.FORMAT_NAMES`): passed in, as `export` imports this module.
"""

from __future__ import annotations

import linecache
import re
import time
import traceback

BUDGET_S = 60.0
ANSI = re.compile(r"\x1b\[[0-9;]*m")
GENERATED = re.compile(r'(<archdsl-generated [^>]+>)"?, line (\d+)')


def failure_message(net, model, example, fmt: str, err: BaseException, what: str) -> str:
    head = f"cannot export {model.name} to {what}"
    try:
        culprit = _first_failing_layer(net, model, example, fmt)
    except Exception:  # noqa: BLE001  (blame is best effort; the exporter's reason still shows)
        culprit = None
    if culprit is not None:
        node, reason = culprit
        return (f"{head}: layer {node.name} ({node.op.name}{_where(node)}) fails: {reason}\n"
                "  hint: change or remove that layer, or choose another --format")
    text = f"{head}: {_reason(err)}"
    line = _generated_line(err)
    if line:
        text += f"\n  in the generated forward code: {line}"
    return text + "\n  hint: run with ARCHDSL_DEBUG=1 for the exporter's traceback"


def _first_failing_layer(net, model, example, fmt: str):
    import torch

    inputs: dict[str, tuple] = {}
    layers = {}
    handles = []
    for node in model.layers():
        if not node.op.module:
            continue
        try:
            module = net.get_submodule(node.name)
        except AttributeError:  # e.g. a shortcut that is the identity in this instance
            continue
        layers[node.name] = node

        def record(mod, args, name=node.name):
            inputs.setdefault(name, args)

        handles.append(module.register_forward_pre_hook(record))
    try:
        with torch.no_grad():
            net(example)
    finally:
        for handle in handles:
            handle.remove()
    attempt = _ATTEMPTS[fmt]
    seen: set = set()
    start = time.monotonic()
    for name, args in inputs.items():  # forward order
        module = net.get_submodule(name)
        key = (type(module).__qualname__, repr(module),
               tuple(tuple(a.shape) for a in args if isinstance(a, torch.Tensor)))
        if key in seen:
            continue
        seen.add(key)
        if time.monotonic() - start > BUDGET_S:
            return None
        try:
            attempt(module, args)
        except Exception as err:  # noqa: BLE001
            return layers[name], _reason(err)
    return None


def _script(module, args) -> None:
    import torch

    torch.jit.script(module)


def _program(module, args) -> None:
    import torch

    torch.export.export(module, args)


def _onnx(module, args) -> None:
    import torch

    torch.onnx.export(module, args, None, dynamo=True, verbose=False)


_ATTEMPTS = {"torchscript": _script, "export": _program, "onnx": _onnx}


def _where(node) -> str:
    if node.span is None:
        return ""
    file, line, col, _ = node.span.located()
    return f" at {file.name}:{line}:{col}"


def _reason(err: BaseException) -> str:
    """The exporter's reason in a line or two: the outermost message and, when it only wraps
    another error, the innermost one."""
    chain = [err]
    while chain[-1].__cause__ is not None and len(chain) < 10:
        chain.append(chain[-1].__cause__)
    first = _first_line(chain[0])
    last = _first_line(chain[-1])
    text = first if last == first or last in first else f"{first} ({last})"
    return text[:400] + ("..." if len(text) > 400 else "")


def _first_line(err: BaseException) -> str:
    for line in ANSI.sub("", str(err)).splitlines():
        line = line.strip()
        if line and not GENERATED.search(line):
            return f"{type(err).__name__}: {line}" if len(line) < 30 else line
    return type(err).__name__


def _generated_line(err: BaseException) -> str:
    """The generated source line an error points at (message text or traceback), if any."""
    texts = [str(err), "".join(traceback.format_exception(type(err), err, err.__traceback__))]
    for text in texts:
        for match in GENERATED.finditer(text):
            line = linecache.getline(match.group(1), int(match.group(2))).strip()
            if line:
                return f"line {match.group(2)}: {line}"
    return ""
