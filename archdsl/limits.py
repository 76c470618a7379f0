"""Ceilings that keep hostile or mistaken specs from hanging or exhausting memory.

Every limit has a documented default (README, "Limits"), can be changed through the API
(`archdsl.load(..., limits=Limits(max_layers=...))`) or the CLI (`--limit max_layers=200000`),
and produces a diagnostic with code `limit-exceeded` naming the limit when crossed.

The defaults keep `check` and `summary` of any input to about a second (docs/diagnostics.md has
the measurements) while admitting every zoo spec by a wide margin (the largest, DenseNet-201, has
about 700 layers in under 2 KB). Each ceiling is checked before the work it bounds: file size
before reading, tokens before parsing, repeat counts and block sizes before unrolling, tensor
sizes and parameter counts from the shape arithmetic (nothing is allocated). Two fixed bounds
protect Python's stack: parse trees deeper than 100 levels (`archdsl.syntax.errors`) and YAML
nested more than 100 levels.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# The largest integer torch stores (sizes, strides, dims and seeds are int64 in its C++ code):
# a value beyond it is the spec's mistake, refused where it is written (issue 16).
INT64_MAX = 2**63 - 1
# The largest float32, the dtype the built model computes in: torch converts a layer's float
# arguments (ELU's alpha, a PReLU's initial slope) to it and refuses one beyond it.
FLOAT32_MAX = 3.4028234663852886e38


@dataclass(frozen=True)
class Limits:
    max_repeat: int = 10_000  # one `x N`
    max_layers: int = 10_000  # layers after unrolling repeats and blocks
    max_depth: int = 32  # nested block calls
    max_import_depth: int = 16  # chains of `use`
    max_tensor_elements: int = 10**12  # elements of one tensor, per sample
    max_params: int = 10**12  # parameters of the whole model
    max_file_bytes: int = 2**19  # one spec file or string (512 KiB)
    max_tokens: int = 50_000  # names, numbers and symbols of one spec (YAML: all its strings)
    max_yaml_nodes: int = 20_000  # YAML values after alias expansion

    def replace(self, **changes) -> Limits:
        return dataclasses.replace(self, **changes)

    @classmethod
    def parse(cls, items: list[str]) -> Limits:
        """From `key=value` strings (the CLI's --limit)."""
        changes = {}
        names = {f.name for f in dataclasses.fields(cls)}
        for item in items:
            key, _, value = item.partition("=")
            key = key.strip().replace("-", "_")
            if key not in names:
                raise ValueError(f"unknown limit '{key}' (known: {', '.join(sorted(names))})")
            try:
                changes[key] = int(value.replace("_", ""))
            except ValueError:
                raise ValueError(f"limit {key} needs a whole number, got '{value}'") from None
            if changes[key] < 1:
                raise ValueError(f"limit {key} must be at least 1")
        return cls(**changes)


DEFAULT_LIMITS = Limits()
