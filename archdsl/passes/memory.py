"""Training memory: the tensors autograd keeps for backward, and the memory of a training step.

Contract: `saved_tensors(ir, dtype)` estimates what autograd keeps between forward and
backward in training mode, besides parameters and buffers, and returns a `SavedTensors`:
bytes per sample (they scale with the batch) and per batch (normalisation statistics), in
total and by the layer that made each tensor. `training_memory(...)` adds weights, buffers,
gradients and optimizer state. Both read only the annotated graph (shapes and counts must have
run) and the op catalog; they allocate nothing and never import torch.

How the estimate works: every layer's output lives in a storage, its own or (views: `Id`,
`Slice`, `Flatten`, an identity `Shortcut`; activations and residual Adds that run in place,
decided by `archdsl.passes.inplace.inplace_layers` exactly as code generation decides) its
input's, for an in-place Add the branch it overwrites. A layer is recorded by autograd when one
of its inputs needs a gradient or it has trainable parameters (frozen layers at the start of a
model record nothing). A recorded layer keeps what the catalog's `Op.saved()` says: some inputs,
its output, tensors of its own (max-pooling indices, dropout masks, normalisation statistics); a
layer that runs in place and keeps the input it overwrites keeps a copy autograd takes first
(in-place SiLU, Hardswish, ...), a storage of its own. Each storage counts once, however many
layers keep it (a block's input kept by its first convolution and by its projection shortcut).
The model's input counts when a layer keeps it (the first convolution does).

This is what `torch.autograd.graph.saved_tensors_hooks` sees, counting each storage once by its
`untyped_storage().data_ptr()` and leaving out parameter and buffer storages; the benchmark
`benchmarks/memory_bench.py` and `tests/test_memory.py` check it against the built model for the
zoo at batch 1 and 8 (the bound is 10%; on torch 2.13 CPU every zoo model matches exactly).
The op rules are torch 2.x's on CPU; on CUDA dropout keeps a 1-byte mask instead of one of the
model's dtype.

The training figure is weights + buffers + gradients (trainable parameters) + optimizer state
(`sgd`: none, `momentum`: one tensor per trainable parameter, `adam`: two) + saved tensors: the
memory held when backward starts with gradients kept from the previous step. It leaves out the
allocator's caching, workspaces, and the gradients flowing during backward, so the real peak is
higher by roughly the largest layer's activations.
"""

from __future__ import annotations

from dataclasses import dataclass

from archdsl.ir import ModelIR, Node
from archdsl.ops.base import prod
from archdsl.passes.count import DTYPE_BYTES
from archdsl.passes.inplace import inplace_layers

OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adam": 2}  # state tensors per trainable parameter


@dataclass(frozen=True)
class SavedTensors:
    """Bytes autograd keeps: `per_sample * batch + per_batch`."""

    per_sample: int
    per_batch: int
    by_layer: dict[int, tuple[int, int]]  # node key -> (per sample, per batch)

    def bytes(self, batch: int = 1) -> int:
        return self.per_sample * batch + self.per_batch

    def layer_bytes(self, key: int, batch: int = 1) -> int:
        per_sample, per_batch = self.by_layer.get(key, (0, 0))
        return per_sample * batch + per_batch


@dataclass(frozen=True)
class TrainingMemory:
    """The memory of one training step for a batch, in bytes (an estimate; module docstring)."""

    batch: int
    dtype: str
    optimizer: str
    weights: int
    buffers: int
    gradients: int
    optimizer_state: int
    saved: int

    @property
    def total(self) -> int:
        return self.weights + self.buffers + self.gradients + self.optimizer_state + self.saved

    def to_json(self) -> dict:
        return {"batch": self.batch, "dtype": self.dtype, "optimizer": self.optimizer,
                "weight_bytes": self.weights, "buffer_bytes": self.buffers,
                "gradient_bytes": self.gradients, "optimizer_bytes": self.optimizer_state,
                "saved_bytes": self.saved, "total_bytes": self.total}


def saved_tensors(ir: ModelIR, dtype: str = "float32") -> SavedTensors:
    itemsize = DTYPE_BYTES[dtype]
    graph = ir.graph
    inplace = inplace_layers(ir)  # node key -> the input slot it overwrites
    storage: dict[int, int] = {}  # node key -> key of the node that allocated its storage
    needs_grad: dict[int, bool] = {}
    kept: set[int] = set()  # storages (by allocating node) that autograd keeps
    per_sample: dict[int, int] = {}
    per_batch: dict[int, int] = {}
    for node in graph.order():
        ann = node.ann
        if node.key == ir.input_key:
            storage[node.key], needs_grad[node.key] = node.key, False
            continue
        if ann.failed or ann.out_shape is None:
            continue
        inputs = graph.inputs(node.key)
        ins, out, p = list(ann.in_shapes), ann.out_shape, ann.params
        if node.key in inplace:
            storage[node.key] = storage[inputs[inplace[node.key]].key]
        elif node.op.is_view(p, ins, out):
            storage[node.key] = storage[inputs[0].key]
        else:
            storage[node.key] = node.key
        trainable = ann.param_count > 0 and not node.frozen
        recorded = trainable or any(needs_grad[i.key] for i in inputs)
        needs_grad[node.key] = recorded
        if not recorded:
            continue
        saved = node.op.saved(p, ins, out, trainable)
        for slot in saved.inputs:
            if saved.for_other_inputs and not any(
                    needs_grad[i.key] for j, i in enumerate(inputs) if j != slot):
                continue  # kept only for another input's gradient, and none needs one
            if inplace.get(node.key) == slot:  # autograd clones what the layer will overwrite
                per_sample[node.key] = per_sample.get(node.key, 0) + prod(ins[slot]) * itemsize
            else:
                kept.add(storage[inputs[slot].key])
        if saved.output:
            kept.add(storage[node.key])
        for extra in saved.extra:
            size = extra.elements * (extra.itemsize or itemsize)
            target = per_sample if extra.per_sample else per_batch
            target[node.key] = target.get(node.key, 0) + size
    for key in kept:
        per_sample[key] = per_sample.get(key, 0) + _storage_elements(graph.node(key)) * itemsize
    by_layer = {key: (per_sample.get(key, 0), per_batch.get(key, 0))
                for key in per_sample.keys() | per_batch.keys()}
    return SavedTensors(sum(per_sample.values()), sum(per_batch.values()), by_layer)


def training_memory(ir: ModelIR, totals, batch: int = 1, dtype: str = "float32",
                    optimizer: str = "sgd", saved: SavedTensors | None = None) -> TrainingMemory:
    """Weights, buffers, gradients, optimizer state and saved tensors for a batch."""
    if optimizer not in OPTIMIZER_STATE:
        raise ValueError(f"unknown optimizer {optimizer!r}: use one of "
                         f"{', '.join(OPTIMIZER_STATE)}")
    itemsize = DTYPE_BYTES[dtype]
    saved = saved if saved is not None else saved_tensors(ir, dtype)
    return TrainingMemory(batch, dtype, optimizer, totals.params * itemsize,
                          totals.buffers * itemsize, totals.trainable * itemsize,
                          OPTIMIZER_STATE[optimizer] * totals.trainable * itemsize,
                          saved.bytes(batch))


def _storage_elements(node: Node) -> int:
    """Elements per sample of the tensor a node allocated (the model input for the input)."""
    return prod(node.ann.out_shape)
