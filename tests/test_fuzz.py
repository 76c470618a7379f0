"""Property tests: hostile input only ever raises ArchError; valid chains agree with torch.

- random token soups and random mutations of every zoo spec (parametrized over `archdsl.zoo()`,
  so new specs are covered) parse, check and count, or raise `archdsl.ArchError` whose spans lie
  inside the input; nothing else, and each within a generous time bound (the one-second
  property is measured by the long run, `python fuzz/run.py`, on a quiet machine);
- random valid chains build, and torch's output shape and parameter count equal archdsl's;
- generated source for accepted hostile input imports only torch (tests/test_safety.py checks
  the rest).

Example counts are small so CI stays fast; `fuzz/run.py --minutes N` runs the same strategies
for as long as you like.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archdsl
from archdsl.loader import zoo_dir, zoo_path
from fuzz.strategies import check_outcome, mutations, token_soups, valid_chains

pytestmark = pytest.mark.slow  # hypothesis: hundreds of examples

# Generous: timings on a shared 2-core CI box are noisy; a hang would blow far past this.
BOUND_S = 10.0
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.data_too_large],
                database=None)
INPUTS = st.sampled_from([None, "3x32x32", "1x28x28", "784", "3x1x1"])


def _timed(fn) -> str:
    start = time.perf_counter()
    outcome = check_outcome(fn)
    assert time.perf_counter() - start < BOUND_S
    return outcome


@settings(FUZZ, max_examples=300)
@given(token_soups(), INPUTS, st.sampled_from([None, 10]))
def test_token_soup_raises_only_arch_errors(text, shape, classes):
    _timed(lambda: archdsl.load(text, input=shape, classes=classes))


@settings(FUZZ, max_examples=100)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_arch_errors(text):
    _timed(lambda: archdsl.load(text, input="3x32x32", classes=10))


@pytest.fixture(scope="module")
def sandbox():
    """A copy of the zoo's block libraries, so mutated specs can still `use` them."""
    root = Path(tempfile.mkdtemp(prefix="archdsl-fuzz-"))
    shutil.copytree(zoo_dir() / "blocks", root / "blocks")
    yield root
    shutil.rmtree(root, ignore_errors=True)


SPEC_FILES = [zoo_path(n) for n in archdsl.zoo()] + sorted(
    p for p in (zoo_dir() / "blocks").iterdir() if p.suffix in (".arch", ".yaml", ".yml"))


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_mutated_zoo_specs_raise_only_arch_errors(path, sandbox):
    """Every zoo spec and block library, edited at random (YAML ones too)."""
    original = path.read_text(encoding="utf-8")

    @settings(FUZZ, max_examples=25)
    @given(mutations(original))
    def run(text):
        target = sandbox / f"mutant{path.suffix}"
        target.write_text(text, encoding="utf-8")
        _timed(lambda: archdsl.load(target))

    run()


@settings(FUZZ, max_examples=40)
@given(valid_chains())
def test_valid_chains_agree_with_torch(chain):
    import torch

    text, shape = chain
    model = archdsl.load(text, input=shape)
    net = model.build().eval()
    with torch.no_grad():
        out = net(torch.zeros(2, *shape))
    assert tuple(out.shape[1:]) == model.output_shape, text
    assert sum(p.numel() for p in net.parameters()) == model.totals.params, text
