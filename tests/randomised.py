"""A zoo model against its torchvision twin, compared so that a wrong network cannot pass.

With torchvision's own initialisation (BatchNorm weight 1 and bias 0, some last layers zero) a
wrong network can give the same logits: ReLU6 and ReLU agree on small activations, a missing
residual hides under near-zero branches. So the reference gets He-initialised random weights,
random normalisation parameters and biases (and layer scales), and BatchNorm statistics
measured on a random batch, before its state_dict is loaded into archdsl's build; then outputs
must agree, the reference's output must depend on its input, and the settings eval-mode outputs
cannot show (eps, momentum, inplace, dropout and stochastic-depth rates) must be equal. This is
the comparison `../shared/checks/tv_zoo.py` makes, at a size CI can afford.
"""

from __future__ import annotations

import torch
from torch import nn

import archdsl

NORM = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
# torchvision's constructor arguments where the zoo spec follows a non-default configuration
KWARGS = {"googlenet": {"aux_logits": True, "init_weights": True},
          "inception_v3": {"aux_logits": True, "init_weights": False}}
TORCHVISION_NAME = {"alexnet_torchvision": "alexnet"}


def randomise(ref: nn.Module, g: torch.Generator, size: int) -> None:
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):  # signal-preserving weights (He, fan-in)
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            if isinstance(m, NORM) and getattr(m, "weight", None) is not None:
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 2.5 + 0.5)
        for n, p in ref.named_parameters():
            if n.endswith("bias") or "layer_scale" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        bns = [m for m in ref.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        saved = [m.momentum for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        ref.eval()
        for m in bns:
            m.train()
        ref(torch.randn(4, 3, size, size, generator=g))
        for m, momentum in zip(bns, saved, strict=True):
            m.momentum = momentum
            m.eval()


def _first(y):
    if isinstance(y, dict):
        y = next(iter(y.values()))
    if hasattr(y, "logits"):
        y = y.logits
    return y[0] if isinstance(y, (tuple, list)) else y


def settings_differ(ref: nn.Module, net: nn.Module) -> str | None:
    mods = dict(net.named_modules())
    for n, m in ref.named_modules():
        if next(m.children(), None) is None and type(m).__module__.startswith("torch.nn.") \
                and n in mods:
            o = mods[n]
            if type(o).__name__ != type(m).__name__ or o.extra_repr() != m.extra_repr():
                return f"{n}: {type(o).__name__}({o.extra_repr()}) != " \
                       f"{type(m).__name__}({m.extra_repr()})"

    def rates(model):
        return sorted((round(float(m.p), 6), str(getattr(m, "mode", ""))) for m in
                      model.modules() if isinstance(getattr(m, "p", None), (float, int)))

    if rates(ref) != rates(net):
        return f"dropout / stochastic-depth rates {rates(net)[:6]}... != {rates(ref)[:6]}..."
    return None


def assert_same_as_torchvision(name: str, size: int, spec: str | None = None) -> None:
    """archdsl.build(spec or name) is torchvision's `name` (zoo names as tv_zoo.py maps them),
    compared at `size` x `size` on a batch of 2."""
    import torchvision

    tv_name = TORCHVISION_NAME.get(name, name)
    net = archdsl.build(spec or name)
    torch.manual_seed(0)
    ref = torchvision.models.get_model(tv_name, weights=None, **KWARGS.get(tv_name, {}))
    randomise(ref, torch.Generator().manual_seed(1), size)
    count = sum(p.numel() for p in ref.parameters())
    assert sum(p.numel() for p in net.parameters()) == count
    net.load_state_dict(ref.state_dict(), strict=True)
    ref.eval()
    net.eval()
    g = torch.Generator().manual_seed(2)
    x1, x2 = torch.randn(2, 3, size, size, generator=g), torch.randn(2, 3, size, size, generator=g)
    with torch.no_grad():
        a, b, a2 = _first(ref(x1)), _first(net(x1)), _first(ref(x2))
    scale = a.abs().max().item()
    assert (a - a2).abs().max().item() > 1e-2 * scale, "the reference's output does not " \
        "depend on its input: the comparison cannot discriminate"
    rel = (a - b).abs().max().item() / scale
    assert rel < 1e-5, f"outputs differ: max relative difference {rel:.2e}"
    why = settings_differ(ref, net)
    assert why is None, why
