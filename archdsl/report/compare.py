"""Two models side by side, layer by layer: the data `archdsl diff` shows.

Contract: `compare(a, b, batch, dtype, optimizer)` takes two checked `archdsl.model.Model`s and
returns a `Comparison`: their layers aligned in graph order, each pair `same`, `changed`,
`added` (only in B) or `removed` (only in A) with the figures that differ, and both models'
totals. It reads the annotated IR only (the passes must have run); it renders nothing, never
imports torch and allocates nothing. `Comparison.to_json()` is `archdsl diff --json`.

Alignment: layers are compared by `Figures.signature()` (kind with its arguments, padding,
output shape, parameters, MACs, frozen). Two models with the same module names in the same
order pair by name: ResNet-50 against ResNeXt-50 (the grouped `conv2` rows differ). Otherwise
`difflib.SequenceMatcher` aligns the two graph orders with ever coarser keys: the signature
(names are no key here: a layer inserted earlier renumbers the ones after it, and a name that
happens to match in a repeated structure would anchor the alignment in the wrong place), then
(module name, op), then the op; what is still unmatched pairs up by position when both sides
have as many layers, else is removed and added. VGG-16 against VGG-19 shows the extra
convolutions of stages 3-5 as added; VGG-16 against VGG-16-BN the BatchNorm layers.

What counts as a difference: a layer added or removed, a pair whose signature differs, or a
total that differs. Module names alone do not (`Row.renamed` says so): they shift whenever a
layer is inserted. The receptive field of each layer is left out of the rows for the same
reason (it changes after any added layer); the largest field is one of the totals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from archdsl.describe import layer_label, layer_record
from archdsl.ir import Node

SAME, CHANGED, ADDED, REMOVED = "same", "changed", "added", "removed"
COMPARED = ("kind", "padding", "output", "params", "macs", "frozen")  # Figures fields


@dataclass(frozen=True)
class Figures:
    """One layer as the diff shows it."""

    name: str  # module name (or the spec's display label, `Conv:1`)
    op: str
    kind: str  # the op catalog's label: `Conv 3x3, 128, g32`
    padding: str
    output: tuple[int, ...]
    params: int
    macs: int
    activations: int
    frozen: bool
    node: Node = field(compare=False, repr=False)

    @classmethod
    def of(cls, node: Node) -> Figures:
        p = node.ann.params
        padding = node.op.cells(p)[2] if p is not None else ""
        return cls(node.display, node.op.name, layer_label(node), padding,
                   tuple(node.ann.out_shape or ()), node.ann.param_count, node.ann.macs,
                   node.ann.activations, node.frozen, node)

    def signature(self) -> tuple:
        return tuple(getattr(self, key) for key in COMPARED)


@dataclass(frozen=True)
class Row:
    """An aligned pair; `a` is None for an added layer, `b` for a removed one."""

    a: Figures | None
    b: Figures | None

    @property
    def status(self) -> str:
        if self.a is None:
            return ADDED
        if self.b is None:
            return REMOVED
        return CHANGED if self.differs else SAME

    @property
    def differs(self) -> tuple[str, ...]:
        """The `COMPARED` figures that differ (empty for added and removed layers)."""
        if self.a is None or self.b is None:
            return ()
        return tuple(k for k in COMPARED if getattr(self.a, k) != getattr(self.b, k))

    @property
    def renamed(self) -> bool:
        return self.a is not None and self.b is not None and self.a.name != self.b.name


@dataclass(frozen=True)
class Total:
    """One model-wide figure of both models. `unit`: `count`, `bytes` or `text`."""

    key: str
    label: str
    a: Any
    b: Any
    unit: str = "count"

    @property
    def differs(self) -> bool:
        return self.a != self.b

    @property
    def delta(self) -> int | None:
        return self.b - self.a if self.unit != "text" else None


@dataclass(frozen=True)
class Comparison:
    a: Any  # Model
    b: Any
    rows: tuple[Row, ...]
    totals: tuple[Total, ...]
    batch: int | None
    dtype: str
    optimizer: str

    @property
    def differ(self) -> bool:
        return any(r.status != SAME for r in self.rows) or any(t.differs for t in self.totals)

    def counts(self) -> dict[str, int]:
        out = {SAME: 0, CHANGED: 0, ADDED: 0, REMOVED: 0}
        for r in self.rows:
            out[r.status] += 1
        return out

    def to_json(self, spec_a: str, spec_b: str) -> dict[str, Any]:
        from archdsl.diagnostics import SCHEMA_VERSION

        def record(f: Figures | None) -> dict[str, Any] | None:
            # `archdsl summary --json`'s layer, with the diff's `kind` (`Conv 3x3, 128, g32`)
            return None if f is None else {**layer_record(f.node), "kind": f.kind}

        def side(model, spec):
            return {"spec": spec, "name": model.name, "layers": len(model.layers())}

        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "a": side(self.a, spec_a), "b": side(self.b, spec_b),
            "differ": self.differ,
            "dtype": self.dtype, "batch": self.batch, "optimizer": self.optimizer,
            "counts": self.counts(),
            "totals": {t.key: {"a": _plain(t.a), "b": _plain(t.b),
                               **({"delta": t.delta} if t.delta is not None else {})}
                       for t in self.totals},
            "layers": [{"status": r.status, "differs": list(r.differs), "renamed": r.renamed,
                        "a": record(r.a), "b": record(r.b)} for r in self.rows],
        }
        return out


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


# Ever coarser keys; see the module docstring.
_KEYS = (
    lambda f: f.signature(),
    lambda f: (f.name, f.op),
    lambda f: f.op,
)


def align(a: list[Figures], b: list[Figures]) -> list[Row]:
    """The layers of `a` and `b` paired in graph order (see the module docstring)."""
    if [f.name for f in a] == [f.name for f in b]:  # the same modules: pair them by name
        return [Row(x, y) for x, y in zip(a, b, strict=True)]
    out: list[Row] = []
    _align(a, b, 0, len(a), 0, len(b), 0, out)
    return out


def _align(a, b, i1, i2, j1, j2, level, out: list[Row]) -> None:
    if i1 == i2 or j1 == j2 or level == len(_KEYS):
        if i2 - i1 == j2 - j1:
            out.extend(map(Row, a[i1:i2], b[j1:j2]))
        else:
            out.extend(Row(a[i], None) for i in range(i1, i2))
            out.extend(Row(None, b[j]) for j in range(j1, j2))
        return
    key = _KEYS[level]
    matcher = SequenceMatcher(None, [key(f) for f in a[i1:i2]], [key(f) for f in b[j1:j2]],
                              autojunk=False)
    for tag, x1, x2, y1, y2 in matcher.get_opcodes():
        x1, x2, y1, y2 = x1 + i1, x2 + i1, y1 + j1, y2 + j1
        if tag == "equal":
            out.extend(map(Row, a[x1:x2], b[y1:y2]))
        elif tag == "delete":
            out.extend(Row(a[i], None) for i in range(x1, x2))
        elif tag == "insert":
            out.extend(Row(None, b[j]) for j in range(y1, y2))
        else:
            _align(a, b, x1, x2, y1, y2, level + 1, out)


def totals(a, b, batch: int | None = None, dtype: str = "float32",
           optimizer: str = "sgd") -> tuple[Total, ...]:
    """The model-wide figures of `archdsl summary` for both models."""
    from archdsl.ops.base import fmt_shape

    def rf(model) -> str:
        widest = model.receptive_field()
        return "" if widest is None else widest.ann.rf.cell()

    n = batch or 1
    ta, tb = a.totals, b.totals
    out = [
        Total("input", "Input", fmt_shape(a.input_shape), fmt_shape(b.input_shape), "text"),
        Total("output", "Output", fmt_shape(a.output_shape), fmt_shape(b.output_shape), "text"),
        Total("layers", "Layers", len(a.layers()), len(b.layers())),
        Total("params", "Parameters", ta.params, tb.params),
    ]
    if ta.frozen or tb.frozen:
        out.append(Total("trainable_params", "Trainable", ta.trainable, tb.trainable))
    out += [
        Total("macs", "MACs" + (" (opaque layers not counted)" if ta.uncounted("macs") or
                                tb.uncounted("macs") else ""), ta.macs, tb.macs),
        Total("activations", "Activations", ta.activations, tb.activations),
        Total("receptive_field", "Receptive field", rf(a), rf(b), "text"),
        Total("param_bytes", f"Weights ({dtype})", ta.param_bytes(dtype), tb.param_bytes(dtype),
              "bytes"),
        Total("activation_bytes", f"Activations ({dtype}, batch {n})",
              ta.activation_bytes(dtype, n), tb.activation_bytes(dtype, n), "bytes"),
        Total("saved_bytes", f"Saved for backward ({dtype}, batch {n})",
              a.saved_tensors(dtype).bytes(n), b.saved_tensors(dtype).bytes(n), "bytes"),
        Total("training_memory", f"Training memory ({optimizer}, batch {n})",
              a.training_memory(n, dtype, optimizer).total,
              b.training_memory(n, dtype, optimizer).total, "bytes"),
    ]
    return tuple(out)


def compare(a, b, batch: int | None = None, dtype: str = "float32",
            optimizer: str = "sgd") -> Comparison:
    rows = align([Figures.of(n) for n in a.layers()], [Figures.of(n) for n in b.layers()])
    return Comparison(a, b, tuple(rows), totals(a, b, batch, dtype, optimizer), batch, dtype,
                      optimizer)
