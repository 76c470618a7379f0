"""Parse + check + count of a 150-layer spec: milliseconds (issue 2's target).

    python benchmarks/load_150.py [--runs 50]

Prints the median time of `archdsl.load` (parse, elaborate, shape inference, counting) for a
150-layer chain and for the zoo's ResNet-152: with archdsl's in-process caches cleared before
each call and its cache of parsed ASTs on disk off (ARCHDSL_NO_CACHE=1: every load parses, what
the first command to read a text pays), with the in-process caches cleared but the ASTs read
from the disk cache (what every later command pays), and with everything warm (a program that
reloads a spec). The Lark parser's tables are loaded once per process (cached on disk).
"""

import argparse
import os
import statistics
import time

import archdsl

CHAIN = "-".join(["Conv(32, 3, p=1)-ReLU"] * 75)  # 150 layers


def median_ms(fn, runs: int, cold: bool) -> float:
    fn()
    times = []
    for _ in range(runs):
        if cold:
            archdsl.clear_caches()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    n152 = len(archdsl.load("resnet152").layers())
    for kind, cold, disk in [("parse included", True, False), ("AST from disk", True, True),
                             ("parsed text cached", False, True)]:
        os.environ["ARCHDSL_NO_CACHE"] = "0" if disk else "1"
        chain = median_ms(lambda: archdsl.load(CHAIN, input="3x32x32"), args.runs, cold)
        r152 = median_ms(lambda: archdsl.load("resnet152"), max(5, args.runs // 5), cold)
        print(f"{kind:20}  150-layer chain {chain:6.2f} ms ({chain / 150 * 1e3:3.0f} us/layer)"
              f"   resnet152 ({n152} layers) {r152:6.2f} ms ({r152 / n152 * 1e3:3.0f} us/layer)")


if __name__ == "__main__":
    main()
