"""Inference optimisation of a built module: BatchNorm folded into the layer before it, dropout
dropped, optionally the channels_last memory format.

Contract: `optimize_module(net, model, "inference", channels_last=False)` changes `net` (built
from `model` by `torch_build.build_module`, any weights already loaded) in place, puts it in eval
mode with gradients off, and returns an `OptimizeReport`. The op catalog decides what changes,
from the IR alone:

- a layer whose op has `eval_affine` (BatchNorm: `x * scale[c] + shift[c]` in eval) folds into
  the layer feeding it when that layer's op `absorbs_affine` (Conv, FC) and nothing else reads
  its output: `weight[c] *= scale[c]`, `bias[c] = bias[c] * scale[c] + shift[c]` (computed in
  float64, a bias added where there was none);
- an op's `inner_folds` fold inside its own module (the projection shortcut's conv and BN);
- an `eval_identity` layer (Dropout) is dropped.

A folded or dropped layer becomes an `nn.Identity` under its old name, so the generated forward
runs unchanged and every other name stays; the state_dict loses those layers' tensors. In eval
mode the outputs equal the unoptimised module's up to float32 rounding (tests: 1e-4). The result
is for inference only: `.train()` does not bring BatchNorm or dropout back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archdsl.ops.base import Op

MODES = ("inference",)


@dataclass
class OptimizeReport:
    folded: list[tuple[str, str]] = field(default_factory=list)  # (conv or FC, BatchNorm)
    dropped: list[str] = field(default_factory=list)  # layers that became the identity
    channels_last: bool = False

    def describe(self) -> str:
        parts = [f"{len(self.folded)} BatchNorm folded", f"{len(self.dropped)} dropout dropped"]
        if self.channels_last:
            parts.append("channels_last")
        return ", ".join(parts)


@dataclass(frozen=True)
class Fold:
    absorber: str  # module name of the conv / FC
    affine: str  # module name of the layer folded into it
    op: object  # the affine layer's op (it computes scale and shift from its module)


def plan(model) -> tuple[list[Fold], list[str]]:
    """The candidate folds and the layers to drop, from the IR (no torch)."""
    graph = model.ir.graph
    outputs = {key for _, key in model.ir.outputs}
    folds: list[Fold] = []
    drops: list[str] = []
    for node in graph.order():
        if not node.op.module or node.ann.params is None or node.ann.failed:
            continue
        p, ins, out = node.ann.params, list(node.ann.in_shapes), node.ann.out_shape
        folds += [Fold(f"{node.name}.{a}", f"{node.name}.{b}", op)
                  for a, b, op in node.op.inner_folds(p, ins, out)]
        if node.op.eval_identity:
            drops.append(node.name)
            continue
        inputs = graph.inputs(node.key)
        if len(inputs) != 1 or type(node.op).eval_affine is Op.eval_affine:  # not declared
            continue
        src = inputs[0]
        if src.op.absorbs_affine and src.op.module and src.key not in outputs and \
                [c.key for c in graph.consumers(src.key)] == [node.key]:
            folds.append(Fold(src.name, node.name, node.op))
    return folds, drops


def optimize_module(net, model, mode: str = "inference", channels_last: bool = False):
    """Optimise `net` in place for `mode` (only "inference"); see the module docstring."""
    import torch
    from torch import nn

    if mode not in MODES:
        raise ValueError(f"optimize must be one of {', '.join(MODES)} (or None), got {mode!r}")
    net.eval()
    report = OptimizeReport(channels_last=channels_last)
    folds, drops = plan(model)
    with torch.no_grad():
        for fold in folds:
            affine = fold.op.eval_affine(net.get_submodule(fold.affine))
            if affine is None:
                continue
            _absorb(net.get_submodule(fold.absorber), *affine)
            net.set_submodule(fold.affine, nn.Identity())
            report.folded.append((fold.absorber, fold.affine))
        for name in drops:
            net.set_submodule(name, nn.Identity())
            report.dropped.append(name)
    net.requires_grad_(False)
    if channels_last:
        net.to(memory_format=torch.channels_last)
    return report


def _absorb(layer, scale, shift) -> None:
    """weight[c] *= scale[c]; bias[c] = bias[c] * scale[c] + shift[c] (a bias made if none)."""
    import torch
    from torch import nn

    weight = layer.weight
    view = (-1,) + (1,) * (weight.dim() - 1)
    weight.copy_((weight.double() * scale.view(view)).to(weight.dtype))
    bias = layer.bias.double() if layer.bias is not None else torch.zeros_like(shift)
    new_bias = (bias * scale + shift).to(weight.dtype)
    if layer.bias is None:
        layer.bias = nn.Parameter(new_bias.to(weight.device), requires_grad=False)
    else:
        layer.bias.copy_(new_bias)
