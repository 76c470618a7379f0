"""Model settings (`input: 3x224x224`, `classes: 10`, ...): the table of keys and their reading.

Contract: `SETTINGS` is the one table of setting keys; every other list of them (the grammar's
`SETTING_KEY` terminal, syntax-error suggestions, the YAML schema, the command line's flags) is
derived from it, so a new setting is a row here plus its reading in `_read`.
`read_settings(model_def, overrides)` turns the setting statements of a model (and the caller's
overrides from the CLI or the API) into one validated `ModelSettings`, reporting a diagnostic per
bad setting. Overrides win over the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from archdsl.diagnostics import ArchError, Diagnostic, Note, Reporter, suggest
from archdsl.expr import evaluate
from archdsl.limits import INT64_MAX
from archdsl.syntax import ast


@dataclass(frozen=True)
class SettingKey:
    """One model setting: its key and how each front end takes it.

    `kind` says what the value is written as (`shape`, `number`, `chain`, `names`, `flag`);
    `yaml` is the type a YAML spec may give it; `api`: a keyword of `archdsl.load`; `cli`: a
    flag of every command that reads a spec (`--input`)."""

    key: str
    kind: str
    yaml: Any
    api: bool = False
    cli: bool = False


# The one table of settings: the grammar's SETTING_KEY terminal (parser.grammar_text), the
# syntax errors' suggestions, the YAML schema and the command line's flags are derived from it.
SETTINGS = (
    SettingKey("input", "shape", str | int | list[int], api=True, cli=True),
    SettingKey("classes", "number", int, api=True, cli=True),
    SettingKey("init", "chain", str, api=True),
    SettingKey("seed", "number", int, api=True, cli=True),
    SettingKey("freeze", "names", str | list[str], api=True, cli=True),
    SettingKey("head", "chain", str, api=True, cli=True),
    SettingKey("outputs", "names", list[str], api=True),
    SettingKey("transform_input", "flag", bool),
)
SETTING_KEYS = tuple(s.key for s in SETTINGS)
INIT_KINDS = ("default", "kaiming", "xavier", "lecun", "normal")
DEFAULT_SEED = 0


@dataclass(frozen=True)
class Init:
    """Weight initialisation: PyTorch's defaults unless the spec asks otherwise.

    kaiming: He normal (fan_out, ReLU gain) for conv, as ResNet; xavier: Glorot uniform;
    lecun: normal with Var(w) = 1/fan_in (the notes' rule); normal(std): N(0, std^2).
    Biases start at 0 and BatchNorm at weight 1, bias 0 whenever a scheme is given.
    """

    kind: str = "default"
    std: float = 0.01


@dataclass(frozen=True)
class ModelSettings:
    input: tuple[int, ...] | None = None
    classes: int | None = None
    init: Init = Init()
    seed: int = DEFAULT_SEED
    freeze: tuple[str, ...] = ()
    head: ast.Chain | None = None
    outputs: tuple[str, ...] | None = None
    transform_input: bool = False
    spans: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def parse_shape(text: str) -> tuple[int, ...]:
    """`3x224x224`, `3,224,224` or `784` -> a tuple; raises ValueError with a reason."""
    parts = [p for p in re.split(r"[x×,\s]+", text.strip().lower()) if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise ValueError(f"'{text}' is not a shape; write it as CxHxW, e.g. 3x224x224")
    dims = tuple(int(p) for p in parts)
    if any(d == 0 for d in dims):
        raise ValueError(f"'{text}' has a zero dimension")
    if len(dims) == 4:  # torchinfo's habit: input_size=(1, 3, 224, 224)
        sample = "x".join(map(str, dims[1:]))
        raise ValueError(f"'{text}' has 4 dimensions: the input is one sample's size, without "
                         f"the batch; write {sample} and give the batch apart (`archdsl "
                         f"summary --batch {dims[0]}`, `model.summary(batch={dims[0]})`)")
    if len(dims) not in (1, 3):
        raise ValueError(f"'{text}' has {len(dims)} dimensions; give CxHxW (an image) or F "
                         "(a vector)")
    return dims


def read_settings(model: ast.ModelDef, overrides: dict[str, Any] | None = None) -> ModelSettings:
    rep = Reporter()
    values: dict[str, Any] = {}
    spans: dict[str, Any] = {}
    seen: dict[str, ast.Setting] = {}
    for setting in model.settings:
        if setting.key in seen:
            rep.error("duplicate-setting", f"'{setting.key}' is set twice", setting.key_span,
                      "remove one of them", (Note("first set here", seen[setting.key].key_span),))
            continue
        seen[setting.key] = setting
        try:
            values[setting.key] = _read(setting)
            spans[setting.key] = setting.span
        except ArchError as err:
            rep.extend(err.diagnostics)
    rep.raise_if_errors()
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    return ModelSettings(spans=spans, **values)


def _single_layer(setting: ast.Setting) -> ast.Layer | None:
    value = setting.value
    if isinstance(value, ast.Chain) and len(value.elements) == 1 and \
            value.elements[0].repeat is None and isinstance(value.elements[0].unit, ast.Layer):
        return value.elements[0].unit
    return None


def _fail(setting: ast.Setting, message: str, hint: str | None = None) -> ArchError:
    return ArchError([Diagnostic("bad-setting", message, setting.value.span
                                 if hasattr(setting.value, "span") else setting.span, hint)])


def _read(setting: ast.Setting) -> Any:
    key, value = setting.key, setting.value
    if key == "input":
        if isinstance(value, ast.Shape):
            dims = value.dims
        elif isinstance(value, ast.Num) and isinstance(value.value, int):
            dims = (value.value,)
        elif isinstance(value, ast.Literal) and isinstance(value.value, str):
            try:
                return parse_shape(value.value)
            except ValueError as err:
                raise _fail(setting, str(err)) from None
        else:
            raise _fail(setting, "input must be a shape such as 3x224x224 (or a vector size)")
        if any(d <= 0 for d in dims) or len(dims) not in (1, 3):
            raise _fail(setting, "input must be CxHxW with positive sizes (or a vector size F)"
                        f", got {'x'.join(map(str, dims))}", "e.g. `input: 3x224x224`")
        return tuple(dims)
    if key in ("classes", "seed"):
        number = value.value if isinstance(value, (ast.Num, ast.Literal)) else None
        if key == "seed" and isinstance(number, int) and number > INT64_MAX:
            raise _fail(setting, f"seed must be at most {INT64_MAX} (torch's seeds are 64-bit)")
        if not isinstance(number, int) or isinstance(number, bool) or \
                (key == "classes" and number <= 0) or (key == "seed" and number < 0):
            kind = "positive" if key == "classes" else "non-negative"
            got = number if isinstance(number, (int, float)) and not isinstance(number, bool) \
                else None
            raise _fail(setting, f"{key} must be a {kind} whole number"
                        + (f", got {got}" if got is not None else ""), f"e.g. `{key}: 10`")
        return number
    if key == "transform_input":
        layer = _single_layer(setting)
        word = layer.name.lower() if layer else str(getattr(value, "value", "")).lower()
        if word not in ("true", "false"):
            raise _fail(setting, "transform_input must be true or false")
        return word == "true"
    if key == "init":
        layer = _single_layer(setting)
        if layer is None or layer.name.lower() not in INIT_KINDS:
            guess = suggest(layer.name, INIT_KINDS) if layer else None
            raise _fail(setting, "init must be one of " + ", ".join(INIT_KINDS),
                        f"did you mean '{guess}'?" if guess else "e.g. `init: kaiming` or "
                        "`init: normal(0.01)`")
        kind = layer.name.lower()
        std = 0.01
        if layer.args:
            if kind != "normal" or len(layer.args) != 1:
                raise _fail(setting, "only normal(std) takes an argument")
            std = evaluate(layer.args[0].value, {})
            if not isinstance(std, (int, float)) or isinstance(std, bool) or std <= 0:
                raise _fail(setting, "normal(std) needs a positive standard deviation")
        return Init(kind, float(std))
    if key in ("freeze", "outputs"):
        return tuple(_names(setting))
    if key == "head":
        if not isinstance(value, ast.Chain):
            raise _fail(setting, "head must be layers, e.g. `head: FC(2)`")
        return value
    raise _fail(setting, f"unknown setting '{key}'")


def _names(setting: ast.Setting) -> list[str]:
    """A name, a string, or a bracketed list of them: `[conv1, bn1, "layer*"]`."""
    value = setting.value
    if isinstance(value, ast.Literal):
        items = value.value if isinstance(value.value, (list, tuple)) else [value.value]
        if not all(isinstance(i, str) for i in items):
            raise _fail(setting, f"{setting.key} must be a list of names")
        return list(items)
    if not isinstance(value, ast.Chain) or len(value.elements) != 1:
        raise _fail(setting, f"{setting.key} must be a name or a list [a, b, ...]")
    unit = value.elements[0].unit
    branches = unit.branches if isinstance(unit, ast.Group) and unit.head is None else None
    units = [unit] if branches is None else []
    for branch in branches or ():
        if len(branch.statements) == 1 and isinstance(branch.statements[0], ast.Chain) and \
                len(branch.statements[0].elements) == 1:
            units.append(branch.statements[0].elements[0].unit)
        else:
            raise _fail(setting, f"{setting.key} lists names separated by commas")
    out = []
    for u in units:
        if isinstance(u, ast.Layer) and u.args is None and u.label is None:
            out.append(u.name)
        elif isinstance(u, ast.StringUnit):
            out.append(u.value)
        else:
            raise _fail(setting, f"{setting.key} lists names or quoted patterns, e.g. "
                        f"[conv1, \"layer*\"]")
    return out


def with_overrides(settings: ModelSettings, **changes) -> ModelSettings:
    return replace(settings, **{k: v for k, v in changes.items() if v is not None})
