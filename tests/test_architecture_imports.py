"""archdsl's import graph: no cycles, and the pipeline's stages import one way.

Every module under archdsl/ is parsed with `ast` (nothing is imported) and each of its imports is
an edge, wherever it is written:
- at module level;
- inside a function: a lazy import is still a dependency (it runs whenever the function does, and
  a cycle through it makes the order in which modules load depend on which function ran first);
  laziness is for start-up time, not for hiding a dependency;
- under `if TYPE_CHECKING:`: a type in a signature is part of the module's contract.
`from a.b import c` depends on `a.b.c` when that is a module, else on `a.b`. Importing a submodule
also runs its packages' `__init__.py`; that implicit edge is not counted (else every module would
depend on `archdsl/__init__.py`, the public API, which imports the stages).

The layers, from the bottom: the core (text to an annotated IR: syntax, ops, elaborate, ir,
passes and the small modules beside them); the backend stages (codegen, runtime, render, report),
each reading the IR; the public API (`archdsl`, `archdsl.model`), which assembles the pipeline;
the CLI, which only parses arguments and presents results.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

from conftest import ROOT

PACKAGE = ROOT / "archdsl"

# The layer of each subpackage or top-level module of archdsl (the first name after `archdsl.`;
# "" is the package itself). A new subpackage or top-level module must be placed here.
CORE = ["caches", "version", "source", "diagnostics", "limits", "expr", "expr_functions",
        "expr_symbolic", "identifiers", "settings", "syntax", "ops", "loader", "elaborate", "ir",
        "passes", "describe", "paths", "plugins", "kinds"]
LAYER = {
    **dict.fromkeys(CORE, "core"),
    "codegen": "codegen",
    "runtime": "runtime",
    "weights": "runtime",  # `archdsl.load_pretrained`: torch, like the runtime
    "render": "render",
    "report": "report",
    "importer": "importer",  # a torch model to spec text: reads torch, writes the language
    "": "api",
    "model": "api",
    "imported": "api",  # `archdsl.from_torch`: the importer's text, loaded
    "cli": "cli",
    "__main__": "cli",
}
# What each layer may import. render, report and codegen never import each other; runtime builds
# on codegen (the generated source is the code that runs); nothing below the CLI imports it.
ALLOWED = {
    "core": {"core"},
    "codegen": {"core", "codegen"},
    "runtime": {"core", "codegen", "runtime"},
    "render": {"core", "render"},
    "report": {"core", "report"},
    "importer": {"core", "importer"},
    "api": {"core", "codegen", "runtime", "render", "report", "importer", "api"},
    "cli": {"core", "codegen", "runtime", "render", "report", "importer", "api", "cli"},
}


def module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module of `package` and the modules of `package` it imports (see the docstring)."""
    sources = {module_name(p, package): p for p in sorted(package.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in sources.items():
        is_package = path.name == "__init__.py"
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names if alias.name in sources)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's package, up level - 1
                    here = name.split(".") if is_package else name.split(".")[:-1]
                    here = here[:len(here) - node.level + 1]
                    base = ".".join([*here, base] if base else here)
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    deps.add(target if target in sources else base)
        graph[name] = {d for d in deps if d in sources and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle of each group of modules that import each other (directly or not)."""
    g = nx.DiGraph([(a, b) for a, deps in graph.items() for b in deps])
    found = []
    for group in nx.strongly_connected_components(g):
        if len(group) > 1:
            found.append([a for a, _ in nx.find_cycle(g.subgraph(group))])
    return sorted(found)


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return LAYER.get(parts[1] if len(parts) > 1 else "")


GRAPH = import_graph()


def test_the_graph_sees_every_kind_of_import():
    # the graph is not vacuous: a module-level, a lazy (in a method) and a TYPE_CHECKING import
    assert "archdsl.loader" in GRAPH["archdsl.model"]
    assert "archdsl.codegen.pysource" in GRAPH["archdsl.model"]
    assert "archdsl.ops.base" in GRAPH["archdsl.ir"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    found = cycles(GRAPH)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join([*c, c[0]]) for c in found)


def test_every_module_has_a_layer():
    unplaced = sorted(m for m in GRAPH if layer_of(m) is None)
    assert not unplaced, f"place these in LAYER: {unplaced}"


def test_stages_import_one_way():
    wrong = sorted(f"{a} ({layer_of(a)}) imports {b} ({layer_of(b)})"
                   for a, deps in GRAPH.items() for b in deps
                   if layer_of(a) and layer_of(b) and layer_of(b) not in ALLOWED[layer_of(a)])
    assert not wrong, "\n".join(wrong)


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_the_cli_uses_no_private_name_of_archdsl():
    """The CLI parses arguments, calls archdsl's public functions (the pipeline is assembled in
    archdsl.model, `load_stage`) and presents the results: it imports no private name of
    archdsl, and reads no private attribute of what it imports."""
    found = []
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bound: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("archdsl"):
                names = [*node.module.split("."), *(a.name for a in node.names)]
                bound.update(a.asname or a.name for a in node.names)
            elif isinstance(node, ast.Import):
                names = [p for a in node.names if a.name.startswith("archdsl")
                         for p in a.name.split(".")]
                bound.update((a.asname or a.name).split(".")[0] for a in node.names
                             if a.name.startswith("archdsl"))
            else:
                continue
            found += [f"{path.name}:{node.lineno} imports {n}" for n in names if private(n)]
        found += [f"{path.name}:{node.lineno} reads {node.value.id}.{node.attr}"
                  for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                  and isinstance(node.value, ast.Name) and node.value.id in bound
                  and private(node.attr)]
    assert not found, "\n".join(found)
