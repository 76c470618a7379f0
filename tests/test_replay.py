"""Block replay (archdsl.elaborate.replay) builds exactly the graph that walking the body builds.

Every field of every node and scope, every edge and every Shortcut target is compared between a
load with replay and one without, for the whole zoo and for specs that exercise what a replay
must carry over: nested blocks, repeats and name templates inside blocks, Shortcuts written
first, labelled stages, YAML `nodes:` graphs, block calls at different depths.
"""

from __future__ import annotations

import pytest

import archdsl
from archdsl.elaborate import replay, walker
from archdsl.ir import Node, Scope

SPECS = [*archdsl.zoo(), """
block Inner(c) { Conv(c, 3, p=1) x 2 - BN - ReLU x 2 as "act{i}" }
block Pair(c, n=2) {
  Add[ Inner(c) x n as "inner{i}", Shortcut ]
  stage: Inner(c) - Inner(c * 2)
}
block Outer(c) { Pair(c) - Pair(c, n=1) - Add[Shortcut, Conv(c, 1)] }
model M {
  input: 3x16x16
  classes: 4
  Conv(8, 3, p=1) - Pair(8) - Pair(8) - Outer(16) - Outer(16) x 2 - Pair(8) x 3
  GAP - FC
}
""", """
block Res(c) { Add[Conv(c, 3, p=1) - BN - ReLU - Conv(c, 3, p=1) - BN, Id] - ReLU }
model M {
  input: 3x8x8
  Conv(4, 3, p=1)
  a: Res(4) x 2
  b: [ Res(4) - Res(4) ]
  Res(4) x 3 as "res{i + 1}"
  GAP - FC(2)
}
"""]


def _dump(model) -> dict:
    """Everything the IR says, with nodes and scopes named by their position (not identity);
    repeat groups renumbered by first appearance (they are only identities)."""
    ir = model.ir
    graph = ir.graph
    scopes = list(ir.root.walk_scopes())
    scope_index = {id(s): i for i, s in enumerate(scopes)}
    groups: dict[int, int] = {}

    def repeat(info):
        if info is None:
            return None
        return groups.setdefault(info.group, len(groups)), info.index, info.count

    def child(c: Node | Scope):
        return ("scope", scope_index[id(c)]) if isinstance(c, Scope) else ("node", c.key)

    nodes = [(n.key, n.op.name, n.params, scope_index[id(n.scope)], n.span, n.trace, n.written,
              n.label, n.explicit_name, n.arg_exprs, n.bare, n.local, n.name, repeat(n.repeat),
              n.frozen, [i.key for i in graph.inputs(n.key)], graph.target_of(n.key),
              n.ann.out_shape, n.ann.param_count, n.ann.macs) for n in graph.order()]
    scope_rows = [(s.kind, scope_index.get(id(s.parent)), s.span, s.trace, s.explicit_name,
                   s.local, s.name, [child(c) for c in s.children],
                   None if s.block is None else (s.block.definition.name, s.block.values,
                                                  s.block.call_exprs),
                   repeat(s.repeat), s.entry, s.exit, s.written, s.side) for s in scopes]
    return {"nodes": nodes, "scopes": scope_rows, "outputs": ir.outputs,
            "keys": [n.key for n in graph.nodes]}


def _load(spec, replay_blocks: bool, monkeypatch):
    monkeypatch.setattr(walker, "REPLAY_BLOCKS", replay_blocks)
    return archdsl.load(spec)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s if "\n" not in s else "text")
def test_replay_builds_the_same_graph_as_walking(spec, monkeypatch):
    calls = []
    original = replay.Expansion.replay

    def counted(self, *args):
        calls.append(self)
        return original(self, *args)

    monkeypatch.setattr(replay.Expansion, "replay", counted)
    replayed = _load(spec, True, monkeypatch)
    walked = _load(spec, False, monkeypatch)
    assert _dump(replayed) == _dump(walked)
    assert replayed.totals == walked.totals
    if "\n" in spec or spec.startswith(("resnet", "densenet", "dpn", "resnext")):
        assert calls  # repeated blocks were replayed: this test compared something


def test_replayed_models_generate_the_same_source(monkeypatch):
    for spec in SPECS[-2:] + ["resnet50", "densenet121", "googlenet"]:
        replayed = _load(spec, True, monkeypatch).source()
        walked = _load(spec, False, monkeypatch).source()
        assert replayed == walked, spec


def test_a_block_that_failed_once_is_walked_again_and_reports_each_time(monkeypatch):
    monkeypatch.setattr(walker, "REPLAY_BLOCKS", True)
    text = "block B(c) { Conv(c, 3) - Nope }\nmodel M {\n input: 3x8x8\n B(4) - B(4)\n}"
    with pytest.raises(archdsl.ArchError) as err:
        archdsl.load(text)
    # both calls reached the mistake; it is shown once, the second call counted (issue 16)
    [diag] = err.value.diagnostics
    assert diag.code == "unknown-layer"
    assert diag.notes[-1].message.startswith("the same mistake is reached 1 more time ")


def test_replay_respects_the_layer_limit(monkeypatch):
    from archdsl.limits import Limits

    monkeypatch.setattr(walker, "REPLAY_BLOCKS", True)
    text = "block B { Conv(4, 3, p=1) - BN - ReLU }\nmodel M {\n input: 3x8x8\n B x 4\n}"
    assert len(archdsl.load(text, limits=Limits(max_layers=12)).layers()) == 12
    with pytest.raises(archdsl.ArchError) as err:
        archdsl.load(text, limits=Limits(max_layers=11))
    assert err.value.diagnostics[0].code == "limit-exceeded"


def test_validated_params_are_shared_only_between_equal_values_of_the_same_type():
    archdsl.clear_caches()
    a = archdsl.load("input: 3x8x8\nDropout(0) - Dropout(0.0) - Dropout(0) - FC(2)")
    drops = [n for n in a.layers() if n.op.name == "Dropout"]
    assert drops[0].params is drops[2].params  # bound once
    assert drops[0].params is not drops[1].params  # 0 and 0.0: keyed apart, by type
