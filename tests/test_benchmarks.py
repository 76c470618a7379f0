"""The benchmark runner (benchmarks/run.py) works: each section on tiny inputs, and the report
files of a run. No timing assertions: these check what was measured exists and agrees (same
parameter counts, same outputs), never how fast. The sections are imported from benchmarks/,
which pyproject's pytest `pythonpath` puts on the path."""

from __future__ import annotations

import json

import analysis_bench
import build_bench
import import_bench
import memory_bench
import pytest
import run
import runtime_bench
import scaling_bench
import timing

pytestmark = pytest.mark.slow  # the benchmarks' smoke run builds and times real models


def quiet(message: str) -> None:
    pass


def test_interleaved_rounds_give_every_contender_every_place():
    """Over n rounds of n contenders, each runs first, second, ... once: a place in the round
    (after the collector, after a contender that freed much memory) favours nobody."""
    order: list[str] = []
    calls = {key: (lambda key=key: order.append(key)) for key in "abc"}
    times = timing.interleaved(calls, rounds=3, warmup=1)
    assert {key: len(samples) for key, samples in times.items()} == {"a": 3, "b": 3, "c": 3}
    rounds = [order[i:i + 3] for i in range(3, 12, 3)]  # after the warm-up round
    for place in range(3):
        assert sorted(r[place] for r in rounds) == ["a", "b", "c"]


def check_targets(result: dict, section: str) -> None:
    assert result["targets"]
    for target in result["targets"]:
        assert target["section"] == section and isinstance(target["met"], bool)


def test_analysis_counts_agree_with_torchinfo_and_fvcore():
    result = analysis_bench.run(models=("resnet18",), rounds=1, archdsl_runs=1, log=quiet)
    r = result["models"]["resnet18"]
    assert r["params_identical"] and r["params"]["archdsl"] == 11_689_512
    assert r["macs"]["torchinfo"] > 0 and r["macs"]["fvcore"] > 0
    check_targets(result, "analysis")
    assert "| resnet18 |" in analysis_bench.markdown(result)


def test_scaling_series_and_growth():
    result = scaling_bench.run(sizes=(10, 100), repeats=(1, 10), runs=1, log=quiet)
    assert [p["layers"] for p in result["series"]["written out"]] == [10, 100]
    assert [p["layers"] for p in result["series"]["repeated"]] == [2, 20]
    assert all(p["peak_bytes"] > 0 for p in result["series"]["repeated"])
    assert result["growth"]["written out"]["from_layers"] == 10
    check_targets(result, "scaling")
    assert "us / layer" in scaling_bench.markdown(result)


def test_runtime_compares_the_same_weights():
    result = runtime_bench.run(models=("resnet18",), batches=(1,), rounds={1: 1}, warmup=0,
                               size=64, log=quiet)
    case = result["cases"]["resnet18 batch 1"]
    assert case["outputs_match"], case["relative_diff"]
    assert set(case["forward"]) == {"torchvision", "torchvision again", "archdsl",
                                    "archdsl optimized"}
    assert set(case["forward_backward"]) == {"torchvision", "torchvision again", "archdsl"}
    assert set(case["noise_floor"]) == {"forward", "forward_backward"}
    check_targets(result, "runtime")
    assert "resnet18 batch 1" in runtime_bench.markdown(result)


def test_runtime_trains_with_the_same_random_drops():
    # EfficientNet drops at random in training (dropout, stochastic depth): the two training
    # losses agree only when both models draw from the same seed
    result = runtime_bench.run(models=("efficientnet_b0",), batches=(1,), rounds={1: 1},
                               warmup=0, size=64, log=quiet)
    case = result["cases"]["efficientnet_b0 batch 1"]
    assert case["relative_diff"]["archdsl train loss"] <= 1e-5
    assert case["outputs_match"], case["relative_diff"]


def test_build_on_meta_allocates_no_weights():
    result = build_bench.run(models=("resnet18",), rounds=1, log=quiet)
    meta = result["meta"]
    assert meta["params"] == meta["archdsl_params"] > 10**9
    assert meta["all_on_meta"] and meta["default_limits_admit"]
    check_targets(result, "build")
    assert "resnet18" in build_bench.markdown(result)


def test_memory_section_compares_estimate_and_autograd():
    result = memory_bench.run(models=("lenet5",), batches=(1, 2), log=quiet)
    assert [r["batch"] for r in result["cases"].values()] == [1, 2]
    assert all(r["within"] for r in result["cases"].values())
    check_targets(result, "memory")


def test_import_section_compares_with_torchinfo():
    result = import_bench.run(models=("resnet18",), rounds=1, log=quiet)
    r = result["models"]["resnet18"]
    assert r["params_identical"] and r["params"]["archdsl"] == 11_689_512
    assert r["opaque"] == [] and r["times"]["torchinfo"]["median_ms"] > 0
    check_targets(result, "import")
    assert "| resnet18 |" in import_bench.markdown(result)


def test_run_writes_json_and_markdown(tmp_path):
    report = run.main(["--quick", "--only", "scaling", "--out", str(tmp_path)])
    data = json.loads((tmp_path / "quick.json").read_text())
    assert set(data["sections"]) == {"scaling"} and data["machine"]["cores"] >= 1
    assert data["targets"] == report["targets"]
    text = (tmp_path / "quick.md").read_text()
    for part in ("## Targets", "| CPU |", "torch threads", "## 2. Scaling"):
        assert part in text
    (tmp_path / "quick.md").unlink()
    run.main(["--render", str(tmp_path / "quick.json")])  # the Markdown again, from the JSON
    assert (tmp_path / "quick.md").read_text() == text
