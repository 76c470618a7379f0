"""The benchmarks of issue 5, side by side in one run on one machine, reported as ratios.

Run from the repository root (needs the `bench` extra: `pip install -e ".[bench]"`):

    python benchmarks/run.py              # everything, ~10-20 minutes on 2 cores
    python benchmarks/run.py --quick      # a smoke run in about a minute
    python benchmarks/run.py --only runtime --only build

Sections (each its own module, with its method in its docstring):
1. analysis  (analysis_bench.py): parse + check + count vs torchinfo and fvcore;
2. scaling   (scaling_bench.py):  time and peak memory from 10 to 10,000 layers;
3. runtime   (runtime_bench.py):  forward and forward+backward vs torchvision;
4. build     (build_bench.py):    construction vs torchvision; a 1.46B model on "meta";
5. memory    (memory_bench.py):   saved-tensor estimate vs autograd, every zoo model;
6. import    (import_bench.py):   a torchvision model to a checked spec vs torchinfo's summary.

Writes `benchmarks/results/latest.json` (everything measured) and `latest.md` (Markdown
tables with the machine they ran on) for a full run of every section; a `--quick` run writes
`quick.*` and an `--only` run `partial.*` (both ignored by git) unless `--name` says otherwise.
`--render results/latest.json` rewrites the Markdown from the JSON without measuring.
Progress goes to stderr. Targets are reported as met or not, never tuned to pass. Timing
figures are only comparable within one run: the machine's load (shown) moves them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import time
import traceback
from importlib import metadata
from pathlib import Path

import analysis_bench
import build_bench
import import_bench
import memory_bench
import runtime_bench
import scaling_bench
from timing import log_stderr, table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SECTIONS = {"analysis": analysis_bench, "scaling": scaling_bench, "runtime": runtime_bench,
            "build": build_bench, "memory": memory_bench, "import": import_bench}
TITLES = {"analysis": "1. Analysis: archdsl vs torchinfo and fvcore",
          "scaling": "2. Scaling: parse + check + count from 10 to 10,000 layers",
          "runtime": "3. Runtime: compiled modules vs torchvision (CPU)",
          "build": "4. Build: construction, and a billion parameters on the meta device",
          "memory": "5. Memory: saved-tensor estimate vs autograd",
          "import": "6. Import: a torchvision model to a spec vs torchinfo's summary"}
PACKAGES = ("torch", "torchvision", "torchinfo", "fvcore", "lark", "pydantic", "networkx")


def read_first(path: str, key: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip() if ":" in line else \
                        line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "unknown"


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine(threads: int) -> dict:
    mem_kb = read_first("/proc/meminfo", "MemTotal").split()[0]
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {
        "cpu": read_first("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "ram_gib": round(int(mem_kb) / 2**20, 1) if mem_kb.isdigit() else None,
        "os": f"{read_first('/etc/os-release', 'PRETTY_NAME=')} ({platform.platform()})",
        "python": platform.python_version(),
        "packages": versions,
        "torch_threads": threads,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git("rev-parse", "--short", "HEAD") + (" (uncommitted changes)" if dirty
                                                          else ""),
        "load_average_start": os.getloadavg(),
    }


def markdown(report: dict) -> str:
    m = report["machine"]
    pkgs = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    lines = [f"# archdsl benchmarks{' (quick run)' if report['quick'] else ''}", "",
             "Written by `python benchmarks/run.py"
             f"{' --quick' if report['quick'] else ''}` (issue 5); "
             "all figures from one run on one machine.", "",
             table(["machine", ""], [
                 ["CPU", f"{m['cpu']}, {m['cores']} cores"], ["RAM", f"{m['ram_gib']} GiB"],
                 ["OS", m["os"]], ["Python", m["python"]], ["packages", pkgs],
                 ["torch threads", m["torch_threads"]], ["date", m["date"]],
                 ["commit", m["commit"]],
                 ["load average (1, 5, 15 min)",
                  f"{' '.join(f'{v:.2f}' for v in m['load_average_start'])} at the start, "
                  f"{' '.join(f'{v:.2f}' for v in report['load_average_end'])} at the end"],
                 ["wall time", f"{report['wall_s'] / 60:.1f} min"]], text=True), "",
             "## Targets", "",
             table(["section", "target", "measured", "met"],
                   [[t["section"], t["target"], t["measured"],
                     "yes" if t["met"] else "**no**"] for t in report["targets"]], text=True),
             ""]
    for name, result in report["sections"].items():
        lines += [f"## {TITLES[name]}", ""]
        if "error" in result:
            lines += [f"Failed: `{result['error']}`", ""]
        else:
            lines += [SECTIONS[name].markdown(result)]
    return "\n".join(lines).rstrip() + "\n"


def write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


BENCH_EXTRA = ("torchvision", "torchinfo", "fvcore")  # pyproject.toml's `bench` extra


def require_extra(modules=BENCH_EXTRA) -> None:
    """Stop before measuring anything when a reference implementation is missing, naming the
    extra that brings it (exit 3, as archdsl's own "missing tool" errors)."""
    import importlib.util
    import sys

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        sys.stderr.write(f"benchmarks/run.py needs the bench extra (missing: "
                         f"{', '.join(missing)}): pip install -e \".[bench]\"\n")
        raise SystemExit(3)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few models, sizes and rounds")
    parser.add_argument("--only", action="append", choices=list(SECTIONS), metavar="SECTION",
                        help=f"run just this section (repeatable): {', '.join(SECTIONS)}")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on a shared machine more threads make "
                             "OpenMP's spinning workers erratic, several times slower)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the results")
    parser.add_argument("--name", help="file stem (default latest, quick or partial)")
    parser.add_argument("--render", type=Path, metavar="JSON",
                        help="measure nothing: rewrite the .md beside a results .json")
    args = parser.parse_args(argv)
    if args.render:
        report = json.loads(args.render.read_text(encoding="utf-8"))
        write(args.render.with_suffix(".md"), markdown(report))
        return report
    require_extra()
    import torch

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    report: dict = {"quick": args.quick, "machine": machine(torch.get_num_threads()),
                    "sections": {}, "targets": []}
    try:
        for name in args.only or SECTIONS:
            module = SECTIONS[name]
            log_stderr(f"[{time.perf_counter() - start:5.0f} s] {name}")
            try:
                result = module.run(**(module.QUICK if args.quick else module.FULL))
            except Exception as error:  # one failing section must not lose the others
                traceback.print_exc()
                result = {"error": f"{type(error).__name__}: {error}", "targets": [
                    {"section": name, "target": "section ran", "measured": str(error)[:200],
                     "met": False}]}
            report["sections"][name] = result
            report["targets"] += result["targets"]
            for t in result["targets"]:
                log_stderr(f"    {'met    ' if t['met'] else 'NOT MET'}  {t['target']}: "
                           f"{t['measured']}")
    finally:
        torch.set_num_threads(previous_threads)
    report["wall_s"] = time.perf_counter() - start
    report["load_average_end"] = os.getloadavg()
    stem = args.name or ("quick" if args.quick else "partial" if args.only else "latest")
    args.out.mkdir(parents=True, exist_ok=True)
    write(args.out / f"{stem}.json", json.dumps(report, indent=2) + "\n")
    write(args.out / f"{stem}.md", markdown(report))
    met = sum(bool(t["met"]) for t in report["targets"])
    log_stderr(f"[{report['wall_s']:5.0f} s] {met}/{len(report['targets'])} targets met; "
               f"wrote {args.out / stem}.json and .md")
    return report


if __name__ == "__main__":
    import sys

    failed = [name for name, result in main()["sections"].items() if "error" in result]
    if failed:  # a section that could not run is a failure, not a result
        log_stderr(f"sections that failed: {', '.join(failed)}")
    sys.exit(1 if failed else 0)
