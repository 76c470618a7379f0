"""Float arguments written as the arithmetic that made them, exact to the last bit.

Contract: `settle_rates(items, blocks)` looks at each block parameter's float arguments over
the whole model; where one of them is a long literal (torchvision's stochastic-depth rates,
`0.2 * 3 / 16` = 0.037500000000000006), it finds one rule `p * k / n` (p a short decimal,
n and each k integers, k <= n), for the whole model where one fits, that gives every value bit for bit as archdsl's evaluator
computes it (Python's float arithmetic, left to right), and replaces the arguments by `Scaled`
floats that the writer writes so (`0.2 * 3 / 16`, a run `0.2 * (3 + i) / 16`). Where no rule
fits, the values stay the exact literals.
"""

from __future__ import annotations

from archdsl.importer.terms import Call, Group, Merge, Side

MAX_DIGITS = 8  # a literal with more significant digits than this reads as an artefact
MAX_DENOMINATOR = 256
# the rate p of the rule: short decimals, as a person sets them (0.1, 0.2, 0.25, 0.5)
RATES = sorted({d / 10 for d in range(1, 11)} | {d / 100 for d in range(1, 100)},
               key=lambda p: (len(repr(p)), p))


class Scaled(float):
    """A float that is exactly `p * k / n` evaluated left to right."""

    p: float
    k: int
    n: int

    def __new__(cls, value: float, p: float, k: int, n: int):
        self = super().__new__(cls, value)
        self.p, self.k, self.n = p, k, n
        return self

    @property
    def text(self) -> str:
        return "0.0" if self.k == 0 else f"{self.p!r} * {self.k} / {self.n}"


def is_long(v) -> bool:
    """A float whose shortest exact literal has more than MAX_DIGITS significant digits."""
    if not isinstance(v, float) or isinstance(v, Scaled):
        return False
    mantissa = repr(v).lower().split("e")[0].replace("-", "").replace(".", "").lstrip("0")
    return len(mantissa) > MAX_DIGITS


def find_rule(values: list[float]) -> tuple[float, int] | None:
    """(p, n) with every value == p * k / n for an integer 0 <= k <= n; among those, the
    smallest n (the fewest steps), then the shortest p."""
    if not values or any(v < 0 or v > 1 for v in values):
        return None
    for n in range(1, MAX_DENOMINATOR + 1):
        for p in RATES:
            if all(_step(v, p, n) is not None for v in values):
                return p, n
    return None


def _step(v: float, p: float, n: int) -> int | None:
    k = round(v * n / p)
    return k if 0 <= k <= n and p * k / n == v else None


def _calls(items: list, found: list) -> None:
    for item in items:
        if isinstance(item, Call):
            found.append(item)
        elif isinstance(item, (Group, Side)):
            _calls(item.items, found)
        elif isinstance(item, Merge):
            for branch in item.branches:
                _calls(branch, found)


def settle_rates(items: list, blocks: list) -> None:
    calls: list[Call] = []
    _calls(items, calls)
    for block in blocks:
        _calls(block.body, calls)
    by_param: dict[tuple, list[Call]] = {}
    for call in calls:
        for name, v in call.args.items():
            if isinstance(v, float):
                by_param.setdefault((id(call.instance.block), name), []).append(call)
    needing = {key: group for key, group in by_param.items()
               if any(is_long(c.args[key[1]]) for c in group)}
    # one rule for the whole model where one fits (EfficientNetV2's rates run over two block
    # kinds, FusedMBConv then MBConv), else one for each parameter
    shared = find_rule([c.args[key[1]] for key, group in needing.items() for c in group])
    for (_, name), group in needing.items():
        rule = shared or find_rule([c.args[name] for c in group])
        if rule is None:
            continue
        p, n = rule
        for call in group:
            v = call.args[name]
            call.args[name] = Scaled(v, p, _step(v, p, n), n)
        block = group[0].instance.block
        for param in block.params:
            if param.name == name and isinstance(param.default, float):
                k = _step(param.default, p, n)
                if k is not None:
                    param.default = Scaled(param.default, p, k, n)
