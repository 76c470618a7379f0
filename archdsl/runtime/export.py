"""Writing a model in a deployable format: Python source, TorchScript, ONNX, torch.export.

Contract: `export(model, path, format, ...)` writes one file and returns an `ExportReport`.

- Options are checked first, with the output path (`check_options`; `ExportOptionError`, a
  `ValueError`): the same checks for the API and the CLI, before any work.
- `py`: the generated source (`pysource.generate`); it carries no weights, so `weights` and
  `optimize` are refused.
- The other formats build the module (`torch_build.build_module`: the seed's weights, or
  `weights` loaded strictly; `optimize="inference"` folds BatchNorm and drops dropout), put it
  in eval mode and write
  - `torchscript`: `torch.jit.script` of the module (compiled, not traced: the training switch
    and `all_outputs` keep working) saved with `torch.jit.save`;
  - `onnx`: the torch.export-based exporter (`torch.onnx.export(dynamo=True)`), input `input`,
    a dynamic batch axis, checked with `onnx.checker`;
  - `export`: a `torch.export` program with a dynamic batch dimension (`torch.export.save`, .pt2).
  With `outputs="all"` (the default) a model with side outputs (`Aux:`) exports every output,
  main first, named as `archdsl summary --json` lists them (ONNX output names; a plain tuple
  from the .pt2 program); `outputs="main"` exports the main output alone.
- `verify=True` reloads the file (onnxruntime for ONNX, when installed), runs it on a batch of
  another size than the traced one, and requires every output within 1e-4 (absolute and
  relative) of the eager module; the largest difference is reported.

Failures raise `BackendError` (the CLI exits with 3): a missing package names what to
`pip install`; an exporter error names the first layer, in forward order, that fails on its own
(`export_blame`), with its spec location and the exporter's reason.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from dataclasses import dataclass, field

from archdsl.diagnostics import BackendError
from archdsl.runtime.formats import FORMAT_NAMES, FORMATS, SUFFIXES

TOLERANCE = 1e-4
TRACE_BATCH, CHECK_BATCH = 2, 3  # traced with one batch size, verified with another


@dataclass
class ExportReport:
    path: str
    format: str
    outputs: list[str] = field(default_factory=list)
    max_diff: float | None = None  # largest |exported - eager| over the outputs, when verified
    checked_with: str = ""  # what ran the exported file for the check
    optimized: str = ""  # what --optimize changed

    def describe(self) -> str:
        text = f"wrote {self.path} ({FORMAT_NAMES[self.format]}"
        if self.outputs:
            text += f"; output{'s' if len(self.outputs) > 1 else ''} {', '.join(self.outputs)}"
        if self.optimized:
            text += f"; optimized: {self.optimized}"
        text += ")"
        if self.max_diff is not None:
            text += f"\nchecked with {self.checked_with}: max |difference| {self.max_diff:.1e}"
        elif self.checked_with:
            text += f"\n{self.checked_with}"
        return text


def format_for(path: str | os.PathLike | None, given: str | None) -> str:
    """The format asked for, else the one the output suffix names, else `py`."""
    if given is not None:
        if given not in FORMATS:
            raise ValueError(f"unknown format {given!r}; choose one of {', '.join(FORMATS)}")
        return given
    suffix = os.path.splitext(os.fspath(path))[1].lower() if path is not None else ""
    return SUFFIXES.get(suffix, "py")


class ExportOptionError(ValueError):
    """Export options that do not go together, or an output path that cannot be written: the
    API raises it before any work; the CLI reports it as a usage error (exit 2)."""


MIN_OPSET = 7  # the oldest ONNX opset the exporter writes


def check_options(path, fmt: str, *, weights=None, optimize: str | None = None,
                  channels_last: bool = False, outputs: str = "all",
                  opset: int | None = None) -> None:
    """Raise ExportOptionError for options `export` cannot honour (the one place they are
    checked: `archdsl compile` calls it before loading the spec, `export` before building)."""
    if fmt not in FORMATS:
        raise ExportOptionError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if outputs not in ("all", "main"):
        raise ExportOptionError(f"outputs must be 'all' or 'main', got {outputs!r}")
    if optimize not in (None, "inference"):
        raise ExportOptionError(f"optimize must be 'inference' or None, got {optimize!r}")
    if fmt == "py" and (weights is not None or optimize is not None or channels_last):
        raise ExportOptionError("Python source carries no weights: --weights, --optimize and "
                                "--channels-last need --format torchscript, onnx or export")
    if opset is not None and (fmt != "onnx" or isinstance(opset, bool) or
                              not isinstance(opset, int) or opset < MIN_OPSET):
        raise ExportOptionError(f"--opset applies to --format onnx and must be at least "
                                f"{MIN_OPSET}")
    if fmt == "export" and not os.fspath(path).endswith(".pt2"):
        raise ExportOptionError("torch.export programs are .pt2 files: name the output "
                                "FILE.pt2")
    if weights is not None and isinstance(weights, (str, os.PathLike)) and \
            not os.path.isfile(weights):
        raise ExportOptionError(f"--weights: no weights file {os.fspath(weights)}")
    _check_path(os.fspath(path))


def _check_path(path: str) -> None:
    """The output must be a file in a folder we can write: said now, not after the export."""
    if "\x00" in path:
        raise ExportOptionError(f"cannot write {path!r}: the path contains a NUL character")
    try:
        if os.path.isdir(path):
            raise ExportOptionError(f"cannot write {path}: it is a directory; give a file name")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise ExportOptionError(f"cannot write {path}: the directory {folder} does not "
                                    "exist or is not writable")
    except (OSError, ValueError) as err:
        if isinstance(err, ExportOptionError):
            raise
        raise ExportOptionError(f"cannot write {path}: {getattr(err, 'strerror', None) or err}"
                                ) from None


def export(model, path, format: str | None = None, *, weights=None, seed: int | None = None,  # noqa: A002
           optimize: str | None = None, channels_last: bool = False, outputs: str = "all",
           verify: bool = True, opset: int | None = None) -> ExportReport:
    """Write `model` (an `archdsl.Model`) to `path`; see the module docstring."""
    fmt = format_for(path, format)
    path = os.fspath(path)
    check_options(path, fmt, weights=weights, optimize=optimize, channels_last=channels_last,
                  outputs=outputs, opset=opset)
    if fmt == "py":
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(model.source())
        return ExportReport(path, fmt)
    _require(fmt)
    import torch

    net = model.build(seed=seed, weights=weights, channels_last=channels_last)
    net.eval()
    names = [name for name, _ in model.ir.outputs]
    multi = len(names) > 1 and outputs == "all"
    if hasattr(net, "all_outputs"):
        net.all_outputs = multi
    names = names if multi else names[:1]
    report = ExportReport(path, fmt, names)
    if optimize is not None:
        from archdsl.runtime.optimize import optimize_module

        report.optimized = optimize_module(net, model, optimize, channels_last).describe()
    example = _example(model, TRACE_BATCH, channels_last)
    if fmt != "torchscript" and multi:
        _tuple_outputs(net)
    writer = {"torchscript": _torchscript, "onnx": _onnx, "export": _program}[fmt]
    try:
        with _quiet():
            writer(net, example, path, names, opset)
    except BackendError:
        raise
    except Exception as err:  # noqa: BLE001  (any exporter failure gets a layer and a reason)
        from archdsl.runtime.export_blame import failure_message

        with _quiet():
            message = failure_message(net, model, example, fmt, err, FORMAT_NAMES[fmt])
        raise BackendError(message) from err
    if verify:
        with torch.no_grad(), _quiet():
            _verify(net, model, path, fmt, report, channels_last)
    return report


# --- writers -----------------------------------------------------------------------------------
def _torchscript(net, example, path, names, opset) -> None:
    import torch

    torch.jit.save(torch.jit.script(net), path)


def _onnx(net, example, path, names, opset) -> None:
    import onnx
    import torch

    program = torch.onnx.export(net, (example,), None, dynamo=True, input_names=["input"],
                                output_names=names, opset_version=opset,
                                dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)
    program.save(path)
    try:
        onnx.checker.check_model(path, full_check=True)
    except onnx.checker.ValidationError as err:
        raise BackendError(f"the ONNX file {path} fails onnx.checker: "
                           f"{str(err).strip().splitlines()[0]}") from None


def _program(net, example, path, names, opset) -> None:
    import torch

    program = torch.export.export(net, (example,),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, path)


# --- checking ----------------------------------------------------------------------------------
def _verify(net, model, path: str, fmt: str, report: ExportReport, channels_last: bool) -> None:
    import torch

    x = _example(model, CHECK_BATCH, channels_last, seed=1)
    expected = _flat(net(x))
    if fmt == "torchscript":
        with torch.jit.optimized_execution(False):  # one run: profiling passes would cost more
            got = _flat(torch.jit.load(path)(x))
        report.checked_with = "torch.jit.load"
    elif fmt == "export":
        got = _flat(torch.export.load(path).module()(x))
        report.checked_with = "torch.export.load"
    else:
        try:
            import onnxruntime
        except ImportError:
            report.checked_with = "not run: onnxruntime is not installed " \
                                  "(pip install 'archdsl[export]')"
            return
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        values = session.run(None, {session.get_inputs()[0].name: x.contiguous().numpy()})
        got = tuple(torch.from_numpy(v) for v in values)
        report.checked_with = f"onnxruntime {onnxruntime.__version__}"
    if len(got) != len(expected):
        raise BackendError(f"the exported file gives {len(got)} outputs, the model "
                           f"{len(expected)}: this is a bug in archdsl, please report it")
    worst = 0.0
    for name, a, b in zip(report.outputs or ["output"] * len(got), got, expected, strict=True):
        diff = float((a.float() - b.float()).abs().max()) if a.numel() else 0.0
        limit = TOLERANCE + TOLERANCE * float(b.abs().max()) if b.numel() else TOLERANCE
        if not diff <= limit:
            raise BackendError(f"the exported {FORMAT_NAMES[fmt]} differs from the PyTorch "
                               f"module on output {name}: max |difference| {diff:.2e} > "
                               f"{limit:.1e}")
        worst = max(worst, diff)
    report.max_diff = worst


def _flat(out) -> tuple:
    import torch

    if isinstance(out, torch.Tensor):
        return (out,)
    return tuple(t for t in out if t is not None)


# --- helpers -----------------------------------------------------------------------------------
def _require(fmt: str) -> None:
    """Fail early, with what to install, when an exporter's packages are missing."""
    try:
        import torch  # noqa: F401
    except ImportError as err:
        raise BackendError(f"exporting to {FORMAT_NAMES[fmt]} builds the model with PyTorch, "
                           f"which cannot be imported ({err}): pip install torch") from None
    needed = {"onnx": ("onnx", "onnxscript")}.get(fmt, ())
    for package in needed:
        try:
            __import__(package)
        except ImportError:
            raise BackendError(f"exporting to ONNX needs the {package} package: "
                               f"pip install 'archdsl[export]' (or pip install onnx onnxscript "
                               "onnxruntime)") from None


def _example(model, batch: int, channels_last: bool, seed: int = 0):
    import torch

    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, *model.input_shape, generator=generator)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def _tuple_outputs(net) -> None:
    """Make a multi-output module return a plain tuple (exporters and .pt2 files cannot carry
    the generated NamedTuple class); module and parameter names stay as they are."""
    cls = type(net)

    def forward(self, x):
        return tuple(cls.forward(self, x))

    net.__class__ = type(cls.__name__, (cls,), {"forward": forward,
                                                "__module__": cls.__module__})


@contextlib.contextmanager
def _quiet():
    """Keep the exporters' progress lines, warnings and logged graph dumps off the user's
    terminal (the failure message says what matters)."""
    disabled = logging.root.manager.disable
    logging.disable(logging.CRITICAL)  # torch logs through handlers made before any redirect
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(disabled)
