"""Section 5, memory: the saved-tensor estimate against what autograd really saves.

For every zoo model (`archdsl.zoo()`) at batch 1 and 8, in training mode: the estimate
`Model.saved_tensors().bytes(batch)` (shape arithmetic, no torch) against
`archdsl.backends.autograd_saved.measure_saved_bytes(module, x)`, which runs one forward pass
of the built module under `saved_tensors_hooks` and counts each saved storage once, parameters
and buffers left out. Target (issue 5): within 10% for every model and batch;
`tests/test_memory.py` checks the small models, this section all of them.
"""

from __future__ import annotations

import gc
import time

from timing import Log, log_stderr, table, yes

TOLERANCE = 0.10
FULL = {"models": None, "batches": (1, 8)}  # None: the whole zoo
QUICK = {"models": ("lenet5", "alexnet", "resnet18"), "batches": (1, 8)}


def run(models=FULL["models"], batches=FULL["batches"], log: Log = log_stderr) -> dict:
    import torch

    import archdsl
    from archdsl.backends.autograd_saved import measure_saved_bytes

    names = list(models) if models is not None else archdsl.zoo()
    rows = {}
    for name in names:
        start = time.perf_counter()
        model = archdsl.load(name)
        net = model.build()
        for batch in batches:
            x = torch.randn(batch, *model.input_shape, generator=torch.Generator().manual_seed(0))
            estimate = model.saved_tensors().bytes(batch)
            real = measure_saved_bytes(net, x)
            rows[f"{name} batch {batch}"] = {
                "model": name, "batch": batch, "estimate_bytes": estimate, "real_bytes": real,
                "ratio": estimate / real, "within": abs(estimate - real) <= TOLERANCE * real}
        del net
        gc.collect()
        log(f"  memory {name}: {time.perf_counter() - start:.1f} s")
    misses = [key for key, r in rows.items() if not r["within"]]
    worst = max(rows.values(), key=lambda r: abs(r["ratio"] - 1))
    return {"cases": rows, "tolerance": TOLERANCE, "targets": [{
        "section": "memory",
        "target": f"saved-tensor estimate within {TOLERANCE:.0%} of autograd for "
                  f"{'every zoo model' if models is None else ', '.join(names)} at batch "
                  f"{' and '.join(map(str, batches))}",
        "measured": f"{len(rows) - len(misses)}/{len(rows)} within; worst "
                    f"{worst['model']} batch {worst['batch']}: x{worst['ratio']:.3f}",
        "met": not misses}]}


def markdown(result: dict) -> str:
    rows = [[r["model"], r["batch"], f"{r['estimate_bytes'] / 2**20:,.1f}",
             f"{r['real_bytes'] / 2**20:,.1f}", f"{r['ratio']:.3f}", yes(r["within"])]
            for r in result["cases"].values()]
    return ("Training mode, one forward pass; MiB of tensors kept for backward (parameters and "
            "buffers excluded, each storage once). Ratio is estimate over measured.\n\n"
            + table(["model", "batch", "estimate MiB", "autograd MiB", "ratio",
                     f"within {result['tolerance']:.0%}"], rows) + "\n")
