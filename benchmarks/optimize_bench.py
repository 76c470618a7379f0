"""What `--optimize inference` buys: forward time of the optimised module against the plain one.

Run from the repository root:
    python benchmarks/optimize_bench.py [--models resnet50 densenet121 googlenet]
                                        [--batch 1 8] [--runs 15] [--threads 1] [--json OUT]

For each model and batch, in eval mode under `torch.inference_mode()`, with one set of weights
(BatchNorm statistics set away from their defaults, so folding has real work to do), times
interleaved forwards of: the plain built module; `optimize="inference"` (BatchNorm folded into
the convolution before it, dropout dropped); the same with `channels_last=True` (module and
input); and torchvision's model where it has one. Reports medians, the speed-up of each
variant over the plain module, and the largest output difference (the tests require <= 1e-4).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

import archdsl

TESTS = Path(__file__).resolve().parents[1] / "tests"  # tv_shim: torchvision with CPU torch


WARMUP = 3


def trained_looking(net: nn.Module) -> nn.Module:
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
    return net


def variants(name: str, path: Path) -> dict[str, tuple[nn.Module, bool]]:
    """name -> (module, wants a channels_last input)."""
    plain = trained_looking(archdsl.build(name)).eval()
    torch.save(plain.state_dict(), path)
    out = {"plain": (plain, False),
           "optimized": (archdsl.build(name, weights=path, optimize="inference"), False),
           "optimized+channels_last": (archdsl.build(name, weights=path, optimize="inference",
                                                     channels_last=True), True)}
    try:
        sys.path.insert(0, str(TESTS))
        importlib.import_module("tv_shim")  # torchvision's op schemas, before torchvision
        import torchvision

        tv = getattr(torchvision.models, name)(weights=None, **(
            {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}))
        own = tv.state_dict()  # GoogLeNet without its auxiliary heads, as in eval mode
        tv.load_state_dict({k: v for k, v in plain.state_dict().items() if k in own})
        out["torchvision"] = (tv.eval(), False)
    except (ImportError, AttributeError):
        pass
    return out


def bench(name: str, batch: int, runs: int, path: Path) -> dict:
    models = variants(name, path)
    x = torch.randn(batch, *archdsl.load(name).input_shape)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    times: dict[str, list[float]] = {k: [] for k in models}
    outs = {}
    with torch.inference_mode():
        for _ in range(WARMUP):  # the first runs allocate and pick kernels: slow and erratic
            for key, (model, cl) in models.items():
                outs[key] = model(x_cl if cl else x)
        for _ in range(runs):
            for key, (model, cl) in models.items():
                start = time.perf_counter()
                model(x_cl if cl else x)
                times[key].append(time.perf_counter() - start)
    base = statistics.median(times["plain"])
    result = {}
    for key, values in times.items():
        med = statistics.median(values)
        diff = float((outs[key] - outs["plain"]).abs().max())
        result[key] = {"median_ms": med * 1e3, "speedup": base / med, "max_diff": diff}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet50", "densenet121", "googlenet"])
    parser.add_argument("--batch", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: "
                        "several threads on a shared machine make GoogLeNet's many small "
                        "layers erratic, up to 30x slower)")
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    machine = (f"{os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, "
               f"torch {torch.__version__}")
    print(f"forward in eval mode, median of {args.runs} interleaved runs ({machine}):")
    results = {"machine": machine, "runs": args.runs, "models": {}}
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"optimize_bench_{os.getpid()}.pt"
    try:
        for name in args.models:
            for batch in args.batch:
                r = bench(name, batch, args.runs, path)
                results["models"][f"{name} batch {batch}"] = r
                print(f"  {name} batch {batch}:")
                for key, v in r.items():
                    print(f"    {key:25} {v['median_ms']:8.1f} ms   x{v['speedup']:.2f}"
                          f"   max |diff| {v['max_diff']:.1e}")
    finally:
        path.unlink(missing_ok=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
