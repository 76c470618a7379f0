"""Names from a spec that become Python names in generated code: what is allowed.

Contract: pure checks returning diagnostics (or raising `ArchError`), no side effects.
- `check_block_def(block)`: a block's name is an ASCII identifier, not a Python keyword; its
  parameter names are ASCII identifiers, unique, and neither keywords nor names the generated
  constructor already uses (`self`, `in_channels`, `nn`, `torch`, builtins such as `super`).
- `check_model_name(name, span)`: a model name (YAML `name:` included) is an ASCII identifier.
- `check_output_name(name, span)`: a side output (`Aux:name`) is a local variable of the
  generated `forward`, so it must not be `main`, `x` or a module the code uses (`torch`).

Module and stage labels are checked by `archdsl.elaborate.walker.check_identifier`. Together
these make sure no text from a spec reaches generated source except as a validated identifier or
inside a `repr()`-quoted literal (see `archdsl.codegen.pysource`).
"""

from __future__ import annotations

import builtins
import keyword

from archdsl.diagnostics import ArchError, Diagnostic, Note
from archdsl.source import Span
from archdsl.syntax import ast

# Module-level names of generated code (pysource's imports and helpers; `math` for the
# expression functions `ceil`, `floor`, `log`, `sqrt`).
_MODULE_NAMES = frozenset({"torch", "nn", "F", "OrderedDict", "Optional", "NamedTuple", "Tensor",
                           "math"})
# A block's constructor takes `self`, `in_channels` (or `in_features`) and the parameters.
PARAM_RESERVED = _MODULE_NAMES | {"self", "in_channels", "in_features"}
# Side outputs are locals of the model's forward(x), and `main` is the main output's field.
OUTPUT_RESERVED = _MODULE_NAMES | {"self", "x", "main"}
_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_"))


def is_ascii_identifier(name: str) -> bool:
    return name.isascii() and name.isidentifier()


def shown(name: str, width: int = 40) -> str:
    """A name as a message may quote it: control characters escaped, long ones shortened."""
    text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in name)
    return text if len(text) <= width else text[:width - 3] + "..."


def _name_problem(name: str) -> tuple[str, str] | None:
    """(reason, hint) when `name` cannot be a Python name, else None."""
    if not is_ascii_identifier(name):
        bad = next((ch for ch in name if not (ch.isascii() and (ch.isalnum() or ch == "_"))),
                   None)
        reason = f"'{shown(name)}' is not a valid name" + (
            f" ('{shown(bad)}' is not allowed)" if bad else "")
        return reason, "names use ASCII letters, digits and '_' and do not start with a digit"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"'{name}' is a Python keyword", f"choose another name, e.g. '{name}_'"
    return None


def check_model_name(name: str, span: Span | None) -> None:
    problem = _name_problem(name)
    if problem is not None:
        raise ArchError([Diagnostic("bad-name", f"model name: {problem[0]}", span, problem[1])])


def check_block_def(block: ast.BlockDef) -> list[Diagnostic]:
    diags = []
    problem = _name_problem(block.name)
    if problem is not None:
        diags.append(Diagnostic("bad-name", f"block name: {problem[0]}", block.name_span,
                                problem[1]))
    seen: dict[str, ast.Param] = {}
    for param in block.params:
        problem = _name_problem(param.name)
        if problem is None and (param.name in PARAM_RESERVED or param.name in _BUILTINS or
                                param.name.startswith("_")):
            problem = (f"'{param.name}' cannot name a block parameter: the generated Python "
                       "code uses that name", f"choose another name, e.g. '{param.name}_'"
                       if not param.name.startswith("_") else "start it with a letter")
        if problem is not None:
            diags.append(Diagnostic("bad-name", f"block {block.name}: {problem[0]}", param.span,
                                    problem[1]))
            continue
        if param.name in seen:
            diags.append(Diagnostic("duplicate-parameter", f"block {block.name} declares "
                                    f"'{param.name}' twice", param.span, "rename or remove one",
                                    (Note("first declared here", seen[param.name].span),)))
            continue
        seen[param.name] = param
    return diags


def check_output_name(name: str, span: Span | None) -> None:
    if name in OUTPUT_RESERVED or name in _BUILTINS:
        raise ArchError([Diagnostic("bad-name", f"'{name}' cannot name a side output: the "
                                    "generated forward() uses that name", span,
                                    f"choose another label, e.g. 'aux_{name}'")])
