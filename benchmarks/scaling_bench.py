"""Section 2, scaling: time and peak memory of parse + check + count against model size.

Two synthetic series, loaded with `archdsl.load` and archdsl's parse caches cleared before each
call, its cache of parsed ASTs on disk off (ARCHDSL_NO_CACHE=1), so every load parses:
- written out: `Conv(8, 3, p=1)-ReLU-Conv(8, 3, p=1)-ReLU-...`, 10 to 10,000 layers; the
  10,000-layer text has about 65,000 tokens, over the default `max_tokens` (50,000), so this
  series loads with `Limits(max_tokens=10**6, max_layers=10**6)` passed through the API;
- repeated: `[Conv(8, 3, p=1)-ReLU] x N`, N from 1 to 1,000 (2 to 2,000 layers), default limits.
Input 3x32x32 (the padding keeps the shape). Time is the median of several runs without
tracing, with the part spent in Python's cyclic garbage collector measured beside it
(`gc.callbacks`); peak memory is a separate run under `tracemalloc` (archdsl is pure Python, so
that sees all of its allocations; tracing slows the run, which is why it is kept apart). The
series run in a fresh process that never imports torch, as `archdsl check` does: in the
runner's process, each full collection would also walk torch's few hundred thousand objects.

Linear growth means a constant cost per layer. Per series, the per-layer cost at the largest
size is compared with the cost at a tenth of it: a ratio of 1.0 is exactly linear, and the
growth exponent is 1 + log10(ratio). The series counts as linear when both ratios (time and
memory) are at most 1.25 (exponent <= 1.1): a fixed threshold chosen before measuring.
"""

from __future__ import annotations

import gc
import json
import math
import os
import statistics
import subprocess
import sys
import time
import tracemalloc

from timing import Log, clear_parse_caches, log_stderr, table, yes

LINEAR = 1.25  # largest per-layer cost ratio over a tenfold size step still called linear
INPUT = "3x32x32"
PAIR = "Conv(8, 3, p=1)-ReLU"
FULL = {"sizes": (10, 100, 1000, 10_000), "repeats": (1, 10, 100, 1000), "runs": 7}
QUICK = {"sizes": (10, 100, 1000), "repeats": (1, 10, 100), "runs": 3}


def written_out(layers: int) -> str:
    return "-".join([PAIR] * (layers // 2))


def repeated(count: int) -> str:
    return f"[{PAIR}] x {count}"


def measure(text: str, runs: int, limits) -> dict:
    import archdsl

    def load():
        clear_parse_caches()
        return archdsl.load(text, input=INPUT, limits=limits)

    layers = len(load().layers())  # also the warm-up
    times, in_gc = [], []
    spent = [0.0, 0.0]  # seconds in collections; start of the current one

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            spent[1] = time.perf_counter()
        else:
            spent[0] += time.perf_counter() - spent[1]

    gc.callbacks.append(on_gc)
    try:
        for _ in range(runs):
            gc.collect()
            spent[0] = 0.0
            start = time.perf_counter()
            load()
            times.append(time.perf_counter() - start)
            in_gc.append(spent[0])
    finally:
        gc.callbacks.remove(on_gc)
    gc.collect()
    clear_parse_caches()
    tracemalloc.start()
    try:
        archdsl.load(text, input=INPUT, limits=limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    median = statistics.median(times)
    return {"layers": layers, "chars": len(text), "median_ms": median * 1e3,
            "us_per_layer": median / layers * 1e6,
            "gc_us_per_layer": statistics.median(in_gc) / layers * 1e6, "peak_bytes": peak,
            "peak_bytes_per_layer": peak / layers}


def growth(points: list[dict]) -> dict:
    """Per-layer cost at the largest size over that at a tenth of it (or the nearest below)."""
    last = points[-1]
    base = min(points[:-1], key=lambda p: abs(math.log10(last["layers"] / p["layers"]) - 1))
    t = last["us_per_layer"] / base["us_per_layer"]
    m = last["peak_bytes_per_layer"] / base["peak_bytes_per_layer"]
    steps = math.log10(last["layers"] / base["layers"])
    without_gc = ((last["us_per_layer"] - last["gc_us_per_layer"])
                  / (base["us_per_layer"] - base["gc_us_per_layer"]))
    return {"from_layers": base["layers"], "to_layers": last["layers"], "time_ratio": t,
            "time_ratio_without_gc": without_gc,
            "memory_ratio": m, "time_exponent": 1 + math.log10(t) / steps,
            "memory_exponent": 1 + math.log10(m) / steps, "linear": t <= LINEAR and m <= LINEAR}


def measure_series(sizes, repeats, runs: int, log: Log) -> dict:
    import archdsl

    raised = archdsl.Limits(max_tokens=10**6, max_layers=10**6)
    archdsl.load("lenet5")  # the Lark grammar and op schemas, built once per process
    series = {"written out": [], "repeated": []}
    for n in sizes:
        log(f"  scaling: {n:,} layers written out")
        series["written out"].append({"n": n, **measure(written_out(n), runs, raised)})
    for n in repeats:
        log(f"  scaling: [{PAIR}] x {n}")
        series["repeated"].append({"n": n, **measure(repeated(n), runs, None)})
    return {"series": series, "torch_imported": "torch" in sys.modules}


def run(sizes=FULL["sizes"], repeats=FULL["repeats"], runs: int = FULL["runs"],
        log: Log = log_stderr) -> dict:
    settings = json.dumps({"sizes": list(sizes), "repeats": list(repeats), "runs": runs})
    child = subprocess.run([sys.executable, __file__, settings], stdout=subprocess.PIPE,
                           text=True, check=True, timeout=1800)  # progress: stderr passes on
    measured = json.loads(child.stdout)
    series = measured["series"]
    result = {"series": series, "runs": runs, "torch_imported": measured["torch_imported"],
              "limits": {"written out": "max_tokens=10**6, max_layers=10**6",
                         "repeated": "defaults"},
              "growth": {name: growth(points) for name, points in series.items()}}
    result["targets"] = [
        {"section": "scaling", "target": f"{name}: linear growth (per-layer time and peak "
                                         f"memory ratio <= {LINEAR} over 10x layers)",
         "measured": f"{g['from_layers']:,} -> {g['to_layers']:,} layers: time x"
                     f"{g['time_ratio']:.2f}, memory x{g['memory_ratio']:.2f} per layer",
         "met": g["linear"]} for name, g in result["growth"].items()]
    return result


def markdown(result: dict) -> str:
    rows = []
    for name, points in result["series"].items():
        for p in points:
            label = f"{p['n']:,} layers" if name == "written out" else f"x {p['n']:,}"
            rows.append([f"{name}: {label}", f"{p['layers']:,}", f"{p['chars']:,}",
                         f"{p['median_ms']:,.1f}", f"{p['us_per_layer']:.0f}",
                         f"{p['gc_us_per_layer']:.0f}",
                         f"{p['peak_bytes'] / 2**20:,.2f}",
                         f"{p['peak_bytes_per_layer'] / 1024:.1f}"])
    sizes = table(["spec", "layers", "characters", "ms", "us / layer", "GC us / layer",
                   "peak MiB", "peak KiB / layer"], rows)
    growths = {name: growth(points) for name, points in result["series"].items()}
    growth_rows = [[name, f"{g['from_layers']:,} -> {g['to_layers']:,}",
                    f"x{g['time_ratio']:.2f} (exponent {g['time_exponent']:.2f})",
                    f"x{g['time_ratio_without_gc']:.2f}",
                    f"x{g['memory_ratio']:.2f} (exponent {g['memory_exponent']:.2f})",
                    yes(g["linear"])] for name, g in growths.items()]
    growth_table = table(["series", "layers", "per-layer time", "per-layer time less GC",
                          "per-layer peak memory", "linear"], growth_rows)
    return (f"`{PAIR}` pairs on a {INPUT} input, parse caches cleared before each load (the "
            "cache of parsed ASTs on disk off: every load parses), in a process without torch; time the median of {result['runs']} runs (\"GC\": the "
            "part in Python's cyclic garbage collector), peak memory from `tracemalloc` in a "
            "separate run. The written-out series raises `max_tokens` through the API "
            f"(`{result['limits']['written out']}`; the 10,000-layer text has about 65,000 "
            "tokens); the repeated one uses the default limits.\n\n"
            f"{sizes}\n\nGrowth (per-layer cost at the largest size over that at a tenth of it; "
            f"linear if both ratios <= {LINEAR}; judged on the whole time, the time less the "
            f"garbage collector's shown beside it):\n\n{growth_table}\n")


if __name__ == "__main__":  # the child process of `run`: settings as JSON, results to stdout
    os.environ["ARCHDSL_NO_CACHE"] = "1"  # every load parses (the Lark parser's own tables stay)
    print(json.dumps(measure_series(**json.loads(sys.argv[1]), log=log_stderr)))
