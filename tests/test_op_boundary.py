"""The op catalog is the only place that knows a layer kind (issue 12).

Contract: the package's modules outside `archdsl/ops/` ask an op what it is through the traits
and hooks `archdsl.ops.base.Op` declares; they never name one. Read from each module's syntax
tree, four checks (a finding is `path:line: kind: source`):

- `name-literal`: an op's name (`op.name`, `node.op.name`, or any `.name`/`.written` compared
  with a registered name or alias, in any case) compared with a string literal, by `==`, `!=`,
  `in` or `not in`;
- `lookup-literal`: `lookup("X")`, an op looked up by a literal name;
- `family`: a comparison with an op's `family` (a diagram colour) outside `archdsl/render/`;
- `op-module-import`: an import of one op's own module (`archdsl.ops.pool`); `archdsl.ops`,
  its `base` (the contract) and its `registry` are the catalog's public face.

Each check is tried on a small snippet that breaks it, so a check that stopped finding
anything fails too.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import archdsl
from archdsl import ops

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "archdsl"

_OP_NAMES = {n.lower() for op in ops.all_ops() for n in (op.name, *op.aliases)}
_PUBLIC_OP_MODULES = {"archdsl.ops", "archdsl.ops.base", "archdsl.ops.registry"}


def _strings(node: ast.AST) -> list[str] | None:
    """The string literals `node` is (one, or a tuple/list/set of them); None otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and node.elts and \
            all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        return [e.value for e in node.elts]
    return None


def _name_attr(node: ast.AST) -> ast.Attribute | None:
    """`x.name` or `x.written`, also through `.lower()`/`.casefold()`/`.upper()`."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            node.func.attr in ("lower", "casefold", "upper") and not node.args:
        node = node.func.value
    if isinstance(node, ast.Attribute) and node.attr in ("name", "written"):
        return node
    return None


def _is_op(node: ast.AST) -> bool:
    """`op`, `something_op` or `x.op`: an expression that holds an op."""
    if isinstance(node, ast.Name):
        return node.id == "op" or node.id.endswith("_op")
    return isinstance(node, ast.Attribute) and node.attr == "op"


def _compares_op_name(node: ast.Compare) -> bool:
    operands = [node.left, *node.comparators]
    for i, side in enumerate(operands):
        attr = _name_attr(side)
        if attr is None:
            continue
        for other in operands[:i] + operands[i + 1:]:
            strings = _strings(other)
            if strings is None:
                continue
            if _is_op(attr.value) or any(s.lower() in _OP_NAMES for s in strings):
                return True
    return False


def findings(source: str, path: str) -> list[str]:
    """What the checks find in one module's source (`path` relative to the repository)."""
    tree = ast.parse(source, path)
    lines = source.splitlines()
    out = []

    def add(node: ast.AST, kind: str) -> None:
        out.append(f"{path}:{node.lineno}: {kind}: {lines[node.lineno - 1].strip()}")

    in_render = path.startswith("archdsl/render/")
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            if _compares_op_name(node):
                add(node, "name-literal")
            if not in_render and any(isinstance(o, ast.Attribute) and o.attr == "family"
                                     for o in (node.left, *node.comparators)):
                add(node, "family")
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else \
                func.attr if isinstance(func, ast.Attribute) else None
            if called == "lookup" and node.args and _strings(node.args[0]) is not None:
                add(node, "lookup-literal")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            module = node.module
            if module.startswith("archdsl.ops.") and module not in _PUBLIC_OP_MODULES:
                add(node, "op-module-import")
            elif module == "archdsl.ops":
                for alias in node.names:
                    if f"archdsl.ops.{alias.name}" not in _PUBLIC_OP_MODULES and \
                            (PACKAGE / "ops" / f"{alias.name}.py").exists():
                        add(node, "op-module-import")
    return sorted(out, key=lambda hit: int(hit.split(":")[1]))


def _package_modules() -> list[str]:
    return sorted(p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py")
                  if "ops" not in p.relative_to(PACKAGE).parts[:1])


def _package_findings() -> dict[str, list[str]]:
    found = {}
    for path in _package_modules():
        hits = findings((ROOT / path).read_text(encoding="utf-8"), path)
        if hits:
            found[path] = hits
    return found


def test_no_module_outside_the_catalog_names_an_op():
    found = _package_findings()
    wrong = [hit for hits in found.values() for hit in hits]
    assert not wrong, "ask the op (a trait or hook on archdsl.ops.base.Op) instead:\n" + \
        "\n".join(wrong)


def test_the_scan_covers_the_package_but_not_the_catalog():
    modules = _package_modules()
    assert "archdsl/elaborate/walker.py" in modules and "archdsl/codegen/pysource.py" in modules
    assert not [m for m in modules if m.startswith("archdsl/ops/")]


@pytest.mark.parametrize(("source", "kind"), [
    ('if op.name == "Input":\n    pass\n', "name-literal"),
    ('x = consumers[0].op.name == "BN"\n', "name-literal"),
    ('x = node.op.name != "Concat"\n', "name-literal"),
    ('x = node.op.name in ("Add", "Concat")\n', "name-literal"),
    ('x = "Shortcut" == child.op.name\n', "name-literal"),
    ('x = input_op.name == "Whatever"\n', "name-literal"),
    ('x = single.name.lower() in ("id", "identity")\n', "name-literal"),
    ('x = layer.written == "MaxPool"\n', "name-literal"),
    ('op = ops.lookup("Input")\n', "lookup-literal"),
    ('op = lookup("Shortcut")\n', "lookup-literal"),
    ('x = node.op.family in ("fc", "conv")\n', "family"),
    ('x = graph.node(c).op.family in WEIGHTED\n', "family"),
    ('x = child.op.family == "io"\n', "family"),
    ('from archdsl.ops.pool import STOCHASTIC_POOL_SOURCE\n', "op-module-import"),
    ('from archdsl.ops import structure\n', "op-module-import"),
])
def test_each_check_finds_what_it_forbids(source, kind):
    hits = findings(source, "archdsl/example.py")
    assert [h.split(": ")[1] for h in hits] == [kind], hits


@pytest.mark.parametrize("source", [
    'if err.name == "cairosvg":\n    pass\n',  # an ImportError's module, no op
    'if name == "Model":\n    pass\n',
    'x = m.name == name\n',
    'x = key == "input"\n',  # a setting key
    'x = node.op.elementwise\n',
    'box = Box("out", "io", "Output")\n',
    'op = ops.lookup(name)\n',
    'from archdsl.ops.base import Op\nfrom archdsl.ops import lookup, input_op\n',
])
def test_the_checks_let_through_what_names_no_op(source):
    assert findings(source, "archdsl/example.py") == []


def test_family_may_pick_a_colour_in_render():
    assert findings('x = node.op.family == "io"\n', "archdsl/render/diagram.py") == []


# --- a new layer kind is one class: its traits alone give it the pipeline's behaviour ----------

@pytest.fixture
def probe():
    """Registers a throwaway op (an identity) with the traits given, and removes it after."""
    from archdsl.ops import registry
    from archdsl.ops.base import Functional, Op

    added = []

    def make(name: str, **traits) -> Op:
        cls = type(name, (Op,), {"__doc__": "A probe op for tests.", "name": name,
                                 "summary": "probe", "module": False, "elementwise": True,
                                 "torch": lambda self, p, ins, out: Functional("{0}"),
                                 **traits})
        registry.register(cls)
        added.append(name)
        return registry.lookup(name)

    yield make
    for name in added:
        op = registry._BY_NAME.pop(name)
        registry._BY_LOWER.pop(name.lower())
        registry._ORDER.remove(op)


@pytest.mark.parametrize("absorbs", [True, False])
def test_a_convolution_before_an_op_absorbing_its_bias_has_none(probe, absorbs):
    probe("ProbeShift", absorbs_preceding_bias=absorbs)
    model = archdsl.load("input: 3x8x8\nConv(4, 1) - ProbeShift - FC(2)")
    assert [n.ann.params.bias for n in model.layers() if n.op.name == "Conv"] == [not absorbs]


@pytest.mark.parametrize("weighted", [True, False])
def test_the_head_replaces_the_last_weighted_layer(probe, weighted):
    probe("ProbeLinear", weighted=weighted, elementwise=False)
    text = "input: 3x8x8\nConv(4, 1) - ProbeLinear - ReLU"
    if not weighted:
        with pytest.raises(archdsl.ArchError, match="cannot find the classifier"):
            archdsl.load(text, head="FC(2)")
        return
    model = archdsl.load(text, head="FC(2)")
    assert [n.op.name for n in model.layers()] == ["Conv", "FC", "ReLU"]


@pytest.mark.parametrize("weighted", [True, False])
def test_a_bare_fc_is_the_classifier_without_a_weighted_layer_after_it(probe, weighted):
    probe("ProbeAfter", weighted=weighted)
    model = archdsl.load("input: 3x8x8\nclasses: 10\nFC - ReLU - ProbeAfter")
    fc = next(n for n in model.layers() if n.op.name == "FC")
    assert fc.ann.out_shape == ((512,) if weighted else (10,))


def test_a_bare_identity_branch_is_the_merge_input(probe):
    probe("ProbeSame", is_identity=True)
    model = archdsl.load("input: 3x8x8\nConcat[ProbeSame, Conv(4, 1)] - GAP - FC(2)")
    assert "ProbeSame" not in [n.op.name for n in model.layers()]
    assert model.output_shape == (2,)


def test_a_skip_branch_written_as_a_layer_is_an_error(probe):
    probe("ProbeSkip", is_skip_branch=True)
    with pytest.raises(archdsl.ArchError) as err:
        archdsl.load("input: 3x8x8\nConv(4, 1) - ProbeSkip - FC(2)")
    assert [d.code for d in err.value.diagnostics] == ["shortcut-outside-add"]
    assert "ProbeSkip must be a whole branch" in err.value.diagnostics[0].message


def test_the_input_is_found_by_its_trait_and_is_unique(probe):
    assert ops.input_op().is_input and not ops.input_op().listed
    with pytest.raises(ValueError, match="a model has one input"):
        probe("ProbeInput", is_input=True)


@pytest.mark.parametrize("listed", [True, False])
def test_ops_lists_what_is_listed(probe, capsys, listed):
    from archdsl.cli.main import main

    probe("ProbeListed", listed=listed)
    assert main(["ops", "--json"]) == 0
    names = [o["name"] for o in json.loads(capsys.readouterr().out)]
    assert ("ProbeListed" in names) == listed and ops.input_op().name not in names
