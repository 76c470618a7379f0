"""The model's `_init_weights` method: the `init:` setting, asked of the op catalog.

Contract: `init_method(init)` returns the source of a method that walks the model's modules and
sets their weights by the scheme `init` names (kaiming, xavier, lecun, normal; `default` writes
no method). Which nn classes it touches, and how, the ops say (`Op.weight_init`: a rule ->
classes): every rule's classes, gathered from the whole catalog and sorted, make one `isinstance`
branch, so the method reads the same whatever layers a model uses. This module knows the
schemes, never an op or an nn class.
"""

from __future__ import annotations

from archdsl.ops import all_ops

# scheme -> (statement for "conv", statement for "linear")
_WEIGHT_RULES = {
    "kaiming": ('nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")',
                'nn.init.kaiming_normal_(m.weight, nonlinearity="relu")'),
    "xavier": ("nn.init.xavier_uniform_(m.weight)", "nn.init.xavier_uniform_(m.weight)"),
    "lecun": ('nn.init.kaiming_normal_(m.weight, nonlinearity="linear")  # Var(w) = 1 / fan_in',
              'nn.init.kaiming_normal_(m.weight, nonlinearity="linear")'),
}
_ZERO_BIAS = ["if m.bias is not None:", "    nn.init.zeros_(m.bias)"]
# the rules in the order the method tests them
_RULES = ("conv", "linear", "affine")


def _classes(rule: str) -> list[str]:
    return sorted({cls for op in all_ops() for cls in op.weight_init.get(rule, ())})


def _branch(rule: str, conv: str, linear: str) -> tuple[str, list[str]]:
    """(the condition after `isinstance(m, ...)`, the statements) of one rule."""
    if rule == "conv":
        return "", [conv, *_ZERO_BIAS]
    if rule == "linear":
        return "", [linear, *_ZERO_BIAS]
    return " and m.affine", ["nn.init.ones_(m.weight)", "nn.init.zeros_(m.bias)"]


def init_method(init) -> str:
    if init.kind == "normal":
        conv = linear = f"nn.init.normal_(m.weight, 0.0, {init.std!r})"
    else:
        conv, linear = _WEIGHT_RULES[init.kind]
    lines = ["    def _init_weights(self) -> None:",
             f"        # init: {init.kind}",
             "        for m in self.modules():"]
    for rule in _RULES:
        classes = _classes(rule)
        if not classes:
            continue
        keyword = "if" if len(lines) == 3 else "elif"
        kinds = classes[0] if len(classes) == 1 else f"({', '.join(classes)})"
        condition, body = _branch(rule, conv, linear)
        lines.append(f"            {keyword} isinstance(m, {kinds}){condition}:")
        lines.extend(f"                {statement}" for statement in body)
    return "\n".join(lines)
