"""What `check` accepts must build (issue 16): for small random specs with arguments at the
edges (0, negatives, inf, nan, integers beyond 64 bits), either `archdsl.load` raises
`ArchError`, or `archdsl.build` succeeds, a forward pass on a random input of the declared size
runs, and the compiled `.py` source imports and builds the same module (the same parameter and
buffer names and shapes, the same output shape).

Runs in CI with a small example count; `python fuzz/run.py` runs the same property as its
`accepted` target for as long as asked.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from fuzz.strategies import accepted_spec_builds, edge_specs


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(spec=edge_specs())
def test_what_check_accepts_builds_runs_and_compiles(spec, tmp_path):
    accepted_spec_builds(spec, tmp_path)


@pytest.mark.parametrize("text", [
    "ELU(1e999)", "ELU(-1e999)", "SM(dim=-99)", "SM(dim=9223372036854775808)",
    "Conv(4, 3, s=100000000000000000000000)", "Conv(4, 3, s=9223372036854775807)",
    "BN(eps=1e999)", "LeakyReLU(1e308 * 10)"])
def test_edge_examples_of_the_issue(text, tmp_path):
    assert accepted_spec_builds((text, (2, 8, 8)), tmp_path) in ("refused", "built")
