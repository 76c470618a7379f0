"""Reading a state_dict from a file and loading it, strictly, into a built model.

Contract: `read_state_dict(path)` returns a name -> tensor mapping from a `.safetensors` file or
a torch file (`.pt`, `.pth`, `.bin`: `torch.load(weights_only=True)`, so a file cannot run code).
A training checkpoint that wraps the state_dict (`{"state_dict": ...}`, `{"model": ...}`) and a
state_dict saved from a `DataParallel`/DDP wrapper (every name starting `module.`) are unwrapped.
`load_weights(net, path)` loads it with `strict=True`: every tensor of the model must be in the
file with its shape, and the file may hold nothing else; names must be text, and the tensors
dense, real and finite (a file of NaN is refused, not exported). Problems raise `WeightsError` (a
`ValueError`; the CLI exits with 2) naming the tensors; a missing `safetensors` package raises
`BackendError` (exit 3) saying what to install. The caller's module is changed only on success.

This is the strict loader exports use (an export must carry exactly the weights given);
`archdsl.load_pretrained` is the lenient one for transfer learning (a replaced head).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from archdsl.diagnostics import BackendError

WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net", "module")


class WeightsError(ValueError):
    """A weights file that cannot be read or does not fit the model."""


def read_state_dict(path: str | os.PathLike) -> dict:
    """The tensors of a weights file, by name."""
    import torch

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WeightsError(f"no weights file {path}")
    if path.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise BackendError("reading .safetensors needs the safetensors package: "
                               "pip install 'archdsl[export]' (or pip install safetensors)"
                               ) from None
        try:
            return dict(load_file(path, device="cpu"))
        except Exception as err:  # noqa: BLE001  (safetensors raises its own error types)
            raise WeightsError(f"cannot read {path} as safetensors: {err}") from None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (pickle, zip and torch errors alike)
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise WeightsError(f"cannot read {path} as a state_dict (torch.load, weights only): "
                           f"{reason}") from None
    return _unwrap(data, path)


def _unwrap(data, path: str) -> dict:
    import torch

    for _ in range(2):  # {"state_dict": {...}} or {"model": {"state_dict": ...}}
        if isinstance(data, Mapping) and not _all_tensors(data):
            inner = next((data[k] for k in WRAPPER_KEYS if isinstance(data.get(k), Mapping)),
                         None)
            if inner is None:
                break
            data = inner
    if not isinstance(data, Mapping) or not _all_tensors(data):
        raise WeightsError(f"{path} does not hold a state_dict (a mapping of names to tensors)"
                           "; save one with torch.save(model.state_dict(), path)")
    odd = [k for k in data if not isinstance(k, str)]
    if odd:
        raise WeightsError(f"{path} is not a state_dict: its names must be text, but "
                           f"{len(odd)} {'is' if len(odd) == 1 else 'are'} not "
                           f"({_some([f'{k!r} ({type(k).__name__})' for k in odd])})")
    names = list(data)
    if names and all(n.startswith("module.") for n in names):  # saved from a DDP wrapper
        data = {n[len("module."):]: t for n, t in data.items()}
    return {str(k): v for k, v in data.items() if isinstance(v, torch.Tensor)}


def _all_tensors(data: Mapping) -> bool:
    import torch

    return bool(data) and all(isinstance(v, torch.Tensor) for v in data.values())


def load_weights(net, path: str | os.PathLike) -> None:
    """Load a weights file into `net`, strictly (see the module docstring)."""
    import torch

    state = read_state_dict(path)
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} (file {_shape(state[k])}, model {_shape(own[k])})" for k in own
              if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} tensor{'s' if len(missing) > 1 else ''} missing "
                        f"({_some(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unknown to the model ({_some(unexpected)})")
    if shapes:
        problems.append(f"{len(shapes)} of another shape ({_some(shapes)})")
    if problems:
        raise WeightsError(f"the weights in {os.fspath(path)} do not fit this model: "
                           + "; ".join(problems) + ". Is it the same architecture and "
                           "settings (--classes, --head, --input)?")
    _check_values(state, own, os.fspath(path))
    with torch.no_grad():
        net.load_state_dict(state, strict=True)


def _check_values(state: dict, own: dict, path: str) -> None:
    """Tensors a model can hold: dense (not sparse), real numbers of a kind that converts to
    the model's (not complex), and finite: a file of NaN would load and give NaN outputs."""
    import torch

    sparse = [k for k in own if state[k].layout != torch.strided]
    if sparse:
        raise WeightsError(f"{path} holds sparse tensors ({_some(sparse)}); save dense ones "
                           "(tensor.to_dense())")
    kinds = [f"{k} ({state[k].dtype})" for k in own
             if state[k].is_complex() or (own[k].is_floating_point() and state[k].dtype ==
                                          torch.bool)]
    if kinds:
        raise WeightsError(f"{path} holds tensors of a kind the model cannot take "
                           f"({_some(kinds)})")
    bad = [k for k in own if state[k].is_floating_point() and
           not bool(torch.isfinite(state[k]).all())]
    if bad:
        raise WeightsError(f"{path} holds NaN or infinite values ({_some(bad)}): the model "
                           "would compute NaN; is the file from a training run that diverged?")


def _shape(t) -> str:
    return "x".join(str(d) for d in t.shape) or "scalar"


def _some(names: list[str], n: int = 3) -> str:
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")
