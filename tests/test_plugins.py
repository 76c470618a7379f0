"""Layer kinds from an installed package: a small plugin is written to a temporary folder as an
installed distribution (its package and a `.dist-info` declaring the `archdsl.kinds` entry
point), put on the path of the real command line, and used by `check`, `summary`, `compile`,
`render`, `diff`, the built module, the Jupyter display; its mistakes are diagnosed as its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

PLUGIN = '''
"""Ghost module (Han et al. 2020) as an archdsl layer kind. Importing it does not import torch:
the module class lives in ghost_kinds.modules, which generated code imports."""
import os

from archdsl.kinds import Op, Params, PositiveInt, Saved, TorchModule, prod

BUG = os.environ.get("GHOST_BUG", "")


class GhostParams(Params):
    out_channels: PositiveInt
    ratio: PositiveInt = 2


class Ghost(Op):
    """Ghost module: a 1x1 convolution to half the channels and a cheap depthwise 3x3 for the
    rest. `Ghost(64)`."""

    name = "Ghost"
    family = "conv"
    Params = GhostParams
    keywords = {"c": "out_channels"}
    summary = "ghost module (1x1 conv + cheap depthwise 3x3)"
    example = "Ghost(64)"
    imports = ("ghost_kinds.modules",)
    weighted = True

    def infer(self, p, ins, ctx):
        if BUG == "negative-shape":
            return (p.out_channels, -3, ins[0][2])
        if BUG == "raise-infer":
            raise KeyError("ratio")
        return (p.out_channels, *ins[0][1:])

    def param_count(self, p, ins, out):
        half = p.out_channels // p.ratio
        return ins[0][0] * half + (p.out_channels - half) * 9

    def macs(self, p, ins, out):
        if BUG == "float-macs":
            return 1.5
        half = p.out_channels // p.ratio
        return prod(out[1:]) * (ins[0][0] * half + (p.out_channels - half) * 9)

    def saved(self, p, ins, out, trainable):
        return Saved(inputs=(0,))

    def torch(self, p, ins, out):
        return TorchModule("ghost_kinds.modules.GhostModule", (ins[0][0], p.out_channels),
                           (("ratio", p.ratio),) if p.ratio != 2 else ())

    def label(self, p, ins, out):
        if BUG == "raise-label":
            raise RuntimeError("no label today")
        return f"Ghost {p.out_channels}"
'''

MODULES = '''
import torch
from torch import nn


class GhostModule(nn.Module):
    def __init__(self, in_channels, out_channels, ratio=2):
        super().__init__()
        half = out_channels // ratio
        self.primary = nn.Conv2d(in_channels, half, 1, bias=False)
        self.cheap = nn.Conv2d(half, out_channels - half, 3, padding=1, groups=half, bias=False)

    def forward(self, x):
        a = self.primary(x)
        return torch.cat([a, self.cheap(a)], 1)
'''

SPEC = """model GhostNetLet {
  input: 3x32x32
  classes: 10
  Conv(16, 3, p=1) - BN - ReLU - Ghost(32) - BN - ReLU - MPool - Ghost(c=64) - GAP - FC
}
"""


def install(root, package="ghost_kinds", dist="archdsl_ghost", broken=False):
    """The layout pip leaves in site-packages: the package and its .dist-info."""
    pkg = root / package
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('half installed')" if broken else PLUGIN)
    (pkg / "modules.py").write_text(MODULES)
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist.replace('_', '-')}\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text(f"[archdsl.kinds]\nGhost = {package}:Ghost\n")
    return root


@pytest.fixture
def plugin_env(tmp_path):
    site = install(tmp_path / "site")
    (tmp_path / "ghostnet.arch").write_text(SPEC)
    env = {"PYTHONPATH": str(site) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return tmp_path, env


def test_a_plugin_kind_works_in_every_command(cli, plugin_env):
    folder, env = plugin_env
    spec = str(folder / "ghostnet.arch")
    ops = cli("ops", "--json", env=env)
    assert "Ghost" in {r["name"] for r in json.loads(ops.stdout)}
    check = cli("check", spec, env=env)
    assert check.returncode == 0, check.stderr
    summary = cli("summary", spec, "--json", env=env)
    assert summary.returncode == 0, summary.stderr
    record = json.loads(summary.stdout)
    ghosts = [r for r in record["layers"] if r["op"] == "Ghost"]
    assert [g["output_shape"] for g in ghosts] == [[32, 32, 32], [64, 16, 16]]
    assert ghosts[0]["params"] == 16 * 16 + 16 * 9
    render = cli("render", spec, "-o", str(folder / "g.svg"), env=env)
    assert render.returncode == 0, render.stderr
    assert "Ghost 32" in (folder / "g.svg").read_text()
    other = folder / "other.arch"
    other.write_text(SPEC.replace("Ghost(c=64)", "Ghost(c=128)"))
    diff = cli("diff", spec, str(other), env=env)
    assert diff.returncode == 0, diff.stderr
    assert "Ghost" in diff.stdout


def test_generated_source_names_the_package_and_runs_where_it_is_installed(cli, plugin_env):
    folder, env = plugin_env
    out = folder / "ghostnet.py"
    result = cli("compile", str(folder / "ghostnet.arch"), "-o", str(out), env=env)
    assert result.returncode == 0, result.stderr
    source = out.read_text()
    assert "Needs the package archdsl-ghost installed (layer kind Ghost)." in source
    assert "import ghost_kinds.modules" in source
    run = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import torch, ghostnet
        net = ghostnet.GhostNetLet()
        print(tuple(net(torch.randn(2, 3, 32, 32)).shape))
        """)], capture_output=True, text=True, cwd=folder,
                         env={**os.environ, **env, "PYTHONPATH": f"{folder}{os.pathsep}"
                              f"{env['PYTHONPATH']}"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "(2, 10)"


def test_the_api_builds_and_displays_a_plugin_kind(plugin_env):
    folder, env = plugin_env
    code = textwrap.dedent(f"""
        import archdsl, torch
        m = archdsl.load({str(folder / "ghostnet.arch")!r})
        net = m.build()
        assert tuple(net(torch.randn(1, 3, 32, 32)).shape) == (1, 10)
        assert sum(p.numel() for p in net.parameters()) == m.summary()["total_params"]
        html = m._repr_html_()
        assert "Ghost" in html, html[:500]
        print("ok")
        """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **env})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


def test_a_wrong_argument_points_at_it(cli, plugin_env):
    folder, env = plugin_env
    bad = folder / "bad.arch"
    bad.write_text(SPEC.replace("Ghost(32)", "Ghost(32, ratio=true)"))
    result = cli("check", str(bad), env=env)
    assert result.returncode == 1
    assert "[bad-argument]" in result.stderr
    assert "ratio" in result.stderr and "^" in result.stderr


def test_a_kind_whose_plugin_is_missing_is_named(cli, tmp_path):
    (tmp_path / "ghostnet.arch").write_text(SPEC)
    result = cli("check", str(tmp_path / "ghostnet.arch"))
    assert result.returncode == 1
    assert "unknown layer 'Ghost'" in result.stderr
    assert "plugin" in result.stderr
    broken = install(tmp_path / "site", broken=True)
    result = cli("check", str(tmp_path / "ghostnet.arch"), env={"PYTHONPATH": str(broken)})
    assert result.returncode == 1
    assert "unknown layer 'Ghost'" in result.stderr
    assert "archdsl-ghost" in result.stderr and "half installed" in result.stderr


@pytest.mark.parametrize("bug, command, says", [
    ("negative-shape", "check", "failed in infer(): returned the shape (32, -3, 32)"),
    ("raise-infer", "check", "failed in infer(): KeyError: 'ratio'"),
    ("float-macs", "summary", "failed in macs(): returned 1.5, not an integer"),
    ("raise-label", "render", "failed in label(): RuntimeError: no label today"),
])
def test_a_broken_plugin_is_reported_as_its_own_error(cli, plugin_env, bug, command, says):
    folder, env = plugin_env
    args = [command, str(folder / "ghostnet.arch")]
    if command == "render":
        args += ["-o", str(folder / "g.svg")]
    result = cli(*args, env={**env, "GHOST_BUG": bug})
    assert result.returncode == 1, result.stderr
    assert "internal error" not in result.stderr
    assert "[plugin-error]" in result.stderr
    assert "layer kind 'Ghost' from the plugin 'archdsl-ghost'" in result.stderr
    assert says in result.stderr


def test_registering_a_kind_from_python_and_again_after_a_change():
    code = textwrap.dedent('''
        import archdsl
        from archdsl.kinds import Op, TorchModule, register_kind

        def define(label):
            class Twice(Op):
                """Doubles its input. `Twice`."""
                name = "TwiceKind"
                summary = "doubles"
                def torch(self, p, ins, out):
                    return TorchModule("nn.Identity")
                def label(self, p, ins, out):
                    return label
            return Twice

        register_kind(define("first"))
        register_kind(define("second"))  # a notebook cell run again
        m = archdsl.load("Conv(4, 3) - TwiceKind", input="3x8x8")
        assert [n.op.label(n.ann.params, n.ann.in_shapes, n.ann.out_shape)
                for n in m.layers()][-1] == "second"
        print("ok")
        ''')
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


def test_a_plugin_kind_with_traits_is_treated_like_a_built_in_one():
    """Traits are the whole contract: an elementwise plugin activation folds into the box before
    it in diagrams, as ReLU does; a plugin merge (two inputs, a glyph) is drawn as a circle and
    counted as a merge; an op whose output backward needs keeps an in-place ReLU away from it."""
    code = textwrap.dedent('''
        import archdsl
        from archdsl.kinds import Functional, Op, TorchModule, register_kind
        from archdsl.render.diagram import Options, build_diagram

        class Mish2(Op):
            """Mish, from a plugin. `Mish2`."""
            name = "Mish2"
            family = "act"
            elementwise = True
            fresh_output = True  # a new tensor, so an in-place ReLU could follow...
            output_needed_for_backward = True  # ...were its output not needed for backward
            summary = "mish"
            def torch(self, p, ins, out):
                return TorchModule("nn.Mish")
            def label(self, p, ins, out):
                return "Mish2"

        class Max2(Op):
            """Elementwise maximum of two branches, from a plugin. `Max2[a, b]`."""
            name = "Max2"
            arity = None
            module = False
            glyph = "max"
            summary = "elementwise maximum"
            def infer(self, p, ins, ctx):
                return ins[0]
            def torch(self, p, ins, out):
                return Functional("torch.maximum({0}, {1})")
            def label(self, p, ins, out):
                return "max"

        register_kind(Mish2)
        register_kind(Max2)
        def boxes(text):
            d = build_diagram(archdsl.load(text, input="3x16x16"), Options(view="blocks"))
            return [(b.title, b.folded, b.glyph) for b in d.boxes() if not b.io]
        plugin = boxes("Conv(8, 3) - BN - Mish2 - MPool")
        builtin = boxes("Conv(8, 3) - BN - Mish - MPool")
        assert [f for _, f, _ in plugin] == [["BN", "Mish2"], []], plugin
        assert [f for _, f, _ in builtin] == [["BN", "Mish"], []], builtin
        merged = boxes("Conv(8, 3) - Max2[Id, Conv(8, 3, p=1)]")
        assert any(g for _, _, g in merged), merged
        m = archdsl.load("Conv(8, 3) - Mish2 - ReLU - Max2[Id, Conv(8, 3, p=1)]",
                         input="3x16x16")
        code = m.source()
        assert "nn.Mish()" in code and "nn.ReLU()" in code, code  # not ReLU(inplace=True)
        import torch
        net = m.build().eval()
        x = torch.randn(2, 3, 16, 16)
        assert net(x).shape == (2, 8, 14, 14)
        print("ok")
        ''')
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"
