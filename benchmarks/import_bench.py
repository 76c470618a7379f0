"""Section 6, import: a torchvision model to a checked spec (`archdsl.from_torch`, issue 18)
against torchinfo's `summary` of the same model.

Both read an already-built torchvision module (`weights=None`, eval mode) and run it once on a
3x224x224 sample: torchinfo to record each layer, archdsl's importer to measure shapes while
torch.fx reads each module's forward; archdsl then writes the spec and parses, checks and
counts it (its parse caches cleared before each round, outside the clock, so each round pays
what a new `archdsl import` pays after torch is imported). Interleaved rounds; medians.

Target (issue 18): importing takes at most torchinfo's time + 1 s on each model, with the same
parameter count and no layer left opaque.
"""

from __future__ import annotations

from timing import (
    Log,
    clear_parse_caches,
    fmt_ms,
    interleaved,
    log_stderr,
    ratio,
    stats,
    table,
    yes,
)
from timing import torchvision as import_torchvision

ALLOWANCE_S = 1.0  # the target: import <= torchinfo + this
FULL = {"models": ("resnet50",), "rounds": 5}
QUICK = {"models": ("resnet50",), "rounds": 1}


def measure(name: str, rounds: int, log: Log) -> dict:
    import torch
    import torchinfo

    import archdsl

    tv = getattr(import_torchvision().models, name)(weights=None).eval()
    found: dict = {}

    def run_import() -> None:
        found["archdsl"] = archdsl.from_torch(tv, input="3x224x224")

    def run_torchinfo() -> None:
        found["torchinfo"] = torchinfo.summary(tv, input_size=(1, 3, 224, 224), verbose=0,
                                               device="cpu")

    log(f"  import {name}: {rounds} interleaved rounds")
    with torch.no_grad():
        times = interleaved({"archdsl.from_torch": run_import, "torchinfo": run_torchinfo},
                            rounds, prepare={"archdsl.from_torch": clear_parse_caches})
    model, info = found["archdsl"], found["torchinfo"]
    medians = {key: stats(v) for key, v in times.items()}
    over_s = (medians["archdsl.from_torch"]["median_ms"]
              - medians["torchinfo"]["median_ms"]) / 1e3
    return {"times": medians, "ratio": ratio(times["archdsl.from_torch"], times["torchinfo"]),
            "over_torchinfo_s": over_s,
            "params": {"archdsl": model.totals.params, "torchinfo": info.total_params,
                       "torch": sum(p.numel() for p in tv.parameters())},
            "opaque": [o.name for o in model.opaque], "spec_lines": model.spec_text.count("\n")}


def run(models=FULL["models"], rounds: int = FULL["rounds"], log: Log = log_stderr) -> dict:
    import archdsl

    archdsl.load("lenet5")  # the Lark grammar and op schemas, built once per process
    result = {"models": {name: measure(name, rounds, log) for name in models},
              "rounds": rounds, "allowance_s": ALLOWANCE_S}
    for name, r in result["models"].items():
        same = r["params"]["archdsl"] == r["params"]["torchinfo"] == r["params"]["torch"]
        r["params_identical"] = same
        t = r["times"]
        result.setdefault("targets", []).append({
            "section": "import",
            "target": f"importing {name} takes at most torchinfo's summary + {ALLOWANCE_S:g} s, "
                      "same parameters, nothing opaque",
            "measured": f"{fmt_ms(t['archdsl.from_torch']['median_ms'])} ms vs "
                        f"{fmt_ms(t['torchinfo']['median_ms'])} ms "
                        f"({r['ratio']['of_medians']:.2f}x, {r['over_torchinfo_s']:+.2f} s); "
                        f"parameters {'identical' if same else 'DIFFER'}; "
                        f"{len(r['opaque'])} opaque",
            "met": r["over_torchinfo_s"] <= ALLOWANCE_S and same and not r["opaque"]})
    return result


def markdown(result: dict) -> str:
    rows = []
    for name, r in result["models"].items():
        t = r["times"]
        rows.append([name, fmt_ms(t["archdsl.from_torch"]["median_ms"]),
                     fmt_ms(t["torchinfo"]["median_ms"]), f"{r['ratio']['of_medians']:.2f}",
                     f"{r['over_torchinfo_s']:+.2f}", f"{r['params']['archdsl']:,}",
                     yes(r["params_identical"]), len(r["opaque"]), r["spec_lines"]])
    return (f"Medians of {result['rounds']} interleaved rounds, one 3x224x224 sample each "
            f"(ratio: archdsl over torchinfo; the target allows torchinfo + "
            f"{result['allowance_s']:g} s):\n\n"
            + table(["model", "archdsl.from_torch ms", "torchinfo.summary ms", "ratio",
                     "difference s", "parameters", "identical", "opaque layers",
                     "spec lines"], rows) + "\n")



if __name__ == "__main__":  # this section alone: python benchmarks/import_bench.py [--quick]
    import sys

    report = run(**(QUICK if "--quick" in sys.argv else FULL))
    print(markdown(report))
    for target in report["targets"]:
        print(f"{'met' if target['met'] else 'NOT MET'}: {target['target']}: "
              f"{target['measured']}")
