"""The abstract syntax tree shared by the .arch and YAML front ends.

Contract: plain frozen dataclasses, each with the `span` of the text it came from. The AST says
what was written, nothing more: layer names are not yet looked up, arguments not evaluated,
repeats not unrolled. Both front ends produce these nodes, so later stages never know whether a
spec was written as text or as YAML.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

from archdsl.source import SourceFile, Span

# --- expressions (arguments, repeat counts, block defaults) ----------------------------------


@dataclass(frozen=True, slots=True)
class Num:
    value: int | float
    span: Span


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    """A block parameter, a setting such as `classes`, or a bare word such as `same`."""

    id: str
    span: Span


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str  # + - * / // % **
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class TupleExpr:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    """`max(a, b)`: a function of the expression language (archdsl/expr_functions.py)."""

    func: str
    args: tuple[Expr, ...]
    span: Span

    @property
    def func_span(self) -> Span:
        """Where the function's name is written (derived, as `Arg.key_span`)."""
        return Span(self.span.file, self.span.start, self.span.start + len(self.func))


@dataclass(frozen=True, slots=True)
class IfElse:
    """`then if cond else other`: only the chosen branch is evaluated."""

    then: Expr
    cond: Expr
    other: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Compare:
    """`first op rest[0] op rest[1] ...`: comparisons chained as in Python (`a < b <= c`)."""

    first: Expr
    ops: tuple[str, ...]  # < <= == != >= >
    rest: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # and, or
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Literal:
    """A value that was never text, from YAML (a number, bool or list)."""

    value: object
    span: Span


Expr = (Num | Str | Name | BinOp | Neg | TupleExpr | Literal | Call | IfElse | Compare | BoolOp
        | Not)

# --- layer chains ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arg:
    key: str | None  # None for a positional argument
    value: Expr
    span: Span

    @property
    def key_span(self) -> Span | None:
        """Where the keyword is written (`p` of `p=1`), for diagnostics. Derived, not stored:
        a layer's AST is kept for every layer of a model, and fewer objects per layer keep
        Python's garbage collector off large specs."""
        if self.key is None:
            return None
        return Span(self.span.file, self.span.start, self.span.start + len(self.key))


@dataclass(frozen=True, slots=True)
class Label:
    """`:1`, `:fc` or `:"denselayer{i+1}"` after a layer name."""

    text: str
    numeric: bool
    template: bool  # a quoted label, formatted with block parameters
    span: Span


@dataclass(frozen=True, slots=True)
class Layer:
    """`Name:label(args)`: a layer kind or a block call."""

    name: str
    label: Label | None
    args: tuple[Arg, ...] | None  # None when written without parentheses
    span: Span

    @property
    def name_span(self) -> Span:
        """Where the name is written: the start of the layer (derived, as `Arg.key_span`)."""
        return Span(self.span.file, self.span.start, self.span.start + len(self.name))


@dataclass(frozen=True, slots=True)
class Group:
    """`Head[branch, branch, ...]`: a merge (`Add[...]`, `Concat[...]`), a side output
    (`Aux:aux1[...]`), or a plain bracket `[...]` (repeated, or a list in a setting)."""

    head: Layer | None
    branches: tuple[Branch, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Optional_:
    """A parenthesised layer, as the notes write an optional softmax: `FC-FC (SM)`."""

    chain: Chain
    span: Span


@dataclass(frozen=True, slots=True)
class StringUnit:
    value: str
    span: Span


Unit = Layer | Group | Optional_ | StringUnit


@dataclass(frozen=True, slots=True)
class Repeat:
    count: Expr
    template: Label | None  # `x 6 as "denselayer{i+1}"`
    span: Span


@dataclass(frozen=True, slots=True)
class Element:
    unit: Unit
    repeat: Repeat | None
    span: Span


@dataclass(frozen=True, slots=True)
class Chain:
    """Elements joined by `-`: each feeds the next."""

    elements: tuple[Element, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Stage:
    """`layer1: Bottleneck(64) x 3`: a named group (an nn.Sequential) holding the rest of the line."""

    label: str
    chain: Chain
    span: Span
    label_span: Span


@dataclass(frozen=True, slots=True)
class DagNode:
    """One node of an explicit graph (YAML `nodes:`), fed by the nodes named in `from`."""

    id: str
    chain: Chain
    sources: tuple[str, ...] | None  # None: the previous node (or the input)
    span: Span
    id_span: Span
    source_spans: tuple[Span, ...] = ()


@dataclass(frozen=True, slots=True)
class Dag:
    nodes: tuple[DagNode, ...]
    span: Span


Statement = Stage | Chain | Dag


@dataclass(frozen=True, slots=True)
class Branch:
    """One branch inside brackets: statements, each feeding the next (a line break is a `-`)."""

    statements: tuple[Statement, ...]
    span: Span


# --- settings and definitions ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shape:
    dims: tuple[int, ...]
    span: Span


SettingValue = Shape | Num | Chain | Literal


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    value: SettingValue
    span: Span
    key_span: Span


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    default: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class BlockDef:
    name: str
    params: tuple[Param, ...]
    body: tuple[Statement, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class ModelDef:
    name: str
    settings: tuple[Setting, ...]
    body: tuple[Statement, ...]
    span: Span
    name_span: Span
    implicit: bool = False  # statements written at the top level of a file or string


@dataclass(frozen=True, slots=True)
class Use:
    path: str
    span: Span


@dataclass(frozen=True, slots=True)
class Program:
    file: SourceFile
    uses: tuple[Use, ...]
    blocks: tuple[BlockDef, ...]
    models: tuple[ModelDef, ...]


# --- pickling ----------------------------------------------------------------------------------


def _pickle_as_a_call(cls: type) -> None:
    """Pickle instances of `cls` as a call `cls(*fields)`: the AST cache (cache.py) reads back
    thousands of nodes per spec, and a frozen dataclass's own unpickling, which sets each field
    through `dataclasses.fields`, is several times slower."""
    values = operator.attrgetter(*cls.__slots__)  # every node has at least two fields
    cls.__reduce__ = lambda self: (cls, values(self))  # type: ignore[method-assign]


for _cls in [c for c in list(globals().values())
             if isinstance(c, type) and c.__module__ == __name__ and hasattr(c, "__slots__")]:
    _pickle_as_a_call(_cls)
del _cls
