"""`archdsl render` as a user runs it: formats by extension, exit codes, a missing Graphviz,
determinism across processes, and no torch import."""

from __future__ import annotations

import os
import sys
import xml.etree.ElementTree as ET

import pytest


@pytest.mark.slow
@pytest.mark.parametrize("ext, magic", [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF-"),
                                        ("dot", b"digraph")])
def test_format_follows_the_extension(cli, tmp_path, ext, magic):
    out = tmp_path / f"lenet5.{ext}"
    proc = cli("render", "specs/lenet5.arch", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(magic)


@pytest.mark.slow
def test_featuremaps_png_and_dpi(cli, tmp_path):
    low, high = tmp_path / "low.png", tmp_path / "high.png"
    for out, dpi in ((low, "50"), (high, "200")):
        proc = cli("render", "specs/alexnet.arch", "--style", "featuremaps", "--dpi", dpi,
                   "-o", str(out))
        assert proc.returncode == 0, proc.stderr
    assert width_of(high) == pytest.approx(4 * width_of(low), rel=0.02)


def width_of(png) -> int:
    data = png.read_bytes()
    return int.from_bytes(data[16:20], "big")


def test_stdout_and_format_flag(cli):
    proc = cli("render", "lenet5", "-o", "-", "--view", "blocks", "--theme", "print")
    assert proc.returncode == 0, proc.stderr
    ET.fromstring(proc.stdout.encode())
    dot = cli("render", "lenet5", "-o", "-", "--format", "dot")
    assert dot.stdout.startswith('digraph "LeNet5"')


@pytest.mark.slow
def test_same_output_in_every_process(cli, tmp_path):
    outputs = []
    for seed in ("0", "1", "12345"):
        out = tmp_path / f"g{seed}.svg"
        proc = cli("render", "googlenet", "--view", "blocks", "--shapes", "-o", str(out),
                   env={"PYTHONHASHSEED": seed})
        assert proc.returncode == 0, proc.stderr
        dot = cli("render", "googlenet", "--view", "blocks", "--shapes", "-o", "-", "--format",
                  "dot", env={"PYTHONHASHSEED": seed})
        outputs.append((out.read_bytes(), dot.stdout))
    assert outputs[0] == outputs[1] == outputs[2]


def test_missing_dot_says_how_to_install_it(cli, tmp_path):
    env = {"PATH": str(tmp_path)}  # no `dot` there
    proc = cli("render", "lenet5", "-o", str(tmp_path / "x.svg"), env=env)
    assert proc.returncode == 3
    assert "apt-get install graphviz" in proc.stderr
    assert "Traceback" not in proc.stderr
    dot = cli("render", "lenet5", "-o", str(tmp_path / "x.dot"), env=env)
    assert dot.returncode == 0, dot.stderr
    assert (tmp_path / "x.dot").read_text().startswith("digraph")
    featuremaps = cli("render", "lenet5", "--style", "featuremaps", "-o",
                      str(tmp_path / "f.svg"), env=env)
    assert featuremaps.returncode == 0, featuremaps.stderr  # drawn without Graphviz


@pytest.mark.parametrize("args, message", [
    (["-o", "x.txt"], "cannot tell the format"),
    (["-o", "x.dot", "--style", "featuremaps"], "featuremaps"),
    (["-o", "x.svg", "--expand", "layer9"], "top-level names: layer1, layer2"),
    (["-o", "x.svg", "--dpi", "0"], "dpi must be between"),
    (["-o", "x.svg", "--view", "bricks"], "invalid choice"),
])
def test_usage_errors(cli_inprocess, tmp_path, args, message):
    args = [a if not a.startswith("x.") else str(tmp_path / a) for a in args]
    proc = cli_inprocess("render", "resnet50", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr


def test_invalid_spec_is_a_diagnostic(cli, tmp_path):
    proc = cli("render", "Conv-ReLU-Poool-FC", "--input", "1x28x28", "-o",
               str(tmp_path / "x.svg"))
    assert proc.returncode == 1
    assert "unknown-layer" in proc.stderr and "Traceback" not in proc.stderr


def test_unwritable_output(cli, tmp_path):
    proc = cli("render", "lenet5", "-o", str(tmp_path / "missing" / "x.dot"))
    assert proc.returncode == 2 and "cannot write" in proc.stderr


def test_render_does_not_import_torch(cli, tmp_path):
    code = ("import sys; from archdsl.cli.main import main; "
            f"main(['render', 'resnet50', '-o', {str(tmp_path / 'r.svg')!r}]); "
            f"main(['render', 'alexnet', '--style', 'featuremaps', '-o', "
            f"{str(tmp_path / 'a.png')!r}]); "
            "print('torch' in sys.modules)")
    import subprocess

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
