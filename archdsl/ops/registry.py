"""The registry of layer kinds: lookup by name or alias, case-insensitively when unambiguous.

`register` raises on a duplicate name and on an incomplete declaration, so a new op cannot be
half-added. `input_op()` is the op of the model's input node, found by its trait, not its name. VGG-paper tokens (`conv3-64`, `FC-4096`, `soft-max`) are looked up here too.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archdsl.ops.base import Op

_BY_NAME: dict[str, Op] = {}
_BY_LOWER: dict[str, list[Op]] = {}
_ORDER: list[Op] = []


def register(cls: type[Op]) -> type[Op]:
    op = cls()
    if not getattr(cls, "name", None) or not cls.summary or not cls.__doc__:
        raise TypeError(f"op {cls.__name__} must declare name, summary and a docstring")
    if op.module and cls.torch is _base_torch():
        raise TypeError(f"op {cls.name} must say how it becomes a PyTorch module")
    if cls.is_input and any(other.is_input for other in _ORDER):
        raise ValueError(f"op {cls.name} declares is_input, and so does "
                         f"{input_op().name}: a model has one input")
    for name in (cls.name, *cls.aliases):
        if name in _BY_NAME:
            raise ValueError(f"layer name {name!r} is declared twice ({cls.__name__} and "
                             f"{type(_BY_NAME[name]).__name__})")
        _BY_NAME[name] = op
        group = _BY_LOWER.setdefault(name.lower(), [])
        if op not in group:
            group.append(op)
    _ORDER.append(op)
    return cls


def forget(op: Op) -> None:
    """Take an op out of the catalog (a plugin kind registered again: a notebook cell re-run)."""
    for name in (op.name, *op.aliases):
        if _BY_NAME.get(name) is op:
            del _BY_NAME[name]
        group = _BY_LOWER.get(name.lower(), [])
        if op in group:
            group.remove(op)
    if op in _ORDER:
        _ORDER.remove(op)


def _base_torch():
    from archdsl.ops.base import Op

    return Op.torch


def all_ops() -> list[Op]:
    return list(_ORDER)


def names() -> list[str]:
    return list(_BY_NAME)


def input_op() -> Op:
    """The op of every model's input node (the one declaring `is_input`)."""
    for op in _ORDER:
        if op.is_input:
            return op
    raise LookupError("no op declares is_input")


def lookup(name: str) -> Op | None:
    """The op called `name`: exact match first, then a unique case-insensitive match. (Kinds of
    installed plugins are here once `archdsl.plugins.load_plugins()` ran: the elaborator runs it
    for a name it does not know.)"""
    return _known(name)


def _known(name: str) -> Op | None:
    op = _BY_NAME.get(name)
    if op is not None:
        return op
    group = _BY_LOWER.get(name.lower())
    if group and len(group) == 1:
        return group[0]
    return None


def for_torch_type(qualname: str) -> list[Op]:
    """The kinds that may import a torch module of this class (`module.QualName`,
    `torch_types`), those with fewer arguments first (GAP before AdaptiveAPool); each one's
    `from_torch` says whether it does."""
    found = [op for op in _ORDER if qualname in op.torch_types]
    return sorted(found, key=lambda op: len(op.Params.model_fields))


def for_torch_call(name: str) -> list[Op]:
    """The kinds that may import a call of this function (`relu`) or tensor method (`.mean`),
    those with fewer arguments first; each one's `from_torch_call` says whether it does."""
    found = [op for op in _ORDER if name in op.torch_calls]
    return sorted(found, key=lambda op: len(op.Params.model_fields))


def ambiguous(name: str) -> list[str]:
    group = _BY_LOWER.get(name.lower(), [])
    return [op.name for op in group] if len(group) > 1 else []


_VGG_CONV = re.compile(r"conv(\d+)-(\d+)$", re.IGNORECASE)
_VGG_FC = re.compile(r"fc-(\d+)$", re.IGNORECASE)


def vgg_token(token: str) -> tuple[str, dict] | None:
    """The op name and arguments a VGG-paper token stands for, e.g. `conv3-64` is
    Conv(64, 3, p=same) and `FC-4096` is FC(4096)."""
    if m := _VGG_CONV.match(token):
        return "Conv", {"out_channels": int(m.group(2)), "kernel": int(m.group(1)),
                        "padding": "same"}
    if m := _VGG_FC.match(token):
        return "FC", {"out_features": int(m.group(1))}
    if token.lower() == "soft-max":
        return "SM", {}
    return None
