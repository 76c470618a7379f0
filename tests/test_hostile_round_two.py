"""Hostile input, round two (issue 16): the classes the diagnostics corpus cannot show (it runs
in process, on files in the repository): the operating system's refusals of paths, output
streams that cannot be written, export options through the API, weights files, and the
escaping of control characters. Each must end as a diagnostic or a usage error with the
documented exit code, never as exit 70.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import archdsl
from archdsl.diagnostics import Diagnostic, escaped, render_text
from conftest import ROOT

SPEC = "Conv(4, 3) - FC(2)"
FLAGS = ("--input", "1x8x8")


def _code(fn) -> str:
    with pytest.raises(archdsl.ArchError) as info:
        fn()
    return info.value.diagnostics[0].code


# --- class 3: every path through archdsl/paths.py --------------------------------------------


@pytest.mark.parametrize("flags", [[], ["--no-escape"]])
def test_a_spec_that_is_a_symlink_loop_says_so(flags, tmp_path, cli_inprocess):
    loop = tmp_path / "loop.arch"
    loop.symlink_to(loop)
    proc = cli_inprocess("check", str(loop), *flags)
    assert proc.returncode == 1 and "symbolic links form a loop" in proc.stderr, proc.stderr
    assert "did you mean" not in proc.stderr


@pytest.mark.parametrize("target", ["loop", "long", "nul"])
def test_a_use_path_the_system_refuses_is_bad_import(tmp_path, target):
    if target == "loop":
        (tmp_path / "a.arch").symlink_to(tmp_path / "b.arch")
        (tmp_path / "b.arch").symlink_to(tmp_path / "a.arch")
        path = "a.arch"
    else:
        path = "x" * 5000 + ".arch" if target == "long" else "a\\0b.arch"
    spec = tmp_path / "net.yaml"
    spec.write_text(f'name: Net\ninput: 1x8x8\nuse: ["{path}"]\nlayers: "ReLU"\n',
                    encoding="utf-8")
    with pytest.raises(archdsl.ArchError) as info:
        archdsl.load(spec)
    diag = info.value.diagnostics[0]
    assert diag.code == "bad-import" and diag.span is not None, info.value
    assert "\x00" not in render_text([diag])


# --- class 4: one output writer, one error policy --------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("argv", [["compile", SPEC, *FLAGS],
                                  ["summary", SPEC, *FLAGS, "--format", "csv"],
                                  ["check", SPEC, *FLAGS, "--json"],
                                  ["summary", SPEC, *FLAGS]])
def test_a_full_stdout_is_exit_3_with_one_line(argv):
    exe = Path(sys.executable).with_name("archdsl")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([str(exe), *argv], stdout=full, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT, env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr == "archdsl: error: cannot write to standard output: No space left " \
                          "on device\n"


def test_a_closed_stdout_is_exit_3():
    exe = Path(sys.executable).with_name("archdsl")
    proc = subprocess.run(f"'{exe}' summary '{SPEC}' --input 1x8x8 --format csv >&-",
                          shell=True, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.returncode == 3 and "standard output: it is closed" in proc.stderr, proc.stderr


@pytest.mark.parametrize("argv", [["summary", "resnet50"], ["compile", "resnet50"]])
def test_a_reader_that_goes_away_ends_the_command_quietly(argv):
    exe = Path(sys.executable).with_name("archdsl")
    proc = subprocess.Popen([str(exe), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT)
    proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait() == 0 and err == "", err


def test_output_paths_are_checked_before_the_work(cli_inprocess, tmp_path):
    for argv in (["summary", SPEC, *FLAGS, "-o", str(tmp_path / "none" / "t.txt")],
                 ["summary", SPEC, *FLAGS, "-o", str(tmp_path)],
                 ["render", SPEC, *FLAGS, "-o", str(tmp_path / "none" / "d.svg")],
                 ["compile", SPEC, *FLAGS, "-o", str(tmp_path / "none" / "m.py")],
                 ["compile", SPEC, *FLAGS, "--format", "onnx", "-o", str(tmp_path)]):
        proc = cli_inprocess(*argv)
        assert proc.returncode == 2 and "cannot write" in proc.stderr, (argv, proc.stderr)


# --- class 9: export options are checked by the API the CLI calls ------------------------------


@pytest.mark.parametrize("options", [dict(opset=3), dict(opset=True), dict(outputs="some"),
                                     dict(optimize="training")])
def test_export_options_are_checked_by_the_api(options, tmp_path, monkeypatch):
    from archdsl.runtime import torch_build

    monkeypatch.setattr(torch_build, "build_module", lambda *a, **k: pytest.fail("built"))
    model = archdsl.load(SPEC, input="1x8x8")
    with pytest.raises(ValueError):
        model.export(tmp_path / "m.onnx", **options)


def test_an_export_onto_a_directory_fails_before_building(tmp_path, monkeypatch):
    from archdsl.runtime import torch_build
    from archdsl.runtime.export import ExportOptionError

    monkeypatch.setattr(torch_build, "build_module", lambda *a, **k: pytest.fail("built"))
    (tmp_path / "d.onnx").mkdir()
    with pytest.raises(ExportOptionError, match="directory"):
        archdsl.load(SPEC, input="1x8x8").export(tmp_path / "d.onnx")


# --- class 2: settings within torch's range ----------------------------------------------------


@pytest.mark.parametrize("seed", [2**63, -1, 1.5, True])
def test_a_seed_torch_cannot_take_is_bad_setting(seed):
    assert _code(lambda: archdsl.load(SPEC, input="1x8x8", seed=seed)) == "bad-setting"


def test_the_largest_seed_builds():
    archdsl.build(SPEC, input="1x8x8", seed=2**63 - 1)


# --- class 7: weights files ------------------------------------------------------------------


@pytest.mark.parametrize("kind,words", [("sparse", "sparse tensors"), ("int-keys", "names must "
                                        "be text"), ("nan", "NaN or infinite")])
def test_a_weights_file_that_cannot_be_loaded_says_why(kind, words, tmp_path, cli_inprocess):
    import torch

    state = archdsl.build(SPEC, input="1x8x8").state_dict()
    if kind == "sparse":
        state = {k: v.to_sparse() for k, v in state.items()}
    elif kind == "int-keys":
        state = dict(enumerate(state.values()))
    else:
        state = {k: torch.full_like(v, float("nan")) for k, v in state.items()}
    path = tmp_path / f"{kind}.pt"
    torch.save(state, path)
    proc = cli_inprocess("compile", SPEC, *FLAGS, "--weights", str(path), "-o",
                         str(tmp_path / "m.ts"))
    assert proc.returncode == 2 and words in proc.stderr, proc.stderr


# --- class 6: control characters are escaped in every message -----------------------------------


def test_messages_escape_control_characters():
    from archdsl.source import SourceFile

    src = SourceFile("x\x1b[2J.arch", "ReLU \x1b]0;title\x07 - Foo\rhidden")
    diag = Diagnostic("bad-name", "name '\x1b[31m'", src.span(5, 6), "hint \x07")
    text = render_text([diag])
    assert not any(ch in text for ch in "\x1b\x07\r"), text
    assert "\\x1b[31m" in text and escaped("a\tb\x00") == "a\\tb\\x00"


# --- class 10: did-you-mean says when the nearest name is another layer ---------------------------


@pytest.mark.parametrize("word,guess,typo", [
    ("Poool", "Pool", True), ("Convv", "Conv", True), ("Sigmod", "Sigmoid", True),
    ("BatchNrom", "BatchNorm", True), ("ReLU6", "ReLU", False), ("Hardtanh", "Tanh", False),
    ("SELU", "ELU", False), ("StochasticDepth", "StochasticPool", False)])
def test_a_hint_tells_a_typo_from_another_layer(word, guess, typo):
    from archdsl.diagnostics import did_you_mean, is_typo

    assert is_typo(word, guess) is typo
    assert ("a different one" in did_you_mean(word, guess)) is not typo
