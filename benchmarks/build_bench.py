"""Section 4, build: module construction against torchvision's, and a billion-parameter model
on the meta device.

1. Construction time, interleaved rounds of: torchvision's constructor (`weights=None`, its
   own initialisation); archdsl's `Model.build()` of an already loaded spec (source generation,
   the class from the cached generated module, initialisation under the spec's seed); and
   `archdsl.build(name)` from nothing (parse caches cleared: parse, check, count, build).
2. A wide VGG-like spec of about 1.46 billion parameters (5.8 GB of float32 weights), within
   the default limits (`max_params` is 10**12), built with `device="meta"`: the time, the
   parameters on the meta device, and the growth of the process's resident memory, which must
   stay under 1% of the weights' bytes (no weight memory allocated).
"""

from __future__ import annotations

import gc
import statistics
import time

from timing import (
    Log,
    clear_parse_caches,
    fmt_ms,
    interleaved,
    log_stderr,
    ratio,
    rss_bytes,
    stats,
    table,
    yes,
)
from timing import torchvision as import_torchvision

HUGE = ("[Conv(128, 3, p=1) - ReLU] x 2 - MPool - [Conv(256, 3, p=1) - ReLU] x 2 - MPool - "
        "[Conv(512, 3, p=1) - ReLU] x 3 - MPool - [Conv(2048, 3, p=1) - ReLU] x 3 - MPool - "
        "[Conv(8192, 3, p=1) - ReLU] x 3 - GAP - FC")
HUGE_SETTINGS = {"input": "3x224x224", "classes": 1000}
RSS_SHARE = 0.01  # resident growth allowed, as a share of the weights' bytes
FULL = {"models": ("resnet50", "densenet121"), "rounds": 7}
QUICK = {"models": ("resnet50",), "rounds": 2}


def construction(name: str, rounds: int, log: Log) -> dict:
    import archdsl

    tv_models = import_torchvision().models
    model = archdsl.load(name)

    def from_nothing():
        clear_parse_caches()
        archdsl.build(name)

    log(f"  build {name}: {rounds} interleaved rounds")
    times = interleaved({"torchvision": lambda: getattr(tv_models, name)(weights=None),
                         "archdsl Model.build": model.build,
                         "archdsl.build(name)": from_nothing}, rounds)
    return {"times": {key: stats(v) for key, v in times.items()},
            "build_ratio": ratio(times["archdsl Model.build"], times["torchvision"]),
            "from_nothing_ratio": ratio(times["archdsl.build(name)"], times["torchvision"])}


def meta_build(log: Log) -> dict:
    import archdsl
    from archdsl.limits import DEFAULT_LIMITS

    log("  build: the billion-parameter spec on the meta device")
    start = time.perf_counter()
    model = archdsl.load(HUGE, **HUGE_SETTINGS)
    load_s = time.perf_counter() - start
    gc.collect()
    before = rss_bytes()
    start = time.perf_counter()
    net = model.build(device="meta")
    build_s = time.perf_counter() - start
    grown = rss_bytes() - before
    params = sum(p.numel() for p in net.parameters())
    on_meta = all(t.is_meta for t in (*net.parameters(), *net.buffers()))
    del net
    again = []
    for _ in range(3):  # the generated module is cached now: what a second build pays
        start = time.perf_counter()
        model.build(device="meta")
        again.append(time.perf_counter() - start)
    weight_bytes = params * 4
    return {"spec": HUGE, **HUGE_SETTINGS, "params": params, "archdsl_params": model.totals.params,
            "macs": model.totals.macs, "weight_bytes": weight_bytes,
            "default_limits_admit": model.totals.params <= DEFAULT_LIMITS.max_params,
            "load_ms": load_s * 1e3, "first_build_ms": build_s * 1e3,
            "rebuild_median_ms": statistics.median(again) * 1e3, "rss_growth_bytes": grown,
            "all_on_meta": on_meta,
            "no_weight_memory": on_meta and grown < RSS_SHARE * weight_bytes}


def run(models=FULL["models"], rounds: int = FULL["rounds"], log: Log = log_stderr) -> dict:
    import archdsl

    archdsl.load("lenet5")  # the Lark grammar and op schemas, built once per process
    result = {"construction": {name: construction(name, rounds, log) for name in models},
              "rounds": rounds, "meta": meta_build(log)}
    meta = result["meta"]
    result["targets"] = [{
        "section": "build",
        "target": "a model of over a billion parameters builds on the meta device without "
                  "allocating weight memory",
        "measured": f"{meta['params'] / 1e9:.2f}B parameters in {meta['first_build_ms']:,.0f} "
                    f"ms, resident memory +{meta['rss_growth_bytes'] / 2**20:.1f} MiB "
                    f"(weights would be {meta['weight_bytes'] / 2**30:.1f} GiB)",
        "met": meta["params"] > 10**9 and meta["no_weight_memory"]}]
    return result


def markdown(result: dict) -> str:
    rows = []
    for name, r in result["construction"].items():
        t = r["times"]
        rows.append([name, fmt_ms(t["torchvision"]["median_ms"]),
                     fmt_ms(t["archdsl Model.build"]["median_ms"]),
                     f"{r['build_ratio']['of_medians']:.2f}",
                     fmt_ms(t["archdsl.build(name)"]["median_ms"]),
                     f"{r['from_nothing_ratio']['of_medians']:.2f}"])
    m = result["meta"]
    meta = table(["spec", "parameters", "within default limits", "load ms", "meta build ms",
                  "rebuild ms", "all tensors on meta", "resident growth",
                  "float32 weights", "no weight memory"],
                 [["wide VGG-like (below)", f"{m['params']:,}", yes(m["default_limits_admit"]),
                   fmt_ms(m["load_ms"]), fmt_ms(m["first_build_ms"]),
                   fmt_ms(m["rebuild_median_ms"]), yes(m["all_on_meta"]),
                   f"{m['rss_growth_bytes'] / 2**20:.1f} MiB",
                   f"{m['weight_bytes'] / 2**30:.1f} GiB", yes(m["no_weight_memory"])]])
    return (f"Construction, medians of {result['rounds']} interleaved rounds (random "
            "initialisation included; ratios are archdsl over torchvision):\n\n"
            + table(["model", "torchvision ms", "archdsl Model.build ms", "ratio",
                     "archdsl.build(name) ms (parse included)", "ratio"], rows)
            + f"\n\nOn the meta device (`Model.build(device=\"meta\")`), input "
              f"{m['input']}, {m['classes']} classes:\n\n{meta}\n\n"
              f"```\n{m['spec']}\n```\n")
