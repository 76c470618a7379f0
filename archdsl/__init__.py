"""archdsl: a declarative architecture language and compiler for convolutional networks.

    >>> import archdsl
    >>> m = archdsl.load("Conv-ReLU-Pool-Conv-ReLU-Pool-FC-SM", input="1x28x28", classes=10)
    >>> m.totals.params
    >>> m.print_summary(depth=2)                 # the per-layer table
    >>> net = archdsl.build("resnet50", num_classes=10)  # a torch.nn.Module
    >>> archdsl.zoo("resnet*")                   # the shipped specs, naturally sorted
    >>> m = archdsl.from_torch(torchvision.models.resnet18(), input="3x224x224")  # import

`load` never imports torch; `build`, `compile` and `from_torch` do.
"""

from __future__ import annotations

from archdsl.diagnostics import ArchError, Diagnostic, InternalError
from archdsl.limits import Limits
from archdsl.version import __version__

__all__ = ["ArchError", "Diagnostic", "InternalError", "Limits", "Model", "__version__", "build",
           "clear_caches", "compile", "from_torch", "load", "load_pretrained", "zoo"]


SETTING_NAMES = ("input", "classes", "model", "freeze", "head", "seed", "init", "outputs",
                 "limits", "roots")


def _peer_names(classes, other: dict):
    """The names timm and torchvision users type: `num_classes` is `classes`; `in_chans` (and
    any other unknown keyword) is refused with the archdsl setting that says it."""
    import difflib

    num_classes = other.pop("num_classes", None)
    if num_classes is not None:
        if classes is not None and classes != num_classes:
            raise TypeError(f"classes={classes} and num_classes={num_classes} disagree; "
                            "num_classes is another name for classes: give one")
        classes = num_classes
    if "in_chans" in other:
        raise TypeError(f"archdsl takes the whole input size, not the channels alone: "
                        f"input=\"{other['in_chans']}x224x224\" instead of in_chans="
                        f"{other['in_chans']} (CxHxW, without the batch)")
    for name in other:
        close = difflib.get_close_matches(name, SETTING_NAMES, n=1, cutoff=0.6)
        raise TypeError(f"unknown setting {name!r}" + (f"; did you mean {close[0]!r}?" if close
                        else f"; the settings are {', '.join(SETTING_NAMES)}"))
    return classes


def load(spec, *, input=None, classes=None, model=None, freeze=None, head=None, seed=None,
         init=None, outputs=None, limits=None, roots=None, **other):
    """Parse, check and count a spec: a file path, a zoo name or spec text.

    Keyword settings override (or supply) the spec's own: `input="3x224x224"`, `classes=10`
    (`num_classes=10` too, as timm and torchvision call it), `freeze=["layer1"]`,
    `head="FC(2)"`, `seed=0`, `init="kaiming"`, `outputs=[...]`. Returns an `archdsl.Model`
    (`model.print_summary()` prints its table); raises `archdsl.ArchError` for an invalid spec.
    """
    from archdsl.model import load_model

    classes = _peer_names(classes, other)

    return load_model(spec, model=model, limits=limits, roots=roots, input=input,
                      classes=classes, freeze=freeze, head=head, seed=seed, init=init,
                      outputs=outputs)


def build(spec, *, seed=None, all_outputs=False, device=None, weights=None, optimize=None,
          channels_last=False, **settings):
    """A `torch.nn.Module` for a spec (same arguments as `load`). The same spec and seed give
    the same weights; the default seed is fixed. `weights="model.pt"` (or `.safetensors`) loads
    a state_dict strictly; `optimize="inference"` folds BatchNorm into the convolution before it
    and drops dropout (eval mode, for inference only); `channels_last=True` converts the memory
    format."""
    from archdsl.model import Model

    model = spec if isinstance(spec, Model) else load(spec, seed=seed, **settings)
    return model.build(seed=seed, all_outputs=all_outputs, device=device, weights=weights,
                       optimize=optimize, channels_last=channels_last)


def compile(spec, **settings) -> str:  # noqa: A001  (the verb users know from the CLI)
    """Standalone PyTorch source for a spec (imports torch only)."""
    from archdsl.model import Model

    model = spec if isinstance(spec, Model) else load(spec, **settings)
    return model.source()


def from_torch(module, input="3x224x224", *, origin=None, name=None, **settings):  # noqa: A002
    """The spec a person would write of a PyTorch model, checked: an `archdsl.Model` as `load`
    returns (summary, render, diff, compile, the notebook display), traced on one sample of
    `input` (`"3x224x224"` or `(3, 224, 224)`, without the batch). Modules archdsl cannot
    express become `Opaque` layers (`model.opaque` lists them; compiling refuses them);
    `model.spec_text` is the `.arch` text, to save. `origin` (where the model came from) and
    `name` (the model's name) go into the spec; other keywords are `load`'s settings
    (`freeze=`, `head=`, ...). Needs torch; runs the module's `forward` once (docs/import.md).
    """
    from archdsl.imported import from_torch as _from_torch

    return _from_torch(module, input, origin=origin, name=name, **settings)


def zoo(pattern: str | None = None) -> list[str]:
    """Names of the shipped model specs, in natural order (resnet18 before resnet101), each
    usable as a spec (`archdsl.load("resnet50")`); `pattern` filters as timm's `list_models`
    does: a glob (`"resnet*"`) or a part of the name (`"resnet"`)."""
    from archdsl.loader import zoo_names

    return zoo_names(pattern)


def load_pretrained(module, state_dict, strict=True):
    """Copy the tensors of a state_dict (or a .pt/.safetensors file) whose names and shapes
    match into a built model; returns the names skipped for a different shape (a new head)."""
    from archdsl.weights import load_pretrained as _load

    return _load(module, state_dict, strict)


def clear_caches() -> None:
    """Forget what this process learned from spec texts (parsed files and texts, name
    templates, checked names, validated arguments), so the next `load` pays what a new command
    pays; what ships with archdsl (grammar, op catalog, prelude) stays. For benchmarks."""
    from archdsl.caches import clear_caches as _clear

    _clear()


def __getattr__(name):
    if name == "Model":
        from archdsl.model import Model

        return Model
    raise AttributeError(name)
