"""The language as docs/language.md states it: each documented rule has a test here."""

from __future__ import annotations

import pytest

import archdsl
from archdsl import ArchError
from archdsl.syntax import ast
from archdsl.syntax.parser import parse_text


def layers(text: str, **kw) -> list[str]:
    return [n.op.name for n in archdsl.load(text, **kw).layers()]


def names(text: str, **kw) -> list[str]:
    return [n.name for n in archdsl.load(text, **kw).layers()]


def error(text: str, **kw):
    with pytest.raises(ArchError) as err:
        archdsl.load(text, **kw)
    return err.value.diagnostics


# --- tokens and chains ------------------------------------------------------------------------

def test_vgg_tokens_are_single_tokens_and_conv_relu_is_two():
    assert layers("conv3-64 - conv1-256 - maxpool - FC-4096 - soft-max", input="3x32x32") == \
        ["Conv", "Conv", "MPool", "FC", "SM"]
    assert layers("Conv-ReLU-FC-FC", input="3x32x32", classes=3) == ["Conv", "ReLU", "FC", "FC"]
    m = archdsl.load("conv3-64 - conv1-256", input="3x32x32")
    assert [n.ann.out_shape for n in m.layers()] == [(64, 32, 32), (256, 32, 32)]


def test_layer_names_match_case_insensitively():
    assert layers("conv-relu-mpool-Mpool-maxpool", input="3x32x32") == \
        ["Conv", "ReLU", "MPool", "MPool", "MPool"]


def test_repeat_count_then_dash_continues_the_chain():
    assert layers("[Conv-ReLU] x 3-[Conv] x 2", input="3x32x32") == \
        ["Conv", "ReLU"] * 3 + ["Conv"] * 2
    assert layers("Conv x2 - ReLU × 2", input="3x32x32") == ["Conv", "Conv", "ReLU", "ReLU"]


def test_repeat_count_expressions():
    src = "block B(n) { [Conv(8, 3, p=1) - ReLU] x (n - 1) }\nmodel M { input: 3x8x8\n B(3) }"
    assert layers(src) == ["Conv", "ReLU"] * 2


def test_arguments_follow_the_name_and_a_spaced_parenthesis_is_an_optional_layer():
    assert layers("Conv-FC-FC (SM)", input="1x8x8", classes=2)[-1] == "SM"
    diags = error("Conv (64, 3)", input="1x8x8")
    assert diags[0].code == "syntax-error" and "without a space" in diags[0].hint


def test_keyword_arguments_long_and_short_and_tuples():
    m = archdsl.load("Conv(8, kernel=(1, 7), stride=1, padding=(0, 3)) - Conv(8, k=3, s=2, p=1)",
                     input="3x16x16")
    assert [n.ann.out_shape for n in m.layers()] == [(8, 16, 16), (8, 8, 8)]


def test_arithmetic_in_arguments():
    src = "block B(c) { Conv(c * 4 // 2 + 1, 1) }\nmodel M { input: 3x4x4\n B(8) }"
    assert archdsl.load(src).output_shape == (17, 4, 4)


# --- line breaks ----------------------------------------------------------------------------------

def test_line_breaks_join_statements_and_continue_around_dashes():
    text = "input: 3x8x8\nConv(4, 1) - BN -\n  ReLU\nConv(4, 1)\n  - ReLU\n\n# comment\nFC(2)\n"
    assert layers(text) == ["Conv", "BN", "ReLU", "Conv", "ReLU", "FC"]


def test_line_breaks_inside_brackets_and_parentheses():
    text = ("input: 3x8x8\nAdd[\n  Conv(4, 3,\n       p=1),\n  Conv(4, 1)\n]\n"
            "features: [\n  Conv(4, 1)\n  ReLU\n]\nFC(2)")
    m = archdsl.load(text)
    assert [n.name for n in m.layers()] == ["conv1", "conv2", "add1", "features.0",
                                            "features.1", "fc1"]


def test_tabs_are_whitespace_and_carets_line_up():
    diags = error("input: 1x8x8\n\tConv\t-\tPoool")
    text = str(ArchError(diags))
    line, caret = [ln for ln in text.splitlines() if "|" in ln][:2]
    assert line.split("| ", 1)[1].index("Poool") == caret.split("| ", 1)[1].index("^")
    assert diags[0].span.location() == "<string>:2:9"


def test_settings_and_stages_have_distinct_syntax():
    program = parse_text("model M {\n input: 3x8x8\n stage1: Conv(4, 1)\n classes: 3\n}")
    model = program.models[0]
    assert [s.key for s in model.settings] == ["input", "classes"]
    assert isinstance(model.body[0], ast.Stage) and model.body[0].label == "stage1"
    # a layer label has no space: `Conv: 1` is not the layer Conv labelled 1
    assert error("Conv: 1", input="1x8x8")
    assert names("Conv:1(2, 1)", input="1x8x8") == ["conv1"]


def test_several_models_per_file():
    text = "model A { input: 1x8x8\n Conv(2, 1) }\nmodel B { input: 1x8x8\n Conv(3, 1) }"
    assert archdsl.load(text).name == "A"
    assert archdsl.load(text, model="B").output_shape == (3, 8, 8)


# --- labels and names -------------------------------------------------------------------------------

def test_labels_name_modules():
    assert names("Conv:1(4, 1) - Pool:2 - FC:fc(3)", input="1x8x8") == ["conv1", "pool2", "fc"]
    assert names("Conv - Conv:conv1 - Conv", input="1x8x8") == ["conv2", "conv1", "conv3"]


def test_duplicate_labels_are_an_error_with_both_places():
    diags = error("Conv:a(4, 1) - Conv:a(4, 1)", input="1x8x8")
    assert diags[0].code == "duplicate-name" and diags[0].notes[0].span is not None


def test_labelled_groups_name_children_by_position_counting_every_layer():
    text = "input: 3x8x8\nfeatures: [ [Conv(4, 3, p=1) - ReLU] x 2 - MPool ]\nFC:fc(2)"
    assert names(text) == [f"features.{i}" for i in range(5)] + ["fc"]


def test_repeat_templates_name_copies():
    text = "input: 3x8x8\nblock1: Conv(4, 1) x 3 as \"layer{i+1}\""
    assert names(text) == ["block1.layer1", "block1.layer2", "block1.layer3"]


def test_bias_is_off_when_batchnorm_follows():
    m = archdsl.load("Conv(4, 1) - BN - Conv(4, 1) - ReLU - Conv(4, 1, bias=false)",
                     input="3x8x8")
    biases = [n.ann.params.bias for n in m.layers() if n.op.name == "Conv"]
    assert biases == [False, True, False]


# --- branches and blocks ------------------------------------------------------------------------------

def test_add_concat_id_and_shortcut():
    text = ("input: 16x8x8\nAdd[Conv(16, 3, p=1), Id] - Concat[Id, Conv(8, 1)]\n"
            "Add[Conv(32, 3, s=2, p=1) - BN, Shortcut:downsample]")
    m = archdsl.load(text)
    assert m.output_shape == (32, 4, 4)
    short = [n for n in m.layers() if n.op.name == "Shortcut"][0]
    assert short.ann.param_count == 24 * 32 + 2 * 32  # 1x1 projection + BatchNorm
    net = m.build()
    assert [k for k in net.state_dict() if k.startswith("downsample")][:2] == \
        ["downsample.0.weight", "downsample.1.weight"]


def test_identity_shortcut_has_no_module():
    net = archdsl.build("input: 8x8x8\nAdd[Conv(8, 3, p=1), Shortcut:downsample]")
    assert not hasattr(net, "downsample")


def test_parallel_branches_need_a_merge():
    assert error("[Conv, Conv]", input="1x8x8")[0].code == "branches-without-merge"


def test_block_parameters_defaults_and_errors():
    lib = "block B(c, k=3, p=k // 2) { Conv(c, k, p=p) }\n"
    assert archdsl.load(lib + "model M { input: 3x8x8\n B(4, k=5) }").output_shape == (4, 8, 8)
    assert error(lib + "model M { input: 3x8x8\n B() }")[0].code == "missing-argument"
    diags = error(lib + "model M { input: 3x8x8\n B(4, kk=5) }")
    assert diags[0].code == "unknown-argument" and "k" in diags[0].hint
    assert error("block R(c) { R(c) }\nmodel M { input: 3x8x8\n R(4) }")[0].code == \
        "recursive-block"


def test_shape_mismatch_in_a_residual_block_points_at_the_layer_and_the_call():
    text = ("block Res(c) {\n  Add[ Conv(c, 3, p=1) - BN, Conv(c * 2, 1) ] - ReLU\n}\n"
            "model M {\n  input: 16x8x8\n  Res(16)\n}\n")
    diags = error(text)
    d = diags[0]
    assert d.code == "shape-mismatch" and "16x8x8" in d.message and "32x8x8" in d.message
    assert d.span.location() == "<string>:2:3"  # the Add, inside the block definition
    messages = [n.message for n in d.notes]
    assert "in block Res, called here" in messages
    call = [n for n in d.notes if n.message == "in block Res, called here"][0]
    assert call.span.location() == "<string>:6:3"  # the call in the model
    assert any("branch outputs 32x8x8" in m for m in messages)


def test_aux_side_outputs_and_their_order():
    text = ("model M {\n input: 3x16x16\n outputs: [main, b, a]\n"
            " Aux:a[GAP - FC(2)] - Conv(4, 3, p=1) - Aux:b[GAP - FC(2)] - GAP - FC(3)\n}")
    m = archdsl.load(text)
    assert [name for name, _ in m.outputs] == ["main", "b", "a"]
    net = m.build()
    import torch

    out = net.train()(torch.randn(2, 3, 16, 16))
    assert [t.shape[1] for t in out] == [3, 2, 2]
    with torch.no_grad():
        assert net.eval()(torch.randn(2, 3, 16, 16)).shape == (2, 3)


# --- YAML, explicit graphs, imports ----------------------------------------------------------------

def test_yaml_dag_with_from_references(tmp_path):
    spec = tmp_path / "fork.yaml"
    spec.write_text("""name: Fork
input: 3x8x8
blocks:
  Fork:
    params: [c]
    nodes:
      - {id: a, layer: "Conv(c, 1)"}
      - {id: b, layer: "Conv(c, 3, p=1)", from: input}
      - {id: both, layer: Concat, from: [a, b]}
layers: "Fork:f(4) - Fork:g(2)"
""")
    m = archdsl.load(spec)
    assert m.output_shape == (4, 8, 8)
    assert [n.name for n in m.layers()][:3] == ["f.a", "f.b", "f.both"]


def test_arch_imports_yaml_and_yaml_imports_arch(tmp_path):
    (tmp_path / "lib.arch").write_text("block Two(c) { Conv(c, 1) - ReLU }\n")
    (tmp_path / "lib.yaml").write_text("use: [lib.arch]\nblocks:\n  Three:\n    params: [c]\n"
                                       "    body: \"Two(c) - Conv(c, 1)\"\n")
    (tmp_path / "m.arch").write_text('use "lib.yaml"\nmodel M { input: 3x8x8\n Three(5) }\n')
    assert archdsl.load(tmp_path / "m.arch").output_shape == (5, 8, 8)


def test_yaml_errors_point_into_the_yaml_file(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: Bad\ninput: 3x8x8\nlayers: |\n  Conv(4, 1)\n  Poool\n")
    d = error(spec)[0]
    assert d.code == "unknown-layer" and d.span.location().endswith("bad.yaml:5:3")


def test_import_cycles_and_missing_files(tmp_path):
    (tmp_path / "a.arch").write_text('use "b.arch"\nblock A() { Conv(1, 1) }\n')
    (tmp_path / "b.arch").write_text('use "a.arch"\nblock B() { Conv(1, 1) }\n')
    (tmp_path / "m.arch").write_text('use "a.arch"\nmodel M { input: 1x4x4\n A() }\n')
    assert error(tmp_path / "m.arch")[0].code == "import-cycle"
    (tmp_path / "n.arch").write_text('use "nope.yaml"\nmodel N { input: 1x4x4\n Conv(1, 1) }\n')
    assert error(tmp_path / "n.arch")[0].code == "missing-import"


def test_shipped_block_libraries_import_from_any_folder(tmp_path):
    spec = tmp_path / "net.arch"
    spec.write_text('use "blocks/resnet.yaml"\nmodel N { input: 3x32x32\n'
                    '  Conv(64, 3, p=1) - BasicBlock(64) - BasicBlock(128, stride=2) }\n')
    model = archdsl.load(spec, roots=[tmp_path])  # a shipped library is no escape
    assert [n.name for n in model.layers()][:3] == ["conv1", "basicblock1.conv1",
                                                     "basicblock1.bn1"]
    # a library of the same name beside the spec wins over the shipped one
    (tmp_path / "blocks").mkdir()
    (tmp_path / "blocks" / "resnet.yaml").write_text(
        "blocks:\n  BasicBlock:\n    params: [planes, stride=1]\n"
        "    body: Conv(planes, 3, s=stride, p=1)\n")
    archdsl.clear_caches()
    assert len(archdsl.load(spec).layers()) == 3


def test_a_missing_import_names_every_place_searched(tmp_path):
    (tmp_path / "n.arch").write_text('use "blocks/nope.yaml"\nmodel N { input: 1x4x4\n'
                                     ' Conv(1, 1) }\n')
    d = error(tmp_path / "n.arch")[0]
    assert d.code == "missing-import"
    beside, shipped = d.hint.removeprefix("looked for ").split(" and ")
    assert beside == str(tmp_path / "blocks" / "nope.yaml")
    assert shipped.endswith("specs/blocks/nope.yaml")  # shown relative to the working directory


def test_zoo_names_work_everywhere(cli):
    assert archdsl.load("resnet50").totals.params == 25_557_032
    proc = cli("summary", "resnet50", "--json")
    assert proc.returncode == 0 and '"total_params": 25557032' in proc.stdout


def test_a_block_bound_with_true_and_with_1_gets_each_value():
    # bindings are memoised per argument values; true == 1 must not share an entry
    text = ("block B(x) { Conv(4, 1, bias=x) }\nblock C(x) { Dropout(x) }\n"
            "model M { input: 3x4x4\n B(true) - B(false) }")
    biases = [n.ann.params.bias for n in archdsl.load(text).layers()]
    assert biases == [True, False]
    text = "block D(k) { Conv(4, k) }\nmodel M { input: 3x8x8\n D(1) - D(3) - D(1) }"
    assert [n.ann.out_shape for n in archdsl.load(text).layers()] == [(4, 8, 8), (4, 6, 6),
                                                                      (4, 6, 6)]
    assert error("block B(x) { Conv(4, 1, bias=x) }\nmodel M { input: 3x4x4\n B(1) }")


def test_the_graph_as_networkx():
    import networkx as nx

    model = archdsl.load("resnet18")
    g = model.graph.to_networkx()
    assert isinstance(g, nx.DiGraph) and nx.is_directed_acyclic_graph(g)
    assert g.number_of_nodes() == len(model.layers()) + 1  # and the input
    assert g.nodes["conv1"] == {"op": "Conv", "shape": (64, 112, 112), "params": 9408}
    assert g.has_edge("layer1.0.relu2", "layer1.1.conv1")


def test_name_templates_are_evaluated_per_copy_from_one_parse():
    spec = """
block Unit(w) { Conv:conv(w, 3, p=1) - ReLU }
model M {
  input: 3x8x8
  Unit(4) x 3 as "unit{i * 2 + 1}" - Unit(4) x 2 as "extra{i+1}"
}
"""
    names = [n.name for n in archdsl.load(spec).layers() if n.op.name == "Conv"]
    assert names == ["unit1.conv", "unit3.conv", "unit5.conv", "extra1.conv", "extra2.conv"]
    with pytest.raises(ArchError, match="not an expression"):
        archdsl.load(spec.replace("i * 2 + 1", "i +"))


def test_modern_activations_build_what_torchvision_writes():
    import torch
    from torch import nn

    text = "Conv(16, 3) - BN - ReLU6 - Conv(16, 3) - BN - Hardswish - Conv(8, 1) - Swish - " \
           "Hardsigmoid(inplace=false) - Mish - PReLU(8, init=0.1) - GAP - FC"
    model = archdsl.load(text, input="3x12x12", classes=10)
    torch.manual_seed(0)
    net = model.build()
    hand = nn.Sequential(
        nn.Conv2d(3, 16, 3, bias=False), nn.BatchNorm2d(16), nn.ReLU6(inplace=True),
        nn.Conv2d(16, 16, 3, bias=False), nn.BatchNorm2d(16), nn.Hardswish(inplace=True),
        nn.Conv2d(16, 8, 1), nn.SiLU(inplace=True), nn.Hardsigmoid(), nn.Mish(),
        nn.PReLU(8, init=0.1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    hand.load_state_dict(dict(zip(hand.state_dict(), net.state_dict().values(), strict=True)))
    assert [repr(m) for m in net.children()][:11] == [repr(m) for m in hand][:11]
    x = torch.randn(2, 3, 12, 12)
    torch.testing.assert_close(net.eval()(x), hand.eval()(x))
    assert model.totals.params == sum(p.numel() for p in hand.parameters())


def test_prelu_counts_one_slope_or_one_per_channel():
    def params(prelu: str) -> int:
        return archdsl.load(f"Conv(16, 3) - {prelu} - FC", input="3x8x8", classes=4).totals.params

    assert params("PReLU(16)") - params("PReLU") == 15
    assert params("PReLU(n=16)") == params("PReLU(16)")
    err = error("Conv(16, 3) - PReLU(8) - FC", input="3x8x8", classes=4)
    assert "8 slopes but its input has 16 channels" in str(err)
