"""Import a PyTorch model as an archdsl spec a person would write (issue 18).

`spec_from_torch(module, (3, 224, 224), origin="torchvision.models:resnet50")` reads the
module (`trace`: one forward on a small random input, each module's forward traced by torch.fx
in terms of its children), turns each forward into chains and merges (`build`), makes one
block per class of repeated submodules with what varies between them as parameters (`unify`),
and writes the text (`write`). Names are the module's own, so `archdsl.build(text)` loads the
original's `state_dict` with `strict=True`. What the language cannot express (a module of an
unknown type whose forward cannot be traced or calls what no layer kind imports) is an opaque
layer, `Opaque:NAME(out=(C, H, W), params=N, type="pkg.Class", why="...")`, listed in
`ImportedSpec.opaque`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

from archdsl import ops
from archdsl.importer.build import Inexpressible, body, child_term
from archdsl.importer.exact import settle_rates
from archdsl.importer.terms import Call, Expr, Group, Layer, Merge, Opaque, Side
from archdsl.importer.trace import qualname, read
from archdsl.importer.unify import make_blocks
from archdsl.importer.write import Writer, write_block


@dataclass(frozen=True)
class OpaqueLayer:
    name: str  # the module's name in the model (dotted)
    type: str  # its class, `package.module.Class`
    why: str


@dataclass(frozen=True)
class ImportedSpec:
    text: str
    opaque: tuple[OpaqueLayer, ...]


def spec_from_torch(module: nn.Module, input_shape: tuple[int, ...] | str, *,
                    origin: str | None = None, name: str | None = None) -> ImportedSpec:
    """The spec of `module` for inputs of `input_shape` (CxHxW without the batch, or the text
    `"3x224x224"`). `origin` is what the header says it was imported from (default: the
    module's class), `name` the model's name (default: the class's). The module is left as it
    was (training mode of every submodule, parameters and buffers)."""
    if isinstance(input_shape, str):
        input_shape = tuple(input_shape.replace("×", "x").split("x"))
    input_shape = tuple(int(d) for d in input_shape)
    # torchvision's GoogLeNet and Inception-v3 re-normalise their input in forward when built
    # for pretrained weights: the `transform_input:` setting says so, the trace goes without it
    transform = getattr(module, "transform_input", None) is True
    if transform:
        module.transform_input = False
    try:
        reading, _ = read(module, input_shape)
    finally:
        if transform:
            module.transform_input = True
    if reading.kind in ("leaf", "opaque"):
        items = [child_term(reading, _model_label(module))]
    else:
        try:
            items = body(reading)
        except Inexpressible as e:
            items = [Opaque(module, _model_label(module), reading.out_shape, str(e))]
    if reading.kind == "sequential":  # the model is itself an nn.Sequential: `Seq[...]`
        items = [Group(None, items)]
    taken = set(ops.names()) | _prelude_blocks() | {"Seq", "Aux", "Opaque"}
    classes = _classes(items)
    blocks = make_blocks(items, taken, classes)
    settle_rates(items, blocks)
    sides = _sides(items)
    writer = Writer({})
    model_name = _identifier(name or type(module).__name__)
    params = sum(p.numel() for p in module.parameters())
    lines = [f"# Imported from {origin or qualname(type(module))} by archdsl's importer: "
             f"{params:,} parameters.",
             "# Block parameters are what differs between a class's modules; names are the "
             "module's own.", ""]
    for block in blocks:
        lines += [write_block(block, writer), ""]
    lines.append(f"model {model_name} {{")
    lines.append(f"  input: {'x'.join(str(d) for d in input_shape)}")
    if classes is not None:
        lines.append(f"  classes: {classes}")
    if sides:
        lines.append(f"  outputs: [main, {', '.join(sides)}]")
    if transform:
        lines.append("  transform_input: true")
    lines.append("")
    lines.append(writer.body(items, 2))
    lines.append("}")
    opaque = tuple(OpaqueLayer(n, qualname(type(m)), why) for n, m, why in _opaque(module, items))
    return ImportedSpec("\n".join(lines) + "\n", opaque)


def _model_label(module: nn.Module) -> str:
    return re.sub(r"\W", "_", type(module).__name__).lower() or "net"


def _identifier(text: str) -> str:
    text = re.sub(r"\W", "_", text)
    return text if text[:1].isalpha() else "Model" + text


def _prelude_blocks() -> set[str]:
    from importlib.resources import files

    text = files("archdsl").joinpath("prelude.arch").read_text()
    return set(re.findall(r"^block\s+(\w+)", text, re.M))


def _classes(items: list) -> int | None:
    """The size of the model's last FC (the classifier), written `classes` there."""
    last = None

    def walk(seq):
        nonlocal last
        for item in seq:
            if isinstance(item, Layer) and item.op.weighted and "out_features" in item.args:
                last = item
            elif isinstance(item, Group):
                walk(item.items)
    walk(items)
    if last is None or not isinstance(last.args["out_features"], int):
        return None
    classes = last.args["out_features"]
    last.args["out_features"] = Expr("classes")
    return classes


def _sides(items: list) -> list[str]:
    return [i.label for i in sorted((i for i in items if isinstance(i, Side)),
                                    key=lambda side: side.order)]


def _opaque(module: nn.Module, items: list):
    """(name in the model, module, why) for each opaque layer, once each."""
    names = {id(m): name for name, m in module.named_modules()}
    seen: set[int] = set()

    def walk(seq):
        for item in seq:
            if isinstance(item, Opaque) and id(item.module) not in seen:
                seen.add(id(item.module))
                yield names.get(id(item.module), item.label or ""), item.module, item.why
            elif isinstance(item, Call):
                yield from walk(item.instance.body)
            elif isinstance(item, (Group, Side)):
                yield from walk(item.items)
            elif isinstance(item, Merge):
                for branch in item.branches:
                    yield from walk(branch)
    return list(walk(items))


__all__ = ["ImportedSpec", "OpaqueLayer", "spec_from_torch"]
