"""The local variables of a generated `forward`, allocated from liveness.

Contract: `ForwardVariables(entry, reads)` tracks, for one `forward`, which variable holds each
value (a node key) and how many reads each variable still has to serve. `reads` lists every read
of a value (by the units of the class, and its results), once per read; `entry`, the value of
the argument, is in `x`. `forward` reports each statement it writes: `read()` its inputs, then
one of `alias()` (the value is an input's, an identity), `fresh()` (a new variable) or `bind()`
(a chosen one, perhaps an input's: `reusable()` lists the inputs whose variables hold nothing
still to be read). A variable is named after its role (`out`, `identity`, a branch's label) and
never shadows a keyword, a builtin or a module the code uses; names are given in order of first
use, so the text is deterministic. Like torchvision's `forward`, a generic variable (`x`, `out`,
`identity`) is overwritten once it is dead, so the code reads `out = self.conv1(x)`,
`out = self.bn1(out)`; a labelled one never is.
"""

from __future__ import annotations

import keyword

from archdsl.identifiers import BUILTIN_NAMES, GENERATED_NAMES


def is_generic(var: str) -> bool:
    """Whether a variable only holds a value in passing (its name says nothing to keep)."""
    return var == "x" or var == "identity" or var.startswith("out")


class ForwardVariables:
    """Variables of one `forward`: `var_of` (value -> variable) and their pending reads."""

    def __init__(self, entry: int, reads: list[int]):
        uses: dict[int, int] = {}
        for value in reads:
            uses[value] = uses.get(value, 0) + 1
        self.uses = uses  # value -> how often it is read
        self.var_of: dict[int, str] = {entry: "x"}
        self.pending: dict[str, int] = {"x": uses.get(entry, 0)}  # variable -> reads to come
        self.taken = {"x", "self", *GENERATED_NAMES["module"]}  # the model's input, imports
        self.fixed: set[str] = set()  # names given from outside (side outputs), never reused

    def reserve(self, name: str) -> None:
        """A name declared up front (a side output), bound later with `bind()`."""
        self.taken.add(name)
        self.fixed.add(name)

    def new(self, base: str) -> str:
        """An unused name made from `base` (`out`, `out_1`, ...), safe as a Python local."""
        base = base if base.isidentifier() and not base[0].isdigit() else f"x{base}"
        if keyword.iskeyword(base) or base in BUILTIN_NAMES:
            base = f"{base}_"
        candidate, n = base, 1
        while candidate in self.taken:
            candidate, n = f"{base}_{n}", n + 1
        self.taken.add(candidate)
        return candidate

    def read(self, variables: list[str]) -> None:
        for var in variables:
            self.pending[var] -= 1

    def alias(self, key: int, var: str) -> None:
        """Value `key` is the one `var` holds already (an identity)."""
        self.var_of[key] = var
        self.pending[var] += self.uses.get(key, 0)

    def fresh(self, key: int, base: str) -> str:
        """A new variable for value `key`."""
        var = self.new(base)
        self.var_of[key] = var
        self.pending[var] = self.uses.get(key, 0)
        return var

    def bind(self, key: int, var: str) -> None:
        """Value `key` goes into `var` (a new name, a dead input's, or a side output's)."""
        self.var_of[key] = var
        self.pending[var] = self.pending.get(var, 0) + self.uses.get(key, 0)

    def reusable(self, inputs: list[str]) -> list[str]:
        """The inputs whose variables may take the result: generic, with no reads to come."""
        return [v for v in inputs if self.pending.get(v, 0) == 0 and is_generic(v) and
                v not in self.fixed]
