"""Timing and memory helpers shared by the benchmark sections run by `benchmarks/run.py`.

Methodology, in one place:
- every measured call is preceded by warm-up calls that are thrown away (first calls allocate,
  pick kernels, fill caches);
- figures are medians of several runs (with the minimum beside them), never means;
- competitors are timed *interleaved*: each round runs every contender once, the order rotating
  by one place each round (so with n contenders each takes every place equally often over n
  rounds), so machine load, drift and any effect of a place in the round hit all of them alike;
  ratios are given both as the ratio of the medians and as the median of the per-round ratios;
- work that is not part of what is measured (clearing caches, zeroing gradients) runs in a
  `prepare` hook outside the timed region.
"""

from __future__ import annotations

import gc
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1] / "tests"  # tv_shim: torchvision with CPU torch

Log = Callable[[str], None]


def log_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def interleaved(calls: dict[str, Callable[[], Any]], rounds: int, warmup: int = 1,
                prepare: dict[str, Callable[[], Any]] | None = None) -> dict[str, list[float]]:
    """Seconds of each call, `rounds` samples each, the order of the contenders rotating by one
    place each round. Python's cyclic garbage collector runs before each call, off the clock, so no contender pays
    for collecting what the one before it left (each still pays for its own collections)."""
    times: dict[str, list[float]] = {key: [] for key in calls}
    keys = list(calls)
    prepare = prepare or {}
    for r in range(warmup + rounds):
        shift = r % len(keys)
        for key in keys[shift:] + keys[:shift]:
            if key in prepare:
                prepare[key]()
            gc.collect()
            start = time.perf_counter()
            calls[key]()
            elapsed = time.perf_counter() - start
            if r >= warmup:
                times[key].append(elapsed)
    return times


def stats(samples: list[float]) -> dict[str, float]:
    """Median and minimum of samples in seconds, as milliseconds."""
    return {"median_ms": statistics.median(samples) * 1e3, "min_ms": min(samples) * 1e3,
            "runs": len(samples)}


def ratio(a: list[float], b: list[float]) -> dict[str, float]:
    """a relative to b: the ratio of the medians and the median of the paired per-round ratios."""
    return {"of_medians": statistics.median(a) / statistics.median(b),
            "paired": statistics.median(x / y for x, y in zip(a, b, strict=True))}


def rss_bytes() -> int:
    """Resident memory of this process now (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def clear_parse_caches() -> None:
    """Forget archdsl's parsed files and texts and everything else it learned from specs, so
    the next load parses again (what a new command pays)."""
    import archdsl

    archdsl.clear_caches()


def torchvision():
    """torchvision, importable here although the registry's build expects CUDA ops."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    importlib.import_module("tv_shim")  # torchvision's op schemas, before torchvision
    return importlib.import_module("torchvision")


def fmt_ms(ms: float) -> str:
    return f"{ms:,.1f}" if ms >= 10 else f"{ms:.2f}"


def yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def table(header: list[str], rows: list[list[Any]], text: bool = False) -> str:
    """A Markdown table, the first column left-aligned and the figures right-aligned (all
    left-aligned for a table of `text`)."""
    align = ["---"] + ["---" if text else "---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines)
