"""The IR graph: its topological order, with and without the key-order shortcut."""

import pytest

import archdsl
from archdsl.ir import Graph, Node, Scope

ZOO = archdsl.zoo()


def _sorted_order(graph: Graph) -> list[int]:
    """The order by the general path (Kahn's algorithm), bypassing the key-order shortcut."""
    graph._forward, graph._order = False, None
    return [n.key for n in graph.order()]


@pytest.mark.parametrize("name", ZOO)
def test_key_order_is_the_topological_order_for_the_zoo(name):
    graph = archdsl.load(name).graph
    graph._order = None
    fast = [n.key for n in graph.order()]
    assert graph._forward  # the shortcut was taken (else this test proves nothing)
    assert fast == _sorted_order(graph)


@pytest.mark.parametrize("text", [
    # the Shortcut written first: its key is smaller than the main branch's, so it must move
    "input: 8x8x8\nAdd[Shortcut, Conv(16, 3, s=2, p=1) - BN] - ReLU - GAP - FC(2)",
    "input: 8x8x8\nAdd[Conv(16, 3, s=2, p=1) - BN, Shortcut] - ReLU - GAP - FC(2)",
    # a replaced head feeds the layers after the old classifier from larger keys
    "input: 3x8x8\nConv(4, 3) - GAP - FC(10) - SM",
])
def test_order_with_reordered_shortcuts_and_replaced_heads(text):
    model = archdsl.load(text, head="FC(8) - ReLU - FC(3)") if "SM" in text else \
        archdsl.load(text)
    graph = model.graph
    graph._order = None
    order = [n.key for n in graph.order()]
    assert order == _sorted_order(graph)
    position = {key: i for i, key in enumerate(order)}
    for src, dst, _ in graph.edges():
        assert position[src.key] < position[dst.key]
    for node in model.layers():  # a Shortcut's shape rule sees the other branches first
        merge = graph.target_of(node.key)
        if merge is not None:
            others = [i.key for i in graph.inputs(merge) if i.key != node.key]
            assert all(position[k] < position[node.key] for k in others)
    assert model.output_shape in ((2,), (3,))


def test_a_node_added_out_of_key_order_turns_the_shortcut_off():
    from archdsl import ops

    graph, scope, relu = Graph(), Scope("model", None, None), ops.lookup("ReLU")
    for key, inputs in ((0, []), (5, [0]), (3, [0]), (7, [3, 5])):
        graph.add(Node(key, relu, None, scope, None), inputs)
    assert [n.key for n in graph.order()] == [0, 3, 5, 7]


@pytest.mark.parametrize(("text", "sizes"), [
    # the last FC is the classifier; one with a weighted layer after it is hidden (512)
    ("input: 3x8x8\nclasses: 7\nConv(4, 3) - FC - ReLU - FC - SM", [512, 7]),
    ("input: 3x8x8\nclasses: 7\nFC - Dropout - FC - ReLU - Dropout - FC", [512, 512, 7]),
    # a weighted layer on one branch after the merge counts; one on a side branch does not
    ("input: 3x8x8\nclasses: 5\nFC - Concat[FC, FC(3)] - ReLU", [512, 5]),
    ("input: 3x8x8\nclasses: 5\nFC - Concat[ReLU, Id] - FC", [512, 5]),
])
def test_a_bare_fc_is_the_classifier_only_with_no_weighted_layer_after_it(text, sizes):
    model = archdsl.load(text)
    found = [n.ann.params.out_features for n in model.layers()
             if n.op.name == "FC" and n.bare]
    assert found == sizes


def test_a_loaded_layer_leaves_few_objects_for_the_garbage_collector():
    """Python's collector walks every container object a load leaves alive, again at each full
    collection: with ~17 per layer it took a quarter of a 10,000-layer load (benchmarks/
    scaling_bench.py). Spans are shared or derived and single inputs not cached; a count, not a
    timing, so it is stable: the AST (element, layer, arguments, numbers, spans) and the IR
    (node, annotations) of `Conv(8, 3, p=1)-ReLU` come to 11 per layer."""
    import gc

    text = "-".join(["Conv(8, 3, p=1)-ReLU"] * 200)
    archdsl.clear_caches()
    gc.collect()
    before = len(gc.get_objects())
    model = archdsl.load(text, input="3x32x32")
    gc.collect()  # untracks the tuples and dicts that hold no containers, as any collection does
    per_layer = (len(gc.get_objects()) - before) / len(model.layers())
    assert per_layer <= 12, per_layer


def test_clear_caches_forgets_what_loads_learned(monkeypatch):
    """`archdsl.clear_caches()` empties the caches every module registers (archdsl.caches): the
    next load parses its text and checks its labels again, as a new command would."""
    from archdsl import identifiers, loader

    parsed = []
    real = loader.parse_text
    monkeypatch.setattr(loader, "parse_text", lambda *a: parsed.append(a) or real(*a))
    text = "input: 3x8x8\nConv:cache_probe(4, 3) - ReLU - FC(2)"
    archdsl.clear_caches()
    archdsl.load(text)
    archdsl.load(text)
    assert len(parsed) == 1  # the second load found the text cached
    assert identifiers._identifier_problem.cache_info().currsize > 0
    archdsl.clear_caches()
    assert identifiers._identifier_problem.cache_info().currsize == 0
    archdsl.load(text)
    assert len(parsed) == 2
