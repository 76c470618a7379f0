"""The parser's costs, and the options for keeping it fast (issue 12: one parser, the Lark one).

Run from the repository root:

    python benchmarks/parser_bench.py [--runs 7] [--baseline DIR] [--json OUT]

Each figure is the best of `--runs` (milliseconds), in fresh processes where a start is timed:
1. Getting a parser: importing Lark; building the LALR tables from the grammar; loading them
   from Lark's cache on disk (`cache=`, what archdsl does); importing a parser generated with
   Lark's standalone tool (`python -m lark.tools.standalone`), which carries its tables inside.
   Each with every module compiled from source (PYTHONDONTWRITEBYTECODE=1, as the development
   sandbox runs) and with bytecode caches (as a wheel install has).
2. Parsing: zoo specs, the prelude and written-out chains of 1,000 and 10,000 layers, by
   - Lark building its tree with `propagate_positions` (the previous reference path, without
     turning the tree into the AST);
   - archdsl's parser: the AST built during the parse, spans from tokens (ARCHDSL_NO_CACHE=1);
   - the AST cache: the same AST read back from disk (what a command pays for a text read
     before).
3. With `--baseline DIR` (a source tree of an older commit, e.g. 06d414f, which had a
   hand-written parser in front of Lark): its `parse_text` on the same texts, in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXTS = {"lenet5": "specs/lenet5.arch", "resnet152": "specs/resnet152.arch",
         "googlenet": "specs/googlenet.arch", "prelude": "archdsl/prelude.arch"}
CHAIN = "Conv(8, 3, p=1)-ReLU"

PARSE = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from archdsl.source import SourceFile
from archdsl.syntax import parser
texts, runs, mode = json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def best(f, n):
    out = []
    for _ in range(n):
        start = time.perf_counter(); f(); out.append(time.perf_counter() - start)
    return min(out) * 1e3
if mode == "baseline":
    parse = lambda name, text: parser.parse_text(text, name)  # its fast path
else:
    from archdsl.syntax import cache
    from lark import Lark
    from archdsl.syntax.lexer import LineBreaks
    tree = Lark(parser.grammar_text(), parser="lalr", lexer="contextual", postlex=LineBreaks(),
                propagate_positions=True, maybe_placeholders=False)
    parser._lark()
    parse = {"tree": lambda name, text: tree.parse(text),
             "parser": lambda name, text: parser._parse(SourceFile(name, text)),
             "cache": lambda name, text: parser.parse_source(SourceFile(name, text))}[mode]
out = {}
for name, text in texts.items():
    parse(name, text)  # warm-up (and, for the cache, the entry written)
    out[name] = best(lambda: parse(name, text), 1 if len(text) > 50000 else runs)
print(json.dumps(out))
"""

START = {
    "import lark": "import lark",
    "Lark: build the tables": "from archdsl.syntax import parser\n"
                              "from archdsl.syntax.lexer import LineBreaks\nimport lark\n"
                              "lark.Lark(parser.grammar_text(), parser='lalr', lexer='contextual',"
                              " postlex=LineBreaks(), maybe_placeholders=False, "
                              "keep_all_tokens=True, transformer=parser._BUILD)",
    "Lark: load the tables (cache=)": "from archdsl.syntax import parser\nparser._lark()",
}


def bytecode(env: dict, pyc: str | None) -> dict:
    """`env` with bytecode caches in `pyc`, or with none (None)."""
    env = {**env}
    if pyc is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pyc
    return env


def best_start(code: str, runs: int, env: dict | None = None) -> float:
    """Best wall time of a fresh process running `code`, less that of an empty one."""
    def once(body: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", body], cwd=ROOT, check=True, env=env)
        return time.perf_counter() - start

    base = min(once("import archdsl.syntax.cache") for _ in range(runs))
    return (min(once("import archdsl.syntax.cache\n" + code) for _ in range(runs)) - base) * 1e3


def standalone(runs: int, folder: Path, pyc: str) -> dict:
    """Lark's standalone parser for the grammar: its import (tables included)."""
    from archdsl.syntax.parser import grammar_text

    grammar = folder / "archdsl.lark"
    grammar.write_text(grammar_text(), encoding="utf-8")
    module = folder / "archdsl_standalone.py"
    subprocess.run([sys.executable, "-m", "lark.tools.standalone", "-l", "contextual",
                    "--keep_all_tokens", "-o", str(module), str(grammar)], check=True)
    env = {**os.environ, "PYTHONPATH": str(folder), "XDG_CACHE_HOME": str(folder)}
    code = ("import archdsl_standalone as s\nfrom archdsl.syntax.lexer import LineBreaks\n"
            "s.Lark_StandAlone(postlex=LineBreaks())")
    return {"import and build, no .pyc (ms)": best_start(code, runs, bytecode(env, None)),
            "import and build, .pyc (ms)": best_start(code, runs, bytecode(env, pyc)),
            "module size (KiB)": module.stat().st_size / 1024}


def parse_times(tree: str, texts: dict, runs: int, mode: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", PARSE, tree, json.dumps(texts), str(runs), mode],
                         cwd=ROOT, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--runs", type=int, default=7)
    args.add_argument("--baseline", metavar="DIR")
    args.add_argument("--json", metavar="OUT")
    opts = args.parse_args()
    texts = {name: (ROOT / path).read_text(encoding="utf-8") for name, path in TEXTS.items()}
    texts.update({f"{n:,} layers": "-".join([CHAIN] * (n // 2)) for n in (1000, 10_000)})
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "XDG_CACHE_HOME": folder}  # a cache of this run's own
        pyc = str(Path(folder) / "pyc")
        results: dict = {f"start, {label} (ms, fresh processes)": {
            name: best_start(code, opts.runs, bytecode(env, where))
            for name, code in START.items()} for label, where in [("no .pyc", None),
                                                                  (".pyc", pyc)]}
        try:
            results["standalone"] = standalone(opts.runs, Path(folder), pyc)
        except subprocess.CalledProcessError as err:
            results["standalone"] = {"error": str(err)}
        parse: dict = {}
        for mode, label in [("tree", "Lark tree, propagate_positions"),
                            ("parser", "archdsl parser (spans from tokens)"),
                            ("cache", "AST cache read")]:
            parse[label] = parse_times(str(ROOT), texts, opts.runs, mode,
                                       {**env, "ARCHDSL_NO_CACHE": "1" if mode != "cache"
                                        else "0"})
        if opts.baseline:
            parse[f"baseline {opts.baseline}"] = parse_times(
                str(Path(opts.baseline).resolve()), texts, opts.runs, "baseline", env)
        results["parse (ms, best)"] = parse
    print(json.dumps(results, indent=2))
    if opts.json:
        Path(opts.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
