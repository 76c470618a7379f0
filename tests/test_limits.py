"""The ceilings (archdsl/limits.py): each refuses with `limit-exceeded`, names itself, and does
so before doing the work it bounds; the defaults admit every zoo spec and every notes string.

"Before the work" is checked by counting, not timing: the number of IR nodes created and the
Python memory allocated (tracemalloc) stay small however big the refused spec is. A generous
wall-clock bound guards against hangs without flaking on a busy machine.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from test_bare_strings import NOTES

import archdsl
from archdsl.ir import Graph
from archdsl.limits import DEFAULT_LIMITS, Limits

ROOT = Path(__file__).resolve().parents[1]
HANG_S = 10.0  # far above the milliseconds these take; only a hang or blow-up crosses it
DOUBLING = "block L0(c) { ReLU - ReLU }\n" + "".join(
    f"block L{i}(c) {{ L{i - 1}(c) - L{i - 1}(c) }}\n" for i in range(1, 41))
CHAIN = "".join(f"block C{i}(c) {{ C{i - 1}(c) }}\n" for i in range(1, 41)) + \
    "block C0(c) { Conv(c, 1) }\n"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))


def model(body: str) -> str:
    return f"model Net {{\n  input: 3x32x32\n  {body}\n}}\n"


# (limit, spec text or (suffix, text), limits to use): each must be refused by that limit
CASES = [
    ("max_repeat", "ReLU x 100000", DEFAULT_LIMITS),
    ("max_layers", "[[[ReLU] x 10000] x 10000] x 10000", DEFAULT_LIMITS),  # 10^12 layers
    ("max_layers", DOUBLING + model("L40(1)"), DEFAULT_LIMITS),  # 2^41 layers through blocks
    ("max_layers", "block A(n) { ReLU x n }\n" + model("A(10000) x 10000"), DEFAULT_LIMITS),
    ("max_layers", "ReLU x 6000 - Tanh x 6000", DEFAULT_LIMITS),
    ("max_depth", CHAIN + model("C40(8)"), DEFAULT_LIMITS),
    ("max_tensor_elements", "FC(10000000000000)", DEFAULT_LIMITS),
    ("max_params", "FC(40000000) - FC(40000000)", DEFAULT_LIMITS),  # 1.6 * 10^15 parameters
    ("max_params", "Conv(10000000, 3, p=1) - Conv(10000000, 3, p=1)", DEFAULT_LIMITS),
    ("max_file_bytes", "ReLU - " * 200 + "ReLU", Limits(max_file_bytes=1000)),
    ("max_file_bytes", (".arch", model("ReLU - " * 200 + "ReLU")), Limits(max_file_bytes=1000)),
    ("max_tokens", "ReLU-" * 30000 + "ReLU", DEFAULT_LIMITS),
    ("max_tokens", (".yaml", 'x: &x "' + "ReLU - " * 400 + 'ReLU"\nlayers: [' +
                    ", ".join(["*x"] * 100) + "]\n"), DEFAULT_LIMITS),  # a bomb of strings
    ("max_yaml_nodes", (".yaml", BOMB), DEFAULT_LIMITS),  # 9^9 values after expansion
]


@pytest.mark.parametrize("limit,spec,limits", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_limit_refuses_before_the_work(limit, spec, limits, tmp_path, monkeypatch):
    if isinstance(spec, tuple):
        path = tmp_path / f"spec{spec[0]}"
        path.write_text(spec[1], encoding="utf-8")
        spec = path
    added = []
    original = Graph.add
    monkeypatch.setattr(Graph, "add", lambda self, node, inputs: (added.append(1),
                                                                   original(self, node, inputs))[1])
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(archdsl.ArchError) as info:
            archdsl.load(spec, input="3x32x32" if limit != "max_params" or "FC" not in str(spec)
                         else "1", limits=limits)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    diag = info.value.diagnostics[0]
    assert diag.code == "limit-exceeded", info.value
    assert limit in f"{diag.message} {diag.hint}", info.value
    assert elapsed < HANG_S
    assert peak < 200 * 2**20, f"{peak / 2**20:.0f} MiB allocated before refusing"
    assert len(added) <= max(limits.max_layers, 10) + 1


def test_every_limit_is_documented_with_its_default():
    doc = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    for f in dataclasses.fields(Limits):
        default = getattr(DEFAULT_LIMITS, f.name)
        assert f"`{f.name}`" in doc, f.name
        assert any(text in doc for text in _spellings(default)), (f.name, default)


def _spellings(n: int) -> list[str]:
    out = [f"{n:,}", str(n)]
    for power in range(3, 19):
        if n == 10 ** power:
            out.append(f"10^{power}")
    if n % 2**10 == 0:
        out += [f"{n // 2**10} KiB", f"{n // 2**20} MiB"]
    return out


def assert_well_within_the_defaults(model) -> None:
    """The figures the defaults bound are a tenth of the ceiling or less ("by a wide margin"),
    layers an eighth: EfficientNetV2-L, torchvision's deepest classifier, has 1,097."""
    assert model.limits == DEFAULT_LIMITS
    assert 0 < len(model.layers()) <= DEFAULT_LIMITS.max_layers // 8
    assert 0 < model.totals.params <= DEFAULT_LIMITS.max_params // 10
    largest = max(math.prod(n.ann.out_shape) for n in model.graph.order())
    assert largest <= DEFAULT_LIMITS.max_tensor_elements // 10


@pytest.mark.parametrize("name", archdsl.zoo())
def test_defaults_admit_every_zoo_spec(name):
    assert_well_within_the_defaults(archdsl.load(name, limits=DEFAULT_LIMITS))


@pytest.mark.parametrize("text,shape", NOTES)
def test_defaults_admit_every_notes_string(text, shape):
    model = archdsl.load(text, input=shape, classes=10, limits=DEFAULT_LIMITS)
    assert model.output_shape == (10,)
    assert_well_within_the_defaults(model)


def test_a_limit_can_be_raised():
    text = "ReLU x 6000 - Tanh x 6000"
    with pytest.raises(archdsl.ArchError):
        archdsl.load(text, input="3x8x8")
    assert len(archdsl.load(text, input="3x8x8", limits=Limits(max_layers=20_000)).layers()) \
        == 12_000


def test_the_largest_legal_model_is_exactly_the_limit():
    assert len(archdsl.load("ReLU x 10000", input="3x8x8").layers()) == 10_000
    with pytest.raises(archdsl.ArchError):
        archdsl.load("ReLU x 10000 - ReLU", input="3x8x8")


def test_huge_but_legal_model_is_summarised_without_weights():
    """20 billion parameters (80 GB of float32) are counted, never allocated; torch is not
    even imported."""
    code = (
        "import sys, tracemalloc, json\n"
        "tracemalloc.start()\n"
        "from archdsl.cli.main import main\n"
        "rc = main(['summary', 'FC(100000) - ReLU - FC(100000) - FC(10)', '--input', '100000',"
        " '--json'])\n"
        "assert rc == 0, rc\n"
        "assert 'torch' not in sys.modules\n"
        "assert tracemalloc.get_traced_memory()[1] < 200 * 2**20\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '"total_params": 20001200010' in proc.stdout


def test_file_larger_than_the_limit_is_not_read(tmp_path):
    path = tmp_path / "big.arch"
    path.write_text("# " + "x" * (DEFAULT_LIMITS.max_file_bytes + 10) + "\nReLU\n")
    with pytest.raises(archdsl.ArchError) as info:
        archdsl.load(path, input="3x8x8")
    assert "max_file_bytes" in str(info.value)


def test_limits_parse_refuses_bad_values():
    with pytest.raises(ValueError, match="unknown limit"):
        Limits.parse(["max_layer=5"])
    with pytest.raises(ValueError, match="whole number"):
        Limits.parse(["max_layers=lots"])
    with pytest.raises(ValueError, match="at least 1"):
        Limits.parse(["max_layers=0"])
    assert Limits.parse(["max-layers=20_000"]).max_layers == 20_000
