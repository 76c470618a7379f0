"""Importing a PyTorch model (issue 18): `archdsl.from_torch` and `archdsl import`, with user
modules archdsl cannot express (a CoordConv, a Python `if` on the input's values) inside a small
CNN: they import as Opaque layers, `summary` and `render` work, and `compile` refuses them,
naming each. The importer itself (`archdsl.importer`) is tested in its own files; here, the API
and the command around it. Small models on 16x16 inputs keep each test well under a second
(the command-line ones pay torch's import)."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

torch = pytest.importorskip("torch")

import archdsl  # noqa: E402
from archdsl.imported import input_shape, parse_args_option  # noqa: E402

# A user's module, as a file: the command imports it by path, the API tests by module.
USER_MODULE = '''
import torch
from torch import nn


class CoordConv(nn.Module):
    """Appends the x and y coordinates (in [-1, 1]) as two channels, then convolves."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin + 2, cout, 3, padding=1)

    def forward(self, x):
        n, _, h, w = x.shape
        ys = torch.linspace(-1, 1, h).view(1, 1, h, 1).expand(n, 1, h, w)
        xs = torch.linspace(-1, 1, w).view(1, 1, 1, w).expand(n, 1, h, w)
        return self.conv(torch.cat([x, xs, ys], 1))


class Gate(nn.Module):
    """A Python `if` on the input's values: no trace can follow it."""

    def forward(self, x):
        if x.mean() > 0:
            return x
        return -x


class GatedNet(nn.Module):
    def __init__(self, width=8, num_classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, padding=1)
        self.relu = nn.ReLU()
        self.gate = Gate()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        x = self.gate(self.relu(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


class CoordNet(nn.Module):
    def __init__(self, width=8, num_classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, padding=1)
        self.relu = nn.ReLU()
        self.coord = CoordConv(width, width)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        x = self.coord(self.relu(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def gated_net(width=8, num_classes=10):
    return GatedNet(width, num_classes)


class PlainNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.relu(self.bn(self.conv(x)))), 1))


def plain_net(num_classes=10):
    return PlainNet(num_classes)


def echo(**kwargs):
    """Returns its keyword arguments as a module's attribute, for --args tests."""
    net = plain_net()
    net.received = kwargs
    return net


def broken(width=8):
    raise ValueError(f"width {width} is not supported")


class TwoInputs(nn.Module):
    def forward(self, x, y):
        return x + y
'''



@pytest.fixture(scope="module")
def user_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user")
    path = folder / "usermodels.py"
    path.write_text(USER_MODULE, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def user(user_file):
    spec = importlib.util.spec_from_file_location("usermodels", user_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules["usermodels"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("usermodels", None)


def torch_params(net) -> int:
    return sum(p.numel() for p in net.parameters())


# --- the Python API ----------------------------------------------------------------------------
def test_python_if_becomes_an_opaque_layer(user):
    net = user.GatedNet()
    model = archdsl.from_torch(net, input="3x16x16")
    assert isinstance(model, archdsl.Model)
    assert [(o.name, o.type) for o in model.opaque] == [("gate", "usermodels.Gate")]
    assert model.opaque[0].why  # says why, in the importer's words
    assert model.totals.params == torch_params(net)
    assert model.output_shape == (10,)
    assert 'Opaque:gate(out=(8, 16, 16)' in model.spec_text


def test_an_imported_model_summarises_draws_and_refuses_to_compile(user):
    model = archdsl.from_torch(user.GatedNet(), input=(3, 16, 16))
    table = model.table()
    assert "gate" in table and "(gate not counted" in table
    assert "Gate (opaque)" in model.render(format="dot", view="layers").decode()
    assert "gate" in model._repr_html_()  # the notebook display: diagram and table
    with pytest.raises(archdsl.ArchError) as err:
        model.build()
    assert err.value.diagnostics[0].code == "not-compilable"
    assert err.value.diagnostics[0].message.startswith(
        "layer 'gate' is opaque: imported from usermodels.Gate, which archdsl cannot express (")
    with pytest.raises(archdsl.ArchError):
        archdsl.compile(model)


def test_coordconv_becomes_an_opaque_layer(user):
    net = user.CoordNet()
    model = archdsl.from_torch(net, input="3x16x16")
    assert [o.type for o in model.opaque] == ["usermodels.CoordConv"]
    assert model.totals.params == torch_params(net)
    with pytest.raises(archdsl.ArchError, match="is opaque: imported from usermodels.CoordConv"):
        model.source()


def test_a_model_without_opaque_layers_compiles_and_takes_its_weights(user):
    net = user.plain_net(num_classes=3).eval()
    model = archdsl.from_torch(net, input="3x16x16", name="Plain")
    assert model.opaque == () and model.name == "Plain"
    built = model.build().eval()
    built.load_state_dict(net.state_dict(), strict=True)
    x = torch.randn(2, 3, 16, 16)
    assert torch.allclose(built(x), net(x), atol=1e-5)


def test_the_spec_text_loads_again(user, tmp_path):
    model = archdsl.from_torch(user.GatedNet(width=4), input="3x16x16")
    path = tmp_path / "gated.arch"
    path.write_text(model.spec_text, encoding="utf-8")
    again = archdsl.load(path)
    assert again.totals.params == model.totals.params
    assert [n.name for n in again.layers()] == [n.name for n in model.layers()]


def test_settings_pass_through_to_load(user):
    model = archdsl.from_torch(user.plain_net(), input="3x16x16", freeze=["conv"])
    assert model.totals.frozen == 8 * 27


@pytest.mark.parametrize("given", ["3x16x16", (3, 16, 16), [3, 16, 16], "3,16,16"])
def test_input_as_text_or_tuple(given):
    assert input_shape(given) == (3, 16, 16)


@pytest.mark.parametrize("given, words", [
    ("1x3x224x224", "without the batch; write 3x224x224"),
    ((1, 3, 224, 224), "without the batch; write 3x224x224"),
    ("3x224", "2 dimensions"),
    (3.5, "tuple of whole numbers"),
    ((3, -1, 4), "negative dimension"),
])
def test_bad_input_sizes_are_diagnostics(given, words):
    with pytest.raises(archdsl.ArchError) as err:
        input_shape(given)
    assert err.value.diagnostics[0].code == "bad-input" and words in str(err.value)


def test_a_forward_that_fails_on_the_input_is_a_diagnostic(user):
    with pytest.raises(archdsl.ArchError) as err:
        archdsl.from_torch(user.GatedNet(), input="1x16x16")  # one channel, the stem wants 3
    diag = err.value.diagnostics[0]
    assert diag.code == "import-failed" and "on one 1x16x16 input raised RuntimeError" in \
        diag.message


def test_not_a_module():
    with pytest.raises(archdsl.ArchError) as err:
        archdsl.from_torch({"fc.weight": 1}, input="3x16x16")
    assert err.value.diagnostics[0].code == "not-a-module"


def test_args_are_json_literals_or_text_never_python():
    assert parse_args_option(["num_classes=10", "aux_logits=true", "p=0.5", "mode=bilinear",
                              "sizes=[1, 2]", "name=\"x\"", "none=null", "empty="]) == {
        "num_classes": 10, "aux_logits": True, "p": 0.5, "mode": "bilinear",
        "sizes": [1, 2], "name": "x", "none": None, "empty": ""}
    hostile = "__import__('os').system('echo pwned')"
    assert parse_args_option([f"x={hostile}"]) == {"x": hostile}  # text, not run
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_args_option(["width"])


# --- the command -------------------------------------------------------------------------------
def test_cli_import_summary_render_compile(cli, user_file, tmp_path):
    """The real commands, one after another, as the README shows them."""
    out = tmp_path / "gated.arch"
    imported = cli("import", f"{user_file}:gated_net", "--input", "3x16x16", "--args", "width=4",
                   "-o", str(out))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == ""
    lines = imported.stderr.splitlines()
    assert lines[0].startswith(f"wrote {out} (") and "GatedNet" in lines[0]
    assert lines[1].startswith("1 layer is opaque (archdsl cannot express it")
    assert lines[2].split()[:2] == ["gate", "usermodels.Gate:"]
    summary = cli("summary", str(out))
    assert summary.returncode == 0 and "+ ? (gate not counted" in summary.stdout
    render = cli("render", str(out), "-o", str(tmp_path / "gated.svg"))
    assert render.returncode == 0 and (tmp_path / "gated.svg").read_text().count("<svg") == 1
    compiled = cli("compile", str(out))
    assert compiled.returncode == 1 and compiled.stdout == ""
    assert "error: layer 'gate' is opaque: imported from usermodels.Gate" in compiled.stderr
    assert f"{out.name}:" in compiled.stderr and "^^^" in compiled.stderr


def test_cli_spec_on_stdout(cli_inprocess, user_file):
    proc = cli_inprocess("import", f"{user_file}:gated_net", "--input", "3x16x16",
                         "--args", "num_classes=3")
    assert proc.returncode == 0
    model = archdsl.load(proc.stdout)  # stdout holds the spec and nothing else
    assert model.output_shape == (3,) and "gated_net --args num_classes=3" in proc.stdout
    assert "gate" in proc.stderr and "wrote" not in proc.stderr


def test_cli_quiet_keeps_the_opaque_list(cli_inprocess, user_file, tmp_path):
    proc = cli_inprocess("import", f"{user_file}:gated_net", "--input", "3x16x16", "-q",
                         "-o", str(tmp_path / "g.arch"))
    assert proc.returncode == 0 and "wrote" not in proc.stderr
    assert "1 layer is opaque" in proc.stderr


def test_cli_json(cli_inprocess, user_file, tmp_path):
    proc = cli_inprocess("import", f"{user_file}:gated_net", "--input", "3x16x16", "--json")
    data = json.loads(proc.stdout)
    assert proc.returncode == 0 and proc.stderr == ""
    assert data["opaque"] == [{"name": "gate", "type": "usermodels.Gate",
                               "why": data["opaque"][0]["why"]}]
    assert data["input_shape"] == [3, 16, 16] and data["output_shape"] == [10]
    assert archdsl.load(data["spec"]).totals.params == data["total_params"]
    out = tmp_path / "g.arch"
    proc = cli_inprocess("import", f"{user_file}:gated_net", "--input", "3x16x16", "--json",
                         "-o", str(out))
    data = json.loads(proc.stdout)
    assert data["output"] == str(out) and "spec" not in data and out.is_file()


def test_cli_args_reach_the_callable(cli_inprocess, user_file, user, monkeypatch):
    seen = {}
    real = archdsl.imported.from_torch

    def spy(module, *a, **k):
        seen.update(module.received)
        return real(module, *a, **k)

    monkeypatch.setattr(archdsl.imported, "from_torch", spy)
    proc = cli_inprocess("import", f"{user_file}:echo", "--input", "3x16x16",
                         "--args", "n=10", "--args", "flag=true", "--args", "word=bilinear",
                         "--args", "code=__import__('os')")
    assert proc.returncode == 0, proc.stderr
    assert seen == {"n": 10, "flag": True, "word": "bilinear", "code": "__import__('os')"}


@pytest.mark.parametrize("argv, code, words", [
    (["{file}:broken", "--args", "width=3"], 1, "raised ValueError: width 3 is not supported"),
    (["{file}:gated_nett"], 1, "did you mean 'gated_net'?"),
    (["{file}:plain_net", "--input", "1x16x16"], 1, "on one 1x16x16 input raised RuntimeError"),
    (["no_such_user_module:net"], 1, "no Python module 'no_such_user_module'"),
    (["{file}:plain_net", "--input", "1x3x16x16"], 1, "without the batch; write 3x16x16"),
    (["{file}:TwoInputs"], 1, "forward takes 2 inputs (x, y); archdsl reads models of one"),
    (["{file}"], 2, "is not MODULE:CALLABLE"),
    (["{file}:plain_net", "--args", "width"], 2, "--args: 'width' is not NAME=VALUE"),
])
def test_cli_errors_are_diagnostics(cli_inprocess, user_file, argv, code, words):
    argv = [a.replace("{file}", str(user_file)) for a in argv]
    proc = cli_inprocess("import", *argv)
    assert proc.returncode == code, proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr


def test_cli_help_teaches_with_an_example(cli_inprocess):
    text = cli_inprocess("import", "--help").stdout
    assert "archdsl import torchvision.models:resnet50 --input 3x224x224 -o resnet50.arch" in text
    assert "--args" in text and "Opaque" in text


def test_a_torchvision_built_for_another_torch_gets_a_hint(cli_inprocess, tmp_path):
    """The registry's CUDA torchvision with a CPU torch fails on its compiled operators."""
    module = tmp_path / "mismatched.py"
    module.write_text('raise RuntimeError("operator torchvision::nms does not exist")\n')
    proc = cli_inprocess("import", f"{module}:resnet18")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "this torchvision was built for another torch than yours" in proc.stderr
