"""Names from a spec that become Python names in generated code: what is allowed.

Contract: pure checks returning diagnostics (or raising `ArchError`), no side effects.
- `check_block_def(block)`: a block's name is an ASCII identifier, not a Python keyword; its
  parameter names are ASCII identifiers, unique, and neither keywords nor names the generated
  constructor already uses (`self`, `in_channels`, `nn`, `torch`, builtins such as `super`).
- `check_model_name(name, span)`: a model name (YAML `name:` included) is an ASCII identifier.
- `check_output_name(name, span)`: a side output (`Aux:name`) is a local variable of the
  generated `forward`, so it must not be `main`, `x` or a module the code uses (`torch`).
- `check_identifier(name, span)`: a module or stage label becomes an attribute of a generated
  `nn.Module`, so it must not be private (`_x`) or shadow one of torch's (`forward`, `to`).

`GENERATED_NAMES` is the one list of the names generated code uses; what each kind of name may
not be (`PARAM_RESERVED`, `OUTPUT_RESERVED`, `LABEL_RESERVED`, `CLASS_RESERVED`, which the code
generator extends with its helper classes) derives from it. Together these checks make sure no
text from a spec reaches generated source except as a validated identifier or inside a
`repr()`-quoted literal (see `archdsl.codegen.pysource`).
"""

from __future__ import annotations

import builtins
import functools
import keyword
import re

from archdsl.caches import register
from archdsl.diagnostics import ArchError, Diagnostic, Note
from archdsl.source import Span
from archdsl.syntax import ast

# The names generated code uses, by where they live (the one list; archdsl.codegen writes them).
GENERATED_NAMES: dict[str, frozenset[str]] = {
    # imported at module level by generated files (`math` where an expression function such as
    # `ceil`, `floor`, `log` or `sqrt` is written out; archdsl/expr_functions.py)
    "module": frozenset({"torch", "nn", "F", "OrderedDict", "Optional", "NamedTuple", "Tensor",
                         "math"}),
    # a block's constructor: `self`, `in_channels` (or `in_features`), then the parameters
    "constructor": frozenset({"self", "in_channels", "in_features"}),
    # the model's forward(self, x): side outputs are its locals; `main` is the main output's field
    "forward": frozenset({"self", "x", "main"}),
    # attributes of a generated nn.Module: torch's public ones (tests/test_safety.py checks the
    # installed torch has no others) and the model's `all_outputs` switch
    "attribute": frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda
double dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter
get_submodule half ipu load_state_dict modules mtia named_buffers named_children named_modules
named_parameters parameters register_backward_hook register_buffer register_forward_hook
register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook
register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module
register_parameter register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
set_extra_state set_submodule share_memory smart_apply state_dict to to_empty train training
type xpu zero_grad all_outputs self
""".split()),
}
# What a block's body knows of its input without the caller passing it (a block's parameter
# cannot take this name): its channels (a vector's size); generated block classes take it as
# their first constructor argument.
BLOCK_INPUT_NAMES = ("in_channels",)
BUILTIN_NAMES = frozenset(dir(builtins))
_BUILTINS = frozenset(n for n in BUILTIN_NAMES if not n.startswith("_"))

# What each kind of name from a spec may not be, derived from the table above.
PARAM_RESERVED = GENERATED_NAMES["module"] | GENERATED_NAMES["constructor"] | \
    frozenset(BLOCK_INPUT_NAMES) | {"when"}  # `when=` is every layer's condition
OUTPUT_RESERVED = GENERATED_NAMES["module"] | GENERATED_NAMES["forward"]
LABEL_RESERVED = GENERATED_NAMES["attribute"]
# A model's or block's class name: the module's imports and every builtin (the code generator
# adds its helper classes).
CLASS_RESERVED = GENERATED_NAMES["module"] | BUILTIN_NAMES


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


def check_identifier(name: str, span: Span) -> None:
    """A label becomes a Python attribute in generated code: it must be a safe identifier."""
    problem = _identifier_problem(name)
    if problem is not None:
        raise ArchError([Diagnostic("bad-name", problem[0], span, problem[1])])


# A quoted label may also join identifier parts with '-', as torchvision names RegNet's blocks
# (`trunk_output.block1.block1-0`); generated code registers it with `add_module`.
_HYPHENATED = re.compile(r"[A-Za-z][A-Za-z0-9_]*(-[A-Za-z0-9_]+)+\Z")


def check_module_name(name: str, span: Span) -> None:
    """A module name from a quoted label or a name template: an identifier, or identifier parts
    joined with '-'."""
    if _HYPHENATED.match(name) is None:
        check_identifier(name, span)


@register
@functools.lru_cache(maxsize=4096)
def _identifier_problem(name: str) -> tuple[str, str | None] | None:
    """(reason, hint) when `name` cannot be a module name; checked once per name (a model
    repeats its labels: DenseNet-201 has 98 `norm1`)."""
    if not name.isascii() or not name.isidentifier():
        return (f"'{name}' is not a valid name", "names use ASCII letters, digits and '_' and "
                "do not start with a digit")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"'{name}' is a Python keyword", f"choose another name, e.g. '{name}_'"
    if name in LABEL_RESERVED or (name.startswith("__") and name.endswith("__")) or \
            name.startswith("_"):
        return (f"'{name}' is reserved (an attribute of PyTorch modules or of generated code)",
                f"choose another name, e.g. '{name.strip('_')}_layer'")
    return None
