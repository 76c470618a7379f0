"""Measure what autograd really keeps for backward: the reference for the memory estimate.

Contract: `measure_saved_bytes(module, x)` runs one forward pass of `module` in training mode on
`x` (which needs no gradient) under `torch.autograd.graph.saved_tensors_hooks` and returns the
bytes of the tensors autograd saved, each storage counted once (by
`untyped_storage().data_ptr()`), leaving out the storages of the module's parameters and
buffers. Saved tensors stay referenced until the pass ends, so a freed storage's address is never
reused and counted twice. The module's mode is restored; no backward pass runs. Imports torch.
"""

from __future__ import annotations

from typing import Any


def measure_saved_bytes(module: Any, x: Any) -> int:
    import torch

    own = {t.untyped_storage().data_ptr() for t in (*module.parameters(), *module.buffers())}
    sizes: dict[int, int] = {}
    keep: list[Any] = []

    def pack(tensor):
        keep.append(tensor)
        store = tensor.untyped_storage()
        ptr = store.data_ptr()
        if ptr not in own:
            sizes[ptr] = store.nbytes()
        # detached: a saved output that kept its grad_fn would make a cycle through the graph
        # (node -> saved tensor -> node) that nothing frees, leaking every activation
        return tensor.detach()

    was_training = module.training
    module.train()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            out = module(x)
        del out
    finally:
        module.train(was_training)
        keep.clear()
    return sum(sizes.values())
