"""The checked, annotated model that `archdsl.load` returns, and the pipeline that makes it.

Contract: `load_model(spec, ...)` runs parse -> elaborate -> infer shapes -> count and returns a
`Model`, or raises `ArchError` with every diagnostic found; `load_stage(spec, stage, ...)` runs
the same pipeline and stops after a stage (`archdsl check --emit`). Receptive fields are filled in on
first use (`layers()`, `outputs`, `receptive_field()`). A `Model` never imports torch; its
`build()` and `source()` call the torch and Python-source backends.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from archdsl.diagnostics import SCHEMA_VERSION, ArchError, Diagnostic
from archdsl.elaborate import elaborate
from archdsl.ir import ModelIR, Node
from archdsl.limits import DEFAULT_LIMITS, INT64_MAX, Limits
from archdsl.loader import LoadedSpec, read_spec
from archdsl.ops.base import fmt_shape
from archdsl.passes.count import DTYPE_BYTES, Totals, count
from archdsl.passes.memory import SavedTensors, TrainingMemory, saved_tensors, training_memory
from archdsl.passes.receptive import largest_field, receptive_fields
from archdsl.passes.shapes import infer_shapes
from archdsl.settings import Init, parse_shape


@dataclass(frozen=True)
class OpaqueLayer:
    """A layer archdsl cannot express: its name in the model, the PyTorch class it was imported
    from (`pkg.module.Class`) and why it could not be written in the language."""

    name: str
    type: str
    why: str


@dataclass(eq=False)
class Model:
    """A model that parsed, elaborated and shape-checked, with its figures."""

    ir: ModelIR
    totals: Totals
    loaded: LoadedSpec
    limits: Limits = DEFAULT_LIMITS
    _fields_ready: bool = field(default=False, init=False, repr=False)

    @property
    def opaque(self) -> tuple[OpaqueLayer, ...]:
        """The layers that cannot be compiled (`Op.compile_refusal`: Opaque layers, modules
        `archdsl.from_torch` could not express), in graph order, by the names `summary` gives."""
        found = []
        for node in self.layers():
            p = node.ann.params
            why = node.op.compile_refusal(p) if p is not None else None
            if why is not None:  # an Opaque layer's own words where it has them
                found.append(OpaqueLayer(node.name, str(getattr(p, "type", node.op.name)),
                                         str(getattr(p, "why", why))))
        return tuple(found)

    @property
    def spec_text(self) -> str:
        """The text of the spec it was loaded from (a file's, a layer string, the `.arch` that
        `archdsl.from_torch` wrote): `Path("net.arch").write_text(model.spec_text)` saves it."""
        return self.loaded.program.file.text

    @property
    def name(self) -> str:
        return self.ir.name

    @property
    def settings(self):
        return self.ir.settings

    @property
    def graph(self):
        return self.ir.graph

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.ir.settings.input)

    @property
    def outputs(self) -> list[tuple[str, Node]]:
        self._ensure_receptive_fields()
        return [(name, self.ir.graph.node(key)) for name, key in self.ir.outputs]

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.outputs[0][1].ann.out_shape

    def layers(self) -> list[Node]:
        """Every layer in graph order (the input excluded), with every annotation filled."""
        self._ensure_receptive_fields()
        return [n for n in self.ir.graph.order() if n.key != self.ir.input_key]

    def _ensure_receptive_fields(self) -> None:
        """Receptive fields are computed on first use: checking and counting (what `load`
        promises) do not need them, and they cost a fifth of a load."""
        if not self._fields_ready:
            receptive_fields(self.ir)
            self._fields_ready = True

    def saved_tensors(self, dtype: str = "float32") -> SavedTensors:
        """What autograd keeps for backward in training (an estimate; archdsl.passes.memory)."""
        return saved_tensors(self.ir, dtype)

    def training_memory(self, batch: int = 1, dtype: str = "float32",
                        optimizer: str = "sgd") -> TrainingMemory:
        """Weights + buffers + gradients + optimizer state (`sgd`, `momentum`, `adam`) + saved
        tensors for a batch: an estimate (archdsl.passes.memory says what it leaves out)."""
        return training_memory(self.ir, self.totals, batch, dtype, optimizer)

    def receptive_field(self) -> Node | None:
        """The layer with the largest receptive field made by local windows (its `ann.rf`);
        None for a model whose input is a vector."""
        return largest_field(self.layers())

    def summary(self, batch: int | None = None, dtype: str = "float32",
                optimizer: str = "sgd") -> dict[str, Any]:
        """The figures as one JSON-ready object (the schema of `archdsl summary --json`)."""
        from archdsl.describe import layer_record

        t = self.totals
        saved = self.saved_tensors(dtype)
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "outputs": [{"name": n, "layer": node.name, "shape": list(node.ann.out_shape)}
                        for n, node in self.outputs],
            "total_params": t.params,
            "trainable_params": t.trainable,
            "frozen_params": t.frozen,
            "buffers": t.buffers,
            "macs": t.macs,
            "flops": 2 * t.macs,
            "activations": t.activations,
            "dtype": dtype,
            "param_bytes": t.param_bytes(dtype),
            "param_bytes_by_dtype": {d: t.param_bytes(d) for d in DTYPE_BYTES},
            "activation_bytes": t.activation_bytes(dtype),
        }
        out["saved_bytes"] = saved.bytes(1)
        if batch is not None:
            out["batch"] = batch
            out["batch_activation_bytes"] = t.activation_bytes(dtype, batch)
            out["batch_saved_bytes"] = saved.bytes(batch)
        out["training_memory"] = training_memory(self.ir, t, batch or 1, dtype, optimizer,
                                                 saved).to_json()
        widest = self.receptive_field()
        out["receptive_field"] = None if widest is None else \
            {"layer": widest.name, **widest.ann.rf.to_json()}
        out["not_counted"] = [{"layer": layer, "figures": list(figures)}
                              for layer, figures in t.not_counted]
        out["layers"] = [{**layer_record(n), "saved_bytes": None if "saved" in
                          n.op.unknown_figures else saved.layer_bytes(n.key, batch or 1)}
                         for n in self.layers()]
        return out

    def source(self) -> str:
        """Standalone PyTorch source for this model (imports torch only)."""
        from archdsl.codegen.pysource import generate

        return generate(self)

    def build(self, seed: int | None = None, all_outputs: bool = False, device=None, *,
              weights=None, optimize: str | None = None, channels_last: bool = False):
        """A `torch.nn.Module`, built from the generated source; deterministic per seed.

        `weights`: a `.pt`/`.safetensors` state_dict loaded strictly; `optimize="inference"`:
        BatchNorm folded into the conv before it, dropout dropped, eval mode (docs/exports.md);
        `channels_last`: that memory format."""
        from archdsl.runtime.torch_build import build_module

        return build_module(self, seed=seed, all_outputs=all_outputs, device=device,
                            weights=weights, optimize=optimize, channels_last=channels_last)

    def export(self, path, format: str | None = None, **options):  # noqa: A002
        """Write the model as `format` ("py", "torchscript", "onnx" or "export"; default:
        from the file suffix) to `path`; options as `archdsl.runtime.export.export`.
        Returns an `ExportReport`."""
        from archdsl.runtime.export import export

        return export(self, path, format, **options)

    def render(self, path: str | os.PathLike | None = None, *, format: str | None = None,
               **options) -> bytes | None:
        """A diagram (`archdsl render`'s options as keywords: `view="stages"`, `theme="dark"`,
        `style="featuremaps"`, ...): written to `path` (format from its extension), or returned
        as bytes (`format`, default svg; `tex`: the feature-map figure as TikZ). Needs
        Graphviz's `dot` except for `format="dot"` and feature maps."""
        from archdsl.render.figures import FigureOptions, format_for, render_figure

        fmt = format or (format_for(os.fspath(path)) if path is not None else "svg")
        if fmt is None:
            raise ValueError(f"cannot tell the format of {os.fspath(path)!r}; give format=")
        data = render_figure(self, fmt, FigureOptions(**options))
        if path is None:
            return data
        with open(path, "wb") as fh:
            fh.write(data)
        return None

    def _repr_svg_(self) -> str | None:  # Jupyter: the diagram inline
        from archdsl.render.figures import notebook_svg

        return notebook_svg(self)

    def _repr_html_(self) -> str:  # Jupyter: the diagram, then the per-layer table
        from archdsl.render.figures import notebook_svg
        from archdsl.report.tables import render_html

        svg = notebook_svg(self)
        figure = f"<div>{svg[svg.index('<svg'):]}</div>" if svg else ""
        return (f"{figure}<details><summary>per-layer table ({len(self.layers())} layers)"
                f"</summary>{render_html(self)}</details>")

    def _repr_markdown_(self) -> str:
        from archdsl.report.tables import render_markdown

        return render_markdown(self)

    def table(self, depth: int | None = None, columns: str | list[str] | None = None,
              width: int | None = None, batch: int | None = None, dtype: str = "float32",
              optimizer: str = "sgd") -> str:
        """The per-layer table and totals as text, as `archdsl summary` prints them:
        `depth` folds layers deeper than N blocks into their block or stage (torchinfo's
        `depth`), `columns` chooses columns (`["layer", "output", "params"]`, torchinfo's
        `col_names`), `width` fits the table to that many characters (None: full width)."""
        import io

        from rich.console import Console

        from archdsl.report.tables import render_rich

        if isinstance(columns, list | tuple):
            columns = ",".join(columns)
        buf = io.StringIO()
        render_rich(self, batch, dtype, Console(file=buf, color_system=None, highlight=False,
                                                width=width or 10_000),
                    optimizer=optimizer, width=width, depth=depth, columns=columns)
        return buf.getvalue()

    def print_summary(self, depth: int | None = None, columns: str | list[str] | None = None,
                      width: int | None = None, batch: int | None = None,
                      dtype: str = "float32", optimizer: str = "sgd", file=None) -> None:
        """Print `table()` (Keras's `model.summary()`, torchinfo's `summary()`); on a terminal
        it fits the terminal's width unless `width` says otherwise."""
        import sys

        from archdsl.report.fit import table_width

        stream = file if file is not None else sys.stdout
        if width is None:
            width = table_width(stream)
        stream.write(self.table(depth, columns, width, batch, dtype, optimizer))

    def __repr__(self) -> str:
        return (f"<archdsl.Model {self.name}: {fmt_shape(self.input_shape)} -> "
                f"{fmt_shape(self.output_shape)}, {self.totals.params:,} params, "
                f"{len(self.layers())} layers>")


def _overrides(input=None, classes=None, freeze=None, head=None, seed=None, init=None,
               outputs=None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if input is not None:
        if isinstance(input, str):
            try:
                out["input"] = parse_shape(input)
            except ValueError as err:
                raise ArchError([Diagnostic("bad-input", str(err), None)]) from None
        else:
            out["input"] = tuple(int(d) for d in input)
    if classes is not None:
        if not isinstance(classes, int) or isinstance(classes, bool) or classes < 1:
            raise ArchError([Diagnostic("bad-classes", f"classes must be a positive whole "
                                        f"number, got {classes!r}", None)])
        out["classes"] = classes
    if freeze is not None:
        out["freeze"] = (freeze,) if isinstance(freeze, str) else tuple(freeze)
    if head is not None:
        out["head"] = _parse_chain(head, "<head>") if isinstance(head, str) else head
    if seed is not None:  # the range a `seed:` setting has (archdsl.settings)
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= INT64_MAX:
            raise ArchError([Diagnostic("bad-setting", f"seed must be a whole number from 0 to "
                                        f"{INT64_MAX} (torch's seeds are 64-bit), got {seed!r}",
                                        None, "e.g. seed=0")])
        out["seed"] = seed
    if init is not None:
        out["init"] = init if isinstance(init, Init) else Init(str(init))
    if outputs is not None:
        out["outputs"] = tuple(outputs)
    return out


def _parse_chain(text: str, name: str):
    from archdsl.syntax import ast
    from archdsl.syntax.parser import parse_text

    program = parse_text(text, name)
    body = program.models[0].body if program.models else ()
    if len(body) != 1 or not isinstance(body[0], ast.Chain) or program.models[0].settings:
        raise ArchError([Diagnostic("bad-head", "the head must be a chain of layers, e.g. "
                                    "'FC(2)' or 'FC(256) - ReLU - FC(2)'", None)])
    return body[0]


# The stages `load_stage` can stop after, in pipeline order.
STAGES = ("ast", "ir", "model")


def load_stage(spec: str | os.PathLike, stage: str = "model", *, model: str | None = None,
               limits: Limits | None = None, roots=None,
               **settings) -> LoadedSpec | ModelIR | Model:
    """Run the pipeline on `spec` up to `stage` and return that stage's output: "ast" the
    `LoadedSpec` (the parsed program and the blocks visible to it; `model` and `settings` are
    not read), "ir" the elaborated `ModelIR` (no shapes yet), "model" the checked `Model`.
    `settings` are `archdsl.load`'s keywords (`input`, `classes`, ...). Raises `ArchError`."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}")
    limits = limits or DEFAULT_LIMITS
    try:
        loaded = read_spec(spec, limits, roots)
        if stage == "ast":
            return loaded
        ir = elaborate(loaded, model, _overrides(**settings), limits)
    except RecursionError:  # the limits keep specs shallow; this is the last line of defence
        raise ArchError([Diagnostic("too-deep", "the spec nests too deeply to process (blocks "
                                    "within blocks within brackets)", None,
                                    "flatten the nesting, or lower the limit max_depth")]) \
            from None
    if stage == "ir":
        return ir
    diags = infer_shapes(ir, limits)
    if diags:
        raise ArchError(diags)
    totals, diags = count(ir, limits)
    if diags:
        raise ArchError(diags)
    return Model(ir, totals, loaded, limits)


def load_model(spec: str | os.PathLike, *, model: str | None = None,
               limits: Limits | None = None, roots=None, **settings) -> Model:
    return load_stage(spec, "model", model=model, limits=limits, roots=roots, **settings)
