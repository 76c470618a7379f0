"""Transfer learning, as the notes describe it: freeze the backbone, retrain a new head."""

import json

import pytest
import torch

import archdsl
from archdsl import ArchError

BACKBONE = ["conv1", "bn1", "layer1", "layer2", "layer3", "layer4"]


def test_freeze_marks_exactly_the_named_modules():
    model = archdsl.load("resnet18", freeze=["conv1", "bn1", "layer1"])
    frozen = {n.name for n in model.layers() if n.frozen and n.ann.param_count}
    assert frozen == {n.name for n in model.layers() if n.ann.param_count and
                      (n.name in ("conv1", "bn1") or n.name.startswith("layer1."))}
    t = model.totals
    assert t.frozen == sum(n.ann.param_count for n in model.layers() if n.frozen)
    assert t.trainable + t.frozen == t.params == 11_689_512


def test_built_module_has_requires_grad_false_on_exactly_the_frozen_parameters():
    net = archdsl.build("resnet18", freeze=["conv1", "bn1", "layer1", "layer2.0"])
    for name, p in net.named_parameters():
        expect_frozen = name.split(".")[0] in ("conv1", "bn1", "layer1") or \
            name.startswith("layer2.0.")
        assert p.requires_grad is not expect_frozen, name


def test_glob_patterns_and_stage_names():
    model = archdsl.load("resnet50", freeze=["layer*", "conv1"])
    trainable = {n.name for n in model.layers() if not n.frozen and n.ann.param_count}
    assert trainable == {"bn1", "fc"}


def test_unknown_freeze_name_is_a_diagnostic():
    with pytest.raises(ArchError) as err:
        archdsl.load("resnet18", freeze=["layer9"])
    assert err.value.diagnostics[0].code == "bad-setting"
    assert "layer9" in err.value.diagnostics[0].message
    assert "did you mean" in err.value.diagnostics[0].hint


def test_freeze_setting_in_a_spec_and_on_the_cli(cli, tmp_path):
    spec = tmp_path / "ft.arch"
    spec.write_text('model FT {\n  input: 3x32x32\n  freeze: [conv1, "bn*"]\n'
                    '  Conv:conv1(8, 3) - BN:bn1 - ReLU - GAP - FC:fc(2)\n}\n')
    data = json.loads(cli("summary", str(spec), "--json").stdout)
    assert data["frozen_params"] == 8 * 3 * 9 + 16 and data["trainable_params"] == 8 * 2 + 2
    data = json.loads(cli("summary", "resnet18", "--json", "--freeze", "conv1,bn1",
                          "--freeze", "layer1").stdout)
    assert data["frozen_params"] == 9408 + 128 + 147_968


def test_head_replaces_the_classifier_and_keeps_its_name():
    model = archdsl.load("resnet50", head="FC(2)")
    fc = [n for n in model.layers() if n.name == "fc"]
    assert len(fc) == 1 and fc[0].ann.out_shape == (2,)
    assert model.totals.params == 25_557_032 - (2048 * 1000 + 1000) + (2048 * 2 + 2)


def test_a_multi_layer_head_becomes_a_group_under_the_old_name():
    net = archdsl.build("resnet18", head="FC(256) - ReLU - Dropout(0.2) - FC(3)")
    assert isinstance(net.fc, torch.nn.Sequential)
    assert [type(m).__name__ for m in net.fc] == ["Linear", "ReLU", "Dropout", "Linear"]
    assert net(torch.randn(2, 3, 224, 224)).shape == (2, 3)


def test_head_on_the_cli(cli):
    proc = cli("summary", "resnet18", "--head", "FC(2)", "--json")
    assert json.loads(proc.stdout)["output_shape"] == [2]


@pytest.mark.slow
def test_recipe_pretrained_weights_from_a_local_file(tmp_path):
    """The README's recipe: torchvision weights saved locally, frozen backbone, new head."""
    import torchvision

    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pt"
    torch.save(reference.state_dict(), path)

    net = archdsl.build("resnet18", freeze=BACKBONE, head="FC(2)")
    skipped = archdsl.load_pretrained(net, path)
    assert skipped == ["fc.weight", "fc.bias"]
    assert torch.equal(net.layer3[1].conv2.weight, reference.layer3[1].conv2.weight)
    trainable = [name for name, p in net.named_parameters() if p.requires_grad]
    assert trainable == ["fc.weight", "fc.bias"]

    before = {k: v.clone() for k, v in net.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    net.train()
    loss = torch.nn.functional.cross_entropy(net(torch.randn(4, 3, 224, 224)),
                                             torch.tensor([0, 1, 0, 1]))
    loss.backward()
    optimizer.step()
    changed = {k for k, v in net.state_dict().items() if not torch.equal(v, before[k])}
    assert {"fc.weight", "fc.bias"} <= changed
    assert not any(k.endswith(("weight", "bias")) and not k.startswith("fc.") for k in changed)


def test_load_pretrained_refuses_a_different_architecture():
    net = archdsl.build("lenet5")
    with pytest.raises(KeyError):
        archdsl.load_pretrained(net, {"layer9.weight": torch.zeros(1)})
