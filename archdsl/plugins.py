"""Layer kinds from outside archdsl: registered from Python or provided by installed packages.

Contract: `register_kind(cls, package=None)` adds an `Op` subclass to the catalog behind a
guard, so a plugin's rules are held to the contract: an exception from a rule, or a result of the
wrong type (a shape of non-positive or non-integer sizes, a negative or fractional count, a label
that is not text), becomes a `plugin-error` diagnostic naming the kind and its package, never an
internal error of archdsl. Rules that shapes decide (`check_params`, `resolve`, `infer`) report
on the layer in the spec, as a built-in kind's do. Installed packages provide kinds through the
entry-point group `archdsl.kinds` (`NAME = "module:Class"`); they are loaded on first need (a
layer name that is neither a kind nor a block, `archdsl ops`), never at import, so a command that
uses only built-in kinds and blocks does not pay for them. `missing_kind_hint(name)` says what is known about a
kind that did not load (its package, the error). docs/extending.md walks through a plugin.
"""

from __future__ import annotations

import functools
from typing import Any

from archdsl.diagnostics import ArchError, Diagnostic
from archdsl.ops.base import Functional, Op, Saved, ShapeError, TorchModule
from archdsl.ops.registry import _known, forget, register

ENTRY_POINT_GROUP = "archdsl.kinds"

_loaded = False
_failed: dict[str, tuple[str | None, str]] = {}  # kind name -> (package, why it did not load)

# Rules the shape pass runs: a complaint there is a diagnostic on the layer (`ShapeError`).
_SHAPE_RULES = ("check_params", "resolve", "infer")


class PluginError(ArchError):
    """A plugin kind broke the op contract outside the shape rules (a count, its code, its
    label): one `plugin-error` diagnostic naming the kind and its package."""


def _blame(op: type[Op], package: str, method: str, what: str) -> tuple[str, str]:
    return (f"layer kind '{op.name}' from the plugin '{package}' failed in {method}(): {what}",
            f"this is a bug in the plugin '{package}', not in your spec or in archdsl: report "
            f"it to the plugin's authors (or leave out the {op.name} layer)")


def _fail(op: type[Op], package: str, method: str, what: str):
    message, hint = _blame(op, package, method, what)
    if method in _SHAPE_RULES:
        return ShapeError(message, hint=hint, code="plugin-error")
    return PluginError([Diagnostic("plugin-error", message, None, hint)])


def _is_int(value: Any) -> bool:
    """An integer, or a symbolic one (block classes run rules on `Sym` sizes)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or getattr(value, "symbolic", None) is not None


def _bad_count(value: Any) -> str | None:
    if not _is_int(value):
        return f"returned {value!r}, not an integer"
    if isinstance(value, int) and value < 0:
        return f"returned {value}, a negative count"
    return None


def _bad_shape(value: Any) -> str | None:
    if not isinstance(value, tuple | list) or not value:
        return f"returned {value!r}, not a shape (a tuple of sizes such as (64, 28, 28))"
    for size in value:
        if not _is_int(size):
            return f"returned the shape {tuple(value)!r}: {size!r} is not an integer"
        if isinstance(size, int) and size < 1:
            return f"returned the shape {tuple(value)!r}: sizes must be at least 1"
    return None


def _of_type(*types):
    def check(value):
        return None if isinstance(value, types) else \
            f"returned {value!r}, not a {' or '.join(t.__name__ for t in types)}"
    return check


# method -> a check of its result (None: any result)
_RESULT_CHECKS = {
    "check_params": None, "resolve": None, "infer": _bad_shape,
    "param_count": _bad_count, "buffer_count": _bad_count, "macs": _bad_count,
    "activations": _bad_count, "saved": _of_type(Saved), "is_view": _of_type(bool),
    "torch": _of_type(TorchModule, Functional), "label": _of_type(str),
    "cells": _of_type(tuple), "rf": None, "passes_through": _of_type(bool),
    "skipped_in_forward": _of_type(bool), "inplace_slots": _of_type(tuple),
}


def _guarded(cls: type[Op], package: str, method: str):
    inner = getattr(cls, method)
    check = _RESULT_CHECKS[method]

    @functools.wraps(inner)
    def call(self, *args, **kwargs):
        try:
            result = inner(self, *args, **kwargs)
        except ShapeError as err:
            if method in _SHAPE_RULES:
                raise  # the plugin's own diagnostic, as a built-in kind raises it
            raise _fail(cls, package, method, f"ShapeError: {err.message}") from err
        except ArchError:
            raise
        except Exception as err:  # noqa: BLE001  (whatever a plugin raises is its bug)
            raise _fail(cls, package, method, f"{type(err).__name__}: {err}") from err
        why = check(result) if check is not None else None
        if why is not None:
            raise _fail(cls, package, method, why)
        return result

    return call


def register_kind(cls: type[Op], package: str | None = None) -> type[Op]:
    """Add a layer kind to the catalog, from outside archdsl: `cls` declares the contract of
    `archdsl.ops.base.Op`; `package` is the distribution that provides it (named in generated
    code and in diagnostics; default: the class's top-level module). Returns the registered
    class, a guarded subclass of `cls`. Usable as a decorator."""
    if not (isinstance(cls, type) and issubclass(cls, Op)):
        raise TypeError(f"{cls!r} is not a layer kind (a subclass of archdsl.kinds.Op)")
    package = package or cls.package or cls.__module__.split(".")[0]
    old = _known(cls.name) if isinstance(getattr(cls, "name", None), str) else None
    if old is not None and old.plugin and type(old).__module__ == cls.__module__ and \
            type(old).__qualname__ == cls.__qualname__:
        forget(old)  # the same class defined again (a re-run notebook cell): the new one wins
    namespace = {method: _guarded(cls, package, method) for method in _RESULT_CHECKS}
    namespace.update(__doc__=cls.__doc__, __module__=cls.__module__, __qualname__=cls.__qualname__,
                     package=package, imports=cls.imports or (cls.__module__,), plugin=True)
    guarded = type(cls.__name__, (cls,), namespace)
    return register(guarded)


def load_plugins() -> bool:
    """Load the kinds installed packages declare (entry-point group `archdsl.kinds`), once;
    True the first time. A package that fails to load is remembered, for the diagnostic of a
    spec that uses it."""
    global _loaded
    if _loaded:
        return False
    _loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        package = ep.dist.name if ep.dist is not None else None
        if _known(ep.name) is not None:
            continue  # registered already (the module registers itself, or a duplicate)
        try:
            obj = ep.load()
            if not (isinstance(obj, type) and issubclass(obj, Op)):
                raise TypeError(f"the entry point names {obj!r}, not a layer kind (a subclass "
                                "of archdsl.kinds.Op)")
            if _known(obj.name) is None:
                register_kind(obj, package)
        except Exception as err:  # noqa: BLE001  (a broken plugin must not break archdsl)
            _failed[ep.name] = (package, f"{type(err).__name__}: {err}")
    return True


def missing_kind_hint(name: str) -> str | None:
    """What is known about a layer kind that is not in the catalog: an installed plugin that
    declares it but failed to load."""
    for kind, (package, why) in _failed.items():
        if kind.lower() == name.lower():
            return (f"'{kind}' comes from the plugin package '{package}', which failed to load "
                    f"({why}); reinstall or fix it")
    return None

