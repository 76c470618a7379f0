"""The spec as the importer builds it before writing: layers, block calls, groups, merges.

Values in `args` are literals (numbers, strings, tuples) until `unify` makes block bodies
templates: then a value may be a `Ref` to a block parameter or an `Expr` over them, and an item
may carry `when`, a condition on a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from archdsl.ops import Op


@dataclass(frozen=True)
class Expr:
    """Text of an expression over block parameters (`planes * 4`, `in_channels`)."""

    text: str


@dataclass
class Layer:
    op: Op
    args: dict[str, Any]
    label: str | None = None
    auto_bias: bool | None = None  # the bias `bias=auto` settles to here (None: unknown)
    when: Any = None
    module: Any = None  # the torch module it was read from (None: a function's call)


@dataclass
class Call:
    instance: Instance
    label: str | None = None
    args: dict[str, Any] = field(default_factory=dict)  # set by unify: parameter -> value
    when: Any = None


@dataclass
class Group:
    """An nn.Sequential: numbered children, named `label` in its parent (None: by position)."""

    label: str | None
    items: list
    when: Any = None
    module: Any = None


@dataclass
class Merge:
    op: Op
    args: dict[str, Any]
    branches: list[list]  # an empty branch is the merge's input itself (Id)
    when: Any = None


@dataclass
class Side:
    """A side output (auxiliary classifier) reading the chain's current value."""

    label: str
    items: list
    order: int = 0  # its place among the forward's outputs (1: right after the main one)


@dataclass
class Opaque:
    """A module archdsl cannot express: kept as an opaque layer with its output shape."""

    module: nn.Module
    label: str | None
    out: tuple
    why: str
    when: Any = None


@dataclass
class Instance:
    """One module of a class that becomes a block: its body, with literal values."""

    module: nn.Module
    in_shape: tuple
    body: list
    sequential: bool  # an nn.Sequential subclass: the body is written `Seq[ ... ]`
    block: Any = None  # the Block it is an instance of (set by unify)
