"""Loading pretrained weights into a built model (transfer learning).

Contract: `load_pretrained(module, state_dict)` copies every tensor whose name and shape match,
skips those whose shape differs (a replaced head) and returns the skipped names; names the model
does not have are an error (a different architecture), unless `strict=False`. Frozen parameters
stay frozen: loading never changes `requires_grad`.
"""

from __future__ import annotations


def load_pretrained(module, state_dict, strict: bool = True) -> list[str]:
    """Load matching tensors from `state_dict` (a mapping, or a path to a `.pt`/`.pth`/
    `.safetensors` file); return the names skipped because their shapes differ."""
    import torch

    if isinstance(state_dict, (str, bytes)) or hasattr(state_dict, "__fspath__"):
        state_dict = _read(str(state_dict))
    own = module.state_dict()
    unknown = [k for k in state_dict if k not in own]
    if unknown and strict:
        raise KeyError(f"{len(unknown)} tensors have no place in this model, e.g. "
                       f"{', '.join(unknown[:3])}: is it the same architecture?")
    skipped = [k for k, v in state_dict.items() if k in own and tuple(v.shape) !=
               tuple(own[k].shape)]
    wanted = {k: v for k, v in state_dict.items() if k in own and k not in skipped}
    with torch.no_grad():
        module.load_state_dict(wanted, strict=False)
    return skipped


def _read(path: str):
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)
