"""Start-up of the commands that never import torch: wall time and where it goes.

Run from the repository root:

    python benchmarks/startup_bench.py [--runs 15] [--json OUT] [--baseline DIR]

1. Wall time of cold commands (a new process each run; best and median of `--runs`, the
   commands interleaved so machine load hits them alike), with a poisoned `torch` on
   PYTHONPATH so any import of it fails the run. The specs' ASTs come from archdsl's cache on
   disk (warmed first, as for every command after the first to read a spec); the "no AST cache"
   command parses (ARCHDSL_NO_CACHE=1: Lark imported, its tables loaded from the disk cache).
   `--baseline DIR` adds the same commands run from another source tree of archdsl (e.g. an
   older commit: `git archive REV | tar -x -C DIR`) on PYTHONPATH with this environment,
   interleaved with these: the before/after comparison in one run. Two bytecode situations:
   - "no .pyc": PYTHONDONTWRITEBYTECODE=1, every archdsl module compiled from source on each
     start (an editable install in an environment that sets it, as the development sandbox does);
   - ".pyc": a warmed bytecode cache (PYTHONPYCACHEPREFIX), which a pip-installed wheel has.
2. The import-time breakdown of `archdsl check specs/lenet5.arch` (`python -X importtime`),
   self time summed by package group, the slowest archdsl modules, and the heavy packages that
   must stay out of it (torch, networkx, yaml, numpy).
3. In one fresh process, the stages of the check: imports, parse (the AST from the disk
   cache), elaborate, shapes, counting (the first validation of each op's pydantic schema
   included); then what a parse costs without the AST cache: Lark's import and tables, a parse.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCHDSL = Path(sys.executable).with_name("archdsl")
HEAVY = ("torch", "networkx", "yaml", "numpy")
GROUPS = {"pydantic": ("pydantic", "pydantic_core", "annotated_types", "typing_inspection",
                       "typing_extensions"), "lark": ("lark",), "archdsl": ("archdsl",),
          "rich": ("rich",), "torch": ("torch",), "networkx": ("networkx",), "yaml": ("yaml",)}
COMMANDS = {
    "python -c pass (floor)": [sys.executable, "-c", "pass"],
    "check lenet5.arch": [str(ARCHDSL), "check", "specs/lenet5.arch"],
    "summary lenet5.arch": [str(ARCHDSL), "summary", "specs/lenet5.arch"],
    "check 'Conv-ReLU-Pool-FC-SM'": [str(ARCHDSL), "check", "Conv-ReLU-Pool-FC-SM",
                                     "--input", "1x28x28", "--classes", "10"],
    "check resnet50": [str(ARCHDSL), "check", "resnet50"],
    "compile lenet5 (py)": [str(ARCHDSL), "compile", "specs/lenet5.arch"],
    "check lenet5.arch, no AST cache": [str(ARCHDSL), "check", "specs/lenet5.arch"],
}
EXTRA_ENV = {"check lenet5.arch, no AST cache": {"ARCHDSL_NO_CACHE": "1"}}

STAGES = r"""
import time
t = [time.perf_counter()]
def lap():
    t.append(time.perf_counter())
    return (t[-1] - t[-2]) * 1e3
out = {}
import archdsl.cli.main
out["import CLI"] = lap()
from archdsl.elaborate import elaborate
from archdsl.limits import DEFAULT_LIMITS
from archdsl.loader import read_spec
from archdsl.passes.count import count
from archdsl.passes.shapes import infer_shapes
out["import pipeline"] = lap()
loaded = read_spec("specs/lenet5.arch", DEFAULT_LIMITS, None)
out["parse (AST cache)"] = lap()
ir = elaborate(loaded, None, {}, DEFAULT_LIMITS)
out["elaborate"] = lap()
infer_shapes(ir, DEFAULT_LIMITS)
out["shapes"] = lap()
count(ir, DEFAULT_LIMITS)
out["count"] = lap()
from archdsl.syntax import parser
parser._lark()
out["without it: Lark import and tables (disk cache)"] = lap()
parser._parse(loaded.program.file)
out["without it: parse"] = lap()
import json, sys
print(json.dumps(out))
"""


def environments(poison: str, pyc_dir: str, baseline: str | None = None) -> dict:
    path = poison if baseline is None else os.pathsep.join([baseline, poison])
    base = {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1"}
    no_pyc = {**base, "PYTHONDONTWRITEBYTECODE": "1"}
    no_pyc.pop("PYTHONPYCACHEPREFIX", None)
    pyc = {**base, "PYTHONPYCACHEPREFIX": pyc_dir}
    pyc.pop("PYTHONDONTWRITEBYTECODE", None)
    return {"no .pyc": no_pyc, ".pyc": pyc}


def baseline_tree(folder: str) -> str:
    """A source tree to import archdsl from; its grammar goes where its package looks for it
    (an editable install would otherwise serve this tree's `archdsl.grammars`)."""
    tree = Path(folder).resolve()
    if not (tree / "archdsl" / "__init__.py").is_file():
        raise SystemExit(f"--baseline {folder}: no archdsl package there")
    grammars = tree / "archdsl" / "grammars"
    if not grammars.is_dir() and (tree / "grammars").is_dir():
        shutil.copytree(tree / "grammars", grammars)
    return str(tree)


def wall_times(envs, runs: int) -> dict:
    for env in envs.values():  # warm the OS file cache, archdsl's caches, the .pyc cache
        for c, cmd in COMMANDS.items():
            subprocess.run(cmd, env={**env, **EXTRA_ENV.get(c, {})}, cwd=ROOT,
                           capture_output=True, check=True)
    times = {(e, c): [] for e in envs for c in COMMANDS}
    for _ in range(runs):
        for e, env in envs.items():
            for c, cmd in COMMANDS.items():
                start = time.perf_counter()
                proc = subprocess.run(cmd, env={**env, **EXTRA_ENV.get(c, {})}, cwd=ROOT,
                                      capture_output=True, text=True)
                times[e, c].append(time.perf_counter() - start)
                if proc.returncode != 0:
                    raise SystemExit(f"{c} failed ({e}): {proc.stderr.strip()[-300:]}")
    return {f"{c} [{e}]": {"best_ms": min(v) * 1e3, "median_ms": statistics.median(v) * 1e3}
            for (e, c), v in times.items()}


def import_breakdown(env, tree: Path = ROOT) -> dict:
    # run in the tree measured: `python -m` puts the working directory first on sys.path
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "archdsl", "check",
                           "specs/lenet5.arch"], env=env, cwd=tree, capture_output=True,
                          text=True, check=True)
    rows = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), m.group(4)))
    groups: dict[str, float] = {}
    for self_us, _, name in rows:
        top = name.split(".")[0]
        group = next((g for g, tops in GROUPS.items() if top in tops), "stdlib and others")
        groups[group] = groups.get(group, 0.0) + self_us / 1e3
    own = sorted(((s / 1e3, n) for s, _, n in rows if n.startswith("archdsl")), reverse=True)
    present = sorted({n.split(".")[0] for _, _, n in rows} & set(HEAVY))
    return {"groups_ms": dict(sorted(groups.items(), key=lambda kv: -kv[1])),
            "total_ms": sum(groups.values()), "slowest_archdsl_ms": dict(
                (n, round(s, 1)) for s, n in own[:10]), "heavy_imported": present}


def stages(env) -> dict:
    runs = [json.loads(subprocess.run([sys.executable, "-c", STAGES], env=env, cwd=ROOT,
                                      capture_output=True, text=True, check=True).stdout)
            for _ in range(5)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    parser.add_argument("--baseline", metavar="DIR", help="a source tree of another archdsl "
                        "commit: its commands run interleaved with these")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as poison, tempfile.TemporaryDirectory() as pyc_dir, \
            tempfile.TemporaryDirectory() as old_pyc:
        os.makedirs(os.path.join(poison, "torch"))
        Path(poison, "torch", "__init__.py").write_text(
            "raise ImportError('this command must not import torch')\n")
        envs = environments(poison, pyc_dir)
        trees = dict.fromkeys(envs, ROOT)
        if args.baseline:
            old = baseline_tree(args.baseline)
            for e, env in environments(poison, old_pyc, old).items():
                envs[f"baseline, {e}"], trees[f"baseline, {e}"] = env, Path(old)
        results = {"wall": wall_times(envs, args.runs),
                   "imports": {e: import_breakdown(env, trees[e]) for e, env in envs.items()},
                   "stages_ms": {e: stages(env) for e, env in envs.items()
                                 if not e.startswith("baseline")}}
    torch_start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    results["import torch (what build/export pay), ms"] = (time.perf_counter() - torch_start) * 1e3
    results["machine"] = f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"

    print(f"cold commands, {args.runs} interleaved runs ({results['machine']}):")
    for name, r in results["wall"].items():
        print(f"  {name:60} best {r['best_ms']:6.0f} ms   median {r['median_ms']:6.0f} ms")
    for e, imp in results["imports"].items():
        print(f"import time of `archdsl check specs/lenet5.arch` [{e}]: "
              f"{imp['total_ms']:.0f} ms in all (python -X importtime, self times)")
        for group, ms in imp["groups_ms"].items():
            print(f"  {group:20} {ms:6.1f} ms")
        print("  slowest archdsl modules: " + ", ".join(
            f"{n} {ms}" for n, ms in imp["slowest_archdsl_ms"].items()))
        print(f"  heavy packages imported: {', '.join(imp['heavy_imported']) or 'none'}")
    for e, st in results["stages_ms"].items():
        print(f"stages in one process [{e}], median of 5: " + ", ".join(
            f"{k} {v:.1f}" for k, v in st.items()) + " (ms)")
    print(f"for comparison, `import torch` alone: "
          f"{results['import torch (what build/export pay), ms']:.0f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
