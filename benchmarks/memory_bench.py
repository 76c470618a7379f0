"""Section 5, memory: the saved-tensor estimate against what autograd really saves.

For every zoo model (`archdsl.zoo()`) at batch 1 and 8, in training mode: the estimate
`Model.saved_tensors().bytes(batch)` (shape arithmetic, no torch) against
`benchmarks/autograd_saved.py: measure_saved_bytes(module, x)`, which runs one forward pass
of the built module under `saved_tensors_hooks` and counts each saved storage once, parameters
and buffers left out. Target (issue 5): within 10% for every model and batch (and, since
issue 13, exact: the count of exact cases is reported);
`tests/test_memory.py` checks the small models, this section all of them. Inception-v3 is
measured at batch 2 instead of 1: its auxiliary head normalises 1x1 maps, and BatchNorm in
training refuses a single value per channel (torchvision's model as much as archdsl's).

Each model is measured in a process of its own (the thread count passed on), so whatever one
measurement leaves allocated cannot pile up over the zoo and skew or kill the rest: before
commit 8dc3842 the pack hook returned the saved tensor itself, which tied a layer's saved output
to its own graph node in a cycle the garbage collector cannot see, and the zoo ran out of 24 GB.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from timing import Log, log_stderr, table, yes

TOLERANCE = 0.10
HERE = Path(__file__).resolve().parent
CHILD = """
import json, sys
import torch
import archdsl
from autograd_saved import measure_saved_bytes
name, threads, batches = sys.argv[1], int(sys.argv[2]), map(int, sys.argv[3].split(","))
torch.set_num_threads(threads)
model = archdsl.load(name, **({"input": sys.argv[4]} if len(sys.argv) > 4 else {}))
net = model.build()
out = []
for batch in batches:
    x = torch.randn(batch, *model.input_shape, generator=torch.Generator().manual_seed(0))
    out.append([batch, model.saved_tensors().bytes(batch), measure_saved_bytes(net, x)])
print(json.dumps(out))
"""
FULL = {"models": None, "batches": (1, 8)}  # None: the whole zoo
QUICK = {"models": ("lenet5", "alexnet", "resnet18"), "batches": (1, 8)}
MIN_BATCH = {"inception_v3": 2}  # the smallest batch its training forward accepts (docstring)
# Above this many saved bytes at the largest batch, a model is measured at 224x224 instead of
# its own resolution (EfficientNet-B7's 600x600 at batch 8 keeps tens of GB): the estimate is
# checked against autograd at the same input either way.
MAX_SAVED_BYTES = 4 * 2**30


def run(models=FULL["models"], batches=FULL["batches"], log: Log = log_stderr) -> dict:
    import torch

    import archdsl

    names = list(models) if models is not None else archdsl.zoo()
    rows = {}
    for name in names:
        start = time.perf_counter()
        sizes = dict.fromkeys(max(b, MIN_BATCH.get(name, 1)) for b in batches)
        args = [name, str(torch.get_num_threads()), ",".join(map(str, sizes))]
        model = archdsl.load(name)
        if len(model.input_shape) == 3 and \
                model.saved_tensors().bytes(max(sizes)) > MAX_SAVED_BYTES:
            args.append(f"{model.input_shape[0]}x224x224")
        child = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True,
                               text=True, timeout=1200, cwd=HERE)  # HERE: autograd_saved.py
        if child.returncode != 0:
            raise RuntimeError(f"{name}: {child.stderr.strip().splitlines()[-1:]}")
        for batch, estimate, real in json.loads(child.stdout):
            rows[f"{name} batch {batch}"] = {
                "model": name + (f" at {args[3]}" if len(args) > 3 else ""), "batch": batch,
                "estimate_bytes": estimate, "real_bytes": real,
                "ratio": estimate / real, "exact": estimate == real,
                "within": abs(estimate - real) <= TOLERANCE * real}
        log(f"  memory {name}: {time.perf_counter() - start:.1f} s")
    misses = [key for key, r in rows.items() if not r["within"]]
    worst = max(rows.values(), key=lambda r: abs(r["ratio"] - 1))
    return {"cases": rows, "tolerance": TOLERANCE, "targets": [{
        "section": "memory",
        "target": f"saved-tensor estimate within {TOLERANCE:.0%} of autograd for "
                  f"{'every zoo model' if models is None else ', '.join(names)} at batch "
                  f"{' and '.join(map(str, batches))}",
        "measured": f"{len(rows) - len(misses)}/{len(rows)} within, "
                    f"{sum(r['exact'] for r in rows.values())} exact; worst "
                    f"{worst['model']} batch {worst['batch']}: x{worst['ratio']:.3f}",
        "met": not misses}]}


def markdown(result: dict) -> str:
    rows = [[r["model"], r["batch"], f"{r['estimate_bytes']:,}", f"{r['real_bytes']:,}",
             f"{r['ratio']:.3f}", yes(r["within"])]
            for r in result["cases"].values()]
    return ("Training mode, one forward pass; bytes of tensors kept for backward (parameters and "
            "buffers excluded, each storage once). Ratio is estimate over measured.\n\n"
            + table(["model", "batch", "estimate bytes", "autograd bytes", "ratio",
                     f"within {result['tolerance']:.0%}"], rows) + "\n")
