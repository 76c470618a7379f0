"""Nothing from a spec runs, and nothing from a spec reaches generated code unchecked.

- The package never evaluates text: `eval`, `exec`, `compile` and `__import__` appear only in
  runtime/torch_build.py, which executes the source archdsl generated, and only
  `build_module` calls it (and `archdsl import` runs the Python file its user names, in
  archdsl/imported.py); YAML is only ever loaded safely.
- Names that become Python names (labels, stage names, block names and parameters, model names
  incl. YAML `name:`, YAML node ids, repeat name templates, side outputs) are rejected when they
  are not safe identifiers, clash with each other, with keywords or with torch's attributes.
- Names that are safe but unusual are accepted, and the generated source is audited: it imports
  only torch (and the standard modules it needs) and calls nothing dangerous; string values from
  the spec appear only as quoted literals, docstrings cannot be closed from a spec, and building
  the module runs no payload.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

import archdsl

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "archdsl"
EXEC_MODULE = PACKAGE / "runtime" / "torch_build.py"
ALLOWED_IMPORTS = {"__future__", "collections", "typing", "math", "torch", "torch.nn",
                   "torch.nn.functional"}
# (module, call) that import a package named in a fixed table of their own, never from a spec
FIXED_IMPORTS = {("export.py", "__import__")}
# (module, call) that run the Python module a user named on the command line or in the call,
# `archdsl import my_models.py:Net` / `archdsl.from_torch` (docs/import.md): never from a spec
NAMED_BY_THE_USER = {("imported.py", "exec_module")}
FORBIDDEN_NAMES = {"eval", "exec", "compile", "__import__", "open", "getattr", "setattr",
                   "delattr", "globals", "locals", "vars", "input", "breakpoint", "os", "sys",
                   "subprocess", "builtins", "importlib", "shutil", "pathlib"}


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            yield node, func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


# --- the package --------------------------------------------------------------------------------


def test_only_torch_build_executes_code():
    for path in PACKAGE.rglob("*.py"):
        for call, name in _calls(ast.parse(path.read_text(encoding="utf-8"))):
            builtin = isinstance(call.func, ast.Name)
            if builtin and name in ("eval", "exec", "compile", "__import__") or \
                    name in ("exec_module", "run_path", "run_module"):
                if (path.name, name) in FIXED_IMPORTS | NAMED_BY_THE_USER:
                    continue
                assert path == EXEC_MODULE and name in ("exec", "compile"), (path, name)


@pytest.mark.slow
def test_only_build_module_executes_generated_source():
    callers = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if any(name == "load_source" for _, name in _calls(fn)):
                    callers.add((path.name, fn.name))
    assert callers <= {("torch_build.py", "build_module")}, callers


def test_yaml_is_only_loaded_safely():
    unsafe = {"load", "load_all", "unsafe_load", "full_load", "full_load_all", "Loader",
              "UnsafeLoader", "FullLoader", "CLoader", "CUnsafeLoader", "CFullLoader"}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    node.value.id == "yaml":
                assert node.attr not in unsafe, (path, node.attr)


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system [x]", "!!python/name:os.system",
                                 "!!python/object/new:dict {}", "!!binary aGk=", "!!set {a}",
                                 "!custom x", "!!python/module:os"])
def test_yaml_tags_are_refused(tag, tmp_path):
    path = tmp_path / "tag.yaml"
    path.write_text(f"name: Net\ninput: 3x8x8\nlayers: {tag}\n")
    with pytest.raises(archdsl.ArchError) as info:
        archdsl.load(path)
    assert info.value.diagnostics[0].code == "yaml-tag"


# --- names that are refused ----------------------------------------------------------------------

M = "model Net {{\n  input: 3x32x32\n  {}\n}}\n"
B = "block NAME { Conv(8, 3) }\n" + M.format("Conv(8, 3)")
Y = "name: Net\ninput: 3x32x32\n"
REFUSED = [
    ("label calling code", 'Conv:"__import__(\'os\').system(\'x\')"(8, 3)', "bad-name"),
    ("label with a dot", 'Conv:"a.b"(8, 3)', "bad-name"),
    ("label keyword", "Conv:class(8, 3)", "bad-name"),
    ("label soft keyword", "Conv:match(8, 3)", "bad-name"),
    ("label torch attribute", "Conv:forward(8, 3)", "bad-name"),
    ("label dunder", "Conv:__class__(8, 3)", "bad-name"),
    ("label private", "Conv:_modules(8, 3)", "bad-name"),
    ("label generated helper", "Conv:all_outputs(8, 3)", "bad-name"),
    ("label clash", "Conv:a(8, 3) - ReLU:a", "duplicate-name"),
    ("label clash with a template", 'Conv(8, 3, p=1) x 2 as "b{i}" - Conv:b1(8, 3)',
     "duplicate-name"),
    ("label non-ASCII", "Conv:caf\u00e9(8, 3)", "non-ascii-character"),
    ("quoted label non-ASCII", 'Conv:"caf\u00e9"(8, 3)', "bad-name"),
    ("template keyword", 'Conv(8, 3) x 1 as "while"', "bad-name"),
    ("template making code", 'Conv(8, 3) x 1 as "a{i}()"', "bad-name"),
    ("template non-ASCII", 'Conv(8, 3) x 1 as "\u00e9{i}"', "bad-name"),
    ("stage keyword", M.format("class: Conv(8, 3)"), "bad-name"),
    ("stage torch attribute", M.format("training: Conv(8, 3)"), "bad-name"),
    ("side output main", M.format("Conv(8, 3) - Aux:main[GAP - FC(2)] - GAP - FC(2)"),
     "bad-name"),
    ("side output x", M.format("Conv(8, 3) - Aux:x[GAP - FC(2)] - GAP - FC(2)"), "bad-name"),
    ("side output builtin", M.format("Conv(8, 3) - Aux:len[GAP - FC(2)] - GAP - FC(2)"),
     "bad-name"),
    ("block parameter keyword", B.replace("NAME", "B(def)"), "bad-name"),
    ("block parameter self", B.replace("NAME", "B(self)"), "bad-name"),
    ("block parameter in_channels", B.replace("NAME", "B(in_channels)"), "bad-name"),
    ("block parameter torch", B.replace("NAME", "B(torch)"), "bad-name"),
    ("block parameter builtin", B.replace("NAME", "B(super)"), "bad-name"),
    ("block parameter twice", B.replace("NAME", "B(c, c)"), "duplicate-parameter"),
    ("block named like a layer", B.replace("NAME", "ReLU(c)"), "block-shadows-layer"),
    ("two models, one name", M.format("ReLU") * 2, "duplicate-model"),
    ("YAML model name with code", (Y.replace("Net", "'Net\"\"\"; import os'") +
                                   "layers: ReLU\n"), "bad-name"),
    ("YAML model name non-ASCII", Y.replace("Net", "N\u00e9t") + "layers: ReLU\n", "bad-name"),
    ("YAML model name keyword", Y.replace("Net", "lambda") + "layers: ReLU\n", "bad-name"),
    ("YAML block name non-ASCII", Y + "blocks:\n  B\u00e9:\n    params: [c]\n"
     "    body: Conv(c, 3)\nlayers: ReLU\n", "bad-name"),
    ("YAML block name keyword", Y + "blocks:\n  import:\n    params: [c]\n"
     "    body: Conv(c, 3)\nlayers: ReLU\n", "bad-name"),
    ("YAML parameter with code", Y + "blocks:\n  B:\n    params: {\"c): pass\\nimport os\\n"
     "def f(c\": 8}\n    body: Conv(8, 3)\nlayers: B()\n", "bad-name"),
    ("YAML parameter non-ASCII", Y + "blocks:\n  B:\n    params: {\u00e9: 8}\n"
     "    body: Conv(8, 3)\nlayers: B()\n", "bad-name"),
    ("YAML node id with code", Y + "nodes:\n  - {id: 'a; import os', layer: ReLU}\n",
     "bad-name"),
    ("YAML node id keyword", Y + "nodes:\n  - {id: for, layer: ReLU}\n", "bad-name"),
    ("YAML node id non-ASCII", Y + "nodes:\n  - {id: \u00e9, layer: ReLU}\n", "bad-name"),
]


def _load(spec: str, tmp_path: Path):
    if spec.startswith("name:"):
        path = tmp_path / "spec.yaml"
        path.write_text(spec, encoding="utf-8")
        return archdsl.load(path)
    return archdsl.load(spec, input="3x32x32", classes=10)


@pytest.mark.parametrize("what,spec,code", REFUSED, ids=[r[0] for r in REFUSED])
def test_unsafe_name_is_refused(what, spec, code, tmp_path):
    with pytest.raises(archdsl.ArchError) as info:
        _load(spec, tmp_path)
    assert code in [d.code for d in info.value.diagnostics], info.value


@pytest.mark.parametrize("attr", sorted(a for a in dir(torch.nn.Module) if not a.startswith("_")))
def test_every_torch_module_attribute_is_refused_as_a_label(attr):
    with pytest.raises(archdsl.ArchError) as info:
        archdsl.load(f"Conv:{attr}(8, 3)", input="3x8x8")
    assert info.value.diagnostics[0].code == "bad-name"


# --- names that are accepted: the generated source is audited ------------------------------------

PAYLOAD = "open('PWNED', 'w').write('x')"
ACCEPTED = [
    ("unusual labels", M.format("Conv:x(8, 3) - ReLU:torch - Conv:nn(4, 1) - GAP - FC:F(2)")),
    ("stage named like a local", M.format("out: Conv(8, 3) - ReLU\n  identity: Conv(4, 1)")),
    ("blocks named like Python", "block int(c) { Conv(c, 1) }\nblock nn(c) { int(c) }\n"
     "block Optional(c) { nn(c) }\n" + M.format("Optional(4) - int(2)")),
    ("model named torch", "model torch {\n  input: 3x8x8\n  Conv(4, 3)\n}\n"),
    ("string default closing the docstring",
     "block B(c, m='x\"\"\"; " + PAYLOAD.replace("'", '"') + "; \"\"\"\\\\') { Conv(c, 1) }\n"
     + M.format("B(4)")),
    ("string argument with quotes and a payload",
     "block B(c, mode='q\") + open(\"PWNED\", \"w\") #') { Conv(c, 1) }\n"
     + M.format("B(4, mode=\"x'); __import__('os') #\")")),
    ("templates", M.format('Conv(4, 3, p=1) x 3 as "conv{i * 2 + 1}" - ReLU')),
    ("helper classes of torchvision's layers", M.format(
        "Conv(8, 1) - Add[Conv(8, 3, p=1) - StochasticDepth(0.1), Id] - LayerNorm2d - "
        "Permute(0, 2, 3, 1) - FC(4, flatten=false) - Permute(0, 3, 1, 2) - GAP - FC(2)")),
    ("YAML default that is a statement", Y + "blocks:\n  B:\n    params: {c: 4, tag: '0; "
     + PAYLOAD.replace("'", '"') + "'}\n    body: Conv(c, 1)\nlayers: B()\n"),
    ("YAML strings with quotes", Y + "blocks:\n  B:\n    params: {c: 4, tag: '\"\"\"; "
     + PAYLOAD.replace("'", '"') + "'}\n    body: Conv(c, 1)\nlayers: B()\n"),
]


def audit(source: str) -> ast.Module:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert {a.name for a in node.names} <= ALLOWED_IMPORTS, ast.dump(node)
        elif isinstance(node, ast.ImportFrom):
            assert node.module in ALLOWED_IMPORTS, node.module
        elif isinstance(node, ast.Name):
            assert node.id not in FORBIDDEN_NAMES, node.id
        elif isinstance(node, ast.Attribute):
            assert node.attr not in ("system", "popen", "__import__", "__builtins__"), node.attr
    return tree


@pytest.mark.parametrize("what,spec", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted_names_give_safe_source_that_runs(what, spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = _load(spec, tmp_path)
    audit(model.source())
    net = model.build().eval()
    with torch.no_grad():
        out = net(torch.zeros(1, *model.input_shape))
    assert tuple(out.shape[1:]) == model.output_shape
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", archdsl.zoo())
def test_zoo_source_passes_the_audit(name):
    audit(archdsl.compile(name))


def test_file_names_cannot_break_out_of_comments(tmp_path):
    path = tmp_path / 'odd\n"""name\\.arch'
    path.write_text("model Net {\n  input: 3x8x8\n  Conv(4, 3)\n}\n")
    source = archdsl.compile(path)
    tree = audit(source)
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert classes == ["Net"]
