"""Building a `torch.nn.Module` from generated source.

Contract: `build_module(model, seed)` executes the source `pysource.generate` wrote (and nothing
else: spec text is never executed) as a real module: registered in `sys.modules` under a stable
name derived from its hash and in `linecache`, so `inspect.getsource`, `torch.jit.script`,
pickling in the same process (`torch.save(model)`), `copy.deepcopy` and DDP work. Weights are
initialised under `seed` (the spec's `seed:`, default 0) in a forked RNG, so two builds agree
and the caller's random state is left alone. Then, in this order: `weights` (a `.pt` or
`.safetensors` state_dict) are loaded strictly (`checkpoint.load_weights`), and `optimize`
("inference") folds and drops layers (`optimize.optimize_module`); `channels_last` converts
the module to that memory format.
"""

from __future__ import annotations

import hashlib
import linecache
import sys
import types

_MODULES: dict[str, types.ModuleType] = {}


def load_source(source: str, model_name: str) -> types.ModuleType:
    """Execute generated source as a module (cached by content)."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    safe = "".join(c if c.isalnum() else "_" for c in model_name.lower())
    module_name = f"archdsl_generated.{safe}_{digest}"
    cached = _MODULES.get(module_name)
    if cached is not None:
        return cached
    filename = f"<archdsl-generated {safe}_{digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(module_name)
    module.__file__ = filename
    if "archdsl_generated" not in sys.modules:
        package = types.ModuleType("archdsl_generated")
        package.__path__ = []
        sys.modules["archdsl_generated"] = package
    sys.modules[module_name] = module
    # dont_inherit: this module's `from __future__ import annotations` must not turn the
    # generated annotations into strings (TorchScript cannot resolve them in a NamedTuple)
    code = compile(source, filename, "exec", dont_inherit=True)
    exec(code, module.__dict__)  # noqa: S102  (source we generated from validated names)
    _MODULES[module_name] = module
    return module


def build_module(model, seed: int | None = None, all_outputs: bool = False, device=None,
                 weights=None, optimize: str | None = None, channels_last: bool = False):
    import torch

    from archdsl.codegen.pysource import class_name_of, generate

    source = generate(model)
    module = load_source(source, model.name)
    cls = getattr(module, class_name_of(model))
    seed = model.settings.seed if seed is None else seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if device is not None:
            with torch.device(device):
                net = cls()
        else:
            net = cls()
    if all_outputs and hasattr(net, "all_outputs"):
        net.all_outputs = True
    if weights is not None:
        from archdsl.runtime.checkpoint import load_weights

        load_weights(net, weights)
    if optimize is not None:
        from archdsl.runtime.optimize import optimize_module

        optimize_module(net, model, optimize, channels_last)
    elif channels_last:
        net.to(memory_format=torch.channels_last)
    return net
