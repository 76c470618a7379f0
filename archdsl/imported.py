"""From a PyTorch model to a checked archdsl model (issue 18): the API behind `archdsl.from_torch`
and `archdsl import`.

Contract: `from_torch(module, input)` asks the importer (`archdsl.importer.spec_from_torch`) for
the spec a person would write of `module` on one sample of `input`, loads that text as
`archdsl.load` loads any spec, and returns the checked `Model`, with the text
(`model.spec_text`) and the layers imported as `Opaque` (`model.opaque`). `input_shape` reads an
input size as `--input` does (a 4-d, batch-leading size gets the same hint). `call_target`
imports `MODULE:CALLABLE` (a module name or a `.py` file), calls it with keyword arguments and
returns the `nn.Module`; everything that can go wrong there (no such module or callable, the
module or the call raising, something other than a module returned) is an `ArchError` with a
diagnostic, never a traceback. Importing the user's module runs their Python: it happens only
for a target the user named on the command line or in the call; spec text never runs Python.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from archdsl.diagnostics import ArchError, BackendError, Diagnostic

DEFAULT_INPUT = "3x224x224"


def input_shape(value, option: str = "input=") -> tuple[int, ...]:
    """`"3x224x224"` or `(3, 224, 224)` -> a tuple, as `--input` reads it: one sample, without
    the batch (a 4-d size gets the hint `--input` gives); ArchError `bad-input` otherwise.
    `option`: how the caller gave it (`input=`, `--input `), for the hint."""
    from archdsl.settings import parse_shape

    if isinstance(value, str):
        text = value
    elif isinstance(value, (tuple, list)) and all(
            isinstance(d, int) and not isinstance(d, bool) for d in value):
        if any(d < 0 for d in value):
            raise _bad_input(f"'{value}' has a negative dimension", option)
        text = "x".join(str(d) for d in value)
    else:
        raise _bad_input(f"the input size must be text such as \"3x224x224\" or a tuple of "
                         f"whole numbers such as (3, 224, 224), got {value!r}", option)
    try:
        return parse_shape(text)
    except ValueError as err:
        raise _bad_input(str(err), option) from None


def _bad_input(message: str, option: str) -> ArchError:
    example = '"3x224x224"' if option.endswith("=") else "3x224x224"
    return ArchError([Diagnostic("bad-input", message, None,
                                 f"e.g. {option}{example} (channels x height x width)")])


def from_torch(module, input=DEFAULT_INPUT, *, origin: str | None = None,  # noqa: A002
               name: str | None = None, **settings):
    """The checked `archdsl.Model` of a PyTorch module (see `archdsl.from_torch`)."""
    shape = input_shape(input)
    _require_torch()
    import torch.nn as nn

    if not isinstance(module, nn.Module):
        raise ArchError([Diagnostic("not-a-module", f"from_torch needs a torch.nn.Module, got "
                                    f"{_type_name(module)}", None,
                                    "pass the model object, e.g. torchvision.models.resnet18()")])
    _one_input(module)
    from archdsl.importer import spec_from_torch

    try:
        imported = spec_from_torch(module, shape, origin=origin, name=name)
    except ArchError:
        raise
    except Exception as err:  # noqa: BLE001  (the model's own forward: the user's to see)
        if _raised_in_archdsl(err):
            raise  # a bug of the importer: an internal error, not the user's
        from archdsl.ops.base import fmt_shape

        raise ArchError([Diagnostic("import-failed", f"running {_type_name(module)} on one "
                                    f"{fmt_shape(shape)} input raised {type(err).__name__}: "
                                    f"{err}{_where(err)}", None, "check the input size: the "
                                    "model must take a batch of one such sample")]) from None
    from archdsl.model import load_model

    return load_model(imported.text, **settings)  # its opaque layers: `model.opaque`


def _one_input(module) -> None:
    """ArchError when the model's forward needs more than one argument: a spec has one input."""
    import inspect

    try:
        signature = inspect.signature(module.forward)
    except (TypeError, ValueError):
        return
    required = [p.name for p in signature.parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and
                p.default is p.empty]
    if len(required) > 1:
        raise ArchError([Diagnostic("import-failed", f"{_type_name(module)}'s forward takes "
                                    f"{len(required)} inputs ({', '.join(required)}); archdsl "
                                    "reads models of one input tensor", None,
                                    "import the part that takes one tensor, or wrap the model "
                                    "in a module whose forward takes one")])


def _require_torch() -> None:
    if importlib.util.find_spec("torch") is None:
        raise BackendError("importing a PyTorch model needs torch: pip install torch")


def parse_target(target: str) -> tuple[str, str]:
    """`MODULE:CALLABLE` -> (module, callable); ValueError with what to type."""
    module, sep, attr = target.rpartition(":")
    if not sep or not module or not attr:
        raise ValueError(f"'{target}' is not MODULE:CALLABLE; e.g. torchvision.models:resnet18 "
                         "or my_models.py:Net")
    if not all(part.isidentifier() for part in attr.split(".")):
        raise ValueError(f"'{attr}' is not a Python name (MODULE:CALLABLE, e.g. "
                         "torchvision.models:resnet18)")
    return module, attr


def call_target(target: str, kwargs: dict[str, Any] | None = None):
    """Import `MODULE:CALLABLE`, call it with `kwargs` and return the `nn.Module` it makes."""
    module_name, attr = parse_target(target)
    _require_torch()
    import torch.nn as nn

    module = _import(module_name, target)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            from archdsl.diagnostics import suggest

            guess = suggest(part, names)
            raise ArchError([Diagnostic("import-not-found", f"{module_name} has no '{attr}'",
                                        None, f"did you mean '{guess}'?" if guess else
                                        "check the name after the colon")])
        obj = getattr(obj, part)
    if isinstance(obj, nn.Module):  # MODULE:INSTANCE, a model object made at import time
        return obj
    if not callable(obj):
        raise ArchError([Diagnostic("not-a-module", f"{target} is {_type_name(obj)}, neither "
                                    "an nn.Module nor something that makes one", None,
                                    "name a function or class that returns an nn.Module")])
    try:
        made = obj(**(kwargs or {}))
    except Exception as err:  # noqa: BLE001  (the user's code: any failure is theirs to see)
        raise ArchError([Diagnostic("import-failed", f"{target}({_call_args(kwargs)}) raised "
                                    f"{type(err).__name__}: {err}{_where(err)}", None,
                                    "check the arguments given with --args")]) from None
    if not isinstance(made, nn.Module):
        raise ArchError([Diagnostic("not-a-module", f"{target}({_call_args(kwargs)}) returned "
                                    f"{_type_name(made)}, not a torch.nn.Module", None,
                                    "name a function or class that returns an nn.Module")])
    return made


def _import(module_name: str, target: str):
    """A module by name (the working directory first on the path, as `python -m` has it) or a
    `.py` file by path."""
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise ArchError([Diagnostic("import-not-found", f"no Python file "
                                            f"'{module_name}'", None, "check the path before "
                                            "the colon")])
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                raise ArchError([Diagnostic("import-not-found", f"cannot import "
                                            f"'{module_name}'", None)])
            module = importlib.util.module_from_spec(spec)
            folder = str(path.resolve().parent)  # its neighbours import, as `python file.py`
            if folder not in sys.path:
                sys.path.insert(0, folder)
            sys.modules.setdefault(path.stem, module)  # dataclasses and pickling look it up
            spec.loader.exec_module(module)
            return module
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        return importlib.import_module(module_name)
    except ArchError:
        raise
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name) and \
                (module_name == err.name or module_name[len(err.name)] == "."):
            raise ArchError([Diagnostic("import-not-found", f"no Python module "
                                        f"'{module_name}'", None,
                                        "run from the folder that holds it, set PYTHONPATH, or "
                                        "give a file: path/to/file.py:CALLABLE")]) from None
        raise ArchError([Diagnostic("import-failed", f"importing {module_name} failed: "
                                    f"{type(err).__name__}: {err}{_where(err)}", None,
                                    "install what it needs")]) from None
    except Exception as err:  # noqa: BLE001  (the user's module raised while importing)
        raise ArchError([Diagnostic("import-failed", f"importing {module_name} raised "
                                    f"{type(err).__name__}: {err}{_where(err)}", None,
                                    _import_hint(err, target))]) from None


def _import_hint(err: Exception, target: str) -> str:
    """What to do about a module that raised while importing. A torchvision built for another
    torch fails on its compiled operators (`operator torchvision::nms does not exist`)."""
    if "operator torchvision::" in str(err):
        import torch

        return (f"this torchvision was built for another torch than yours ({torch.__version__}):"
                " install the torchvision release made for your torch (e.g. the CPU builds of"
                " both), then import again")
    return f"check {target}'s module"


def _raised_in_archdsl(err: BaseException) -> bool:
    """Whether the innermost frame that raised is archdsl's own code (else: the model's forward
    or torch on the model's behalf)."""
    import traceback

    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(_PACKAGE)


_PACKAGE = Path(__file__).resolve().parent


def _where(err: BaseException) -> str:
    """` (at file.py:12)`: the innermost frame of the user's code that raised, not archdsl's."""
    import traceback

    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if not Path(f.filename).resolve().is_relative_to(_PACKAGE)
              and "importlib" not in f.filename and "/torch/" not in f.filename]
    if not frames:
        return ""
    last = frames[-1]
    return f" (at {last.filename}:{last.lineno})"


def _call_args(kwargs: dict | None) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in (kwargs or {}).items())


def _type_name(obj) -> str:
    kind = type(obj)
    if kind.__module__ != "builtins":
        return f"{kind.__module__}.{kind.__qualname__}"
    return f"{'an' if kind.__qualname__[:1] in 'aeiou' else 'a'} {kind.__qualname__}"


def parse_args_option(items: list[str]) -> dict[str, Any]:
    """`--args num_classes=10 --args aux_logits=true` -> {"num_classes": 10, "aux_logits": True}:
    each value a JSON literal when it reads as one (numbers, true/false/null, lists, quoted
    text), else the text itself. Never evaluated as Python. ValueError for an item without `=`."""
    import json

    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"'{item}' is not NAME=VALUE; e.g. --args num_classes=10")
        try:
            out[key] = json.loads(text)
        except ValueError:
            out[key] = text
    return out
