"""Binding call arguments: to an op's parameter schema, or to a block's parameters.

Contract: `bind_op` evaluates a layer's arguments, maps positional and short keyword arguments to
the op's fields, validates them with the op's pydantic schema and returns the params (or raises
`ArchError` with one diagnostic per bad argument, each pointing at that argument). `bind_block`
does the same for a block call, evaluating defaults in the block's own scope.

Bare words: a name that is not in scope is a word (`same`) only where it is a value (the whole
argument, a branch of a conditional, an item of a tuple) and only if the place accepts it: an
op's field whose schema lists the word (`_accepted`), or, for a block's parameter (which has no
type), a word that some field of the op catalog accepts (`catalog_words`); the op then checks it
again where the block uses it. Any other unbound name is an `unknown-name` error at the name,
with a did-you-mean over the names in scope (a near-miss of a word the op accepts keeps the
`bad-argument` message that lists what the field takes).
"""

from __future__ import annotations

import functools
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

import annotated_types
from pydantic import ValidationError

from archdsl.caches import register
from archdsl.diagnostics import ArchError, Diagnostic, Note, suggest
from archdsl.expr import evaluate, names_in, unknown_name, value_names
from archdsl.limits import FLOAT32_MAX, INT64_MAX
from archdsl.ops import registry
from archdsl.ops.base import FREE_TEXT, Op, ShapeError
from archdsl.source import Span
from archdsl.syntax import ast


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, tuple):
        return "(" + ", ".join(_value_text(v) for v in value) + ")"
    return repr(value)


@functools.cache
def schema_fields(params_cls) -> tuple[tuple[str, ...], dict[str, Any]]:
    """A schema's field names in positional order and their infos (read once per op: pydantic's
    `model_fields` is a descriptor that costs on every access)."""
    infos = dict(params_cls.model_fields)
    return tuple(infos), infos


def bind_op(op: Op, layer: ast.Layer, env: Mapping[str, Any], implied: dict[str, Any]
            ) -> tuple[Any, dict[str, ast.Expr], dict[str, Span]]:
    """Params for `op` from the layer's arguments; also each field's expression and span."""
    names, infos = schema_fields(op.Params)
    fields = list(names)
    values: dict[str, Any] = dict(implied)
    exprs: dict[str, ast.Expr] = {}
    spans: dict[str, Span] = {}
    diags: list[Diagnostic] = []
    if layer.args is None:
        for key, value in op.bare.items():
            values.setdefault(key, value)
    positional_done = False
    position = 0
    for arg in layer.args or ():
        if arg.key is None:
            if positional_done:
                diags.append(Diagnostic("positional-after-keyword",
                                        "a positional argument cannot follow keyword arguments",
                                        arg.span, "name it, e.g. `k=3`"))
                continue
            if position >= len(fields):
                diags.append(Diagnostic(
                    "too-many-arguments", f"{op.name} takes at most {len(fields)} positional "
                    f"argument{'s' if len(fields) != 1 else ''}"
                    + (f" ({', '.join(fields)})" if fields else "") if fields else
                    f"{op.name} takes no arguments", arg.span,
                    f"remove it, or name it (e.g. `{fields[-1]}=...`)" if fields else
                    f"write {op.name} without arguments"))
                continue
            field = fields[position]
            position += 1
        else:
            positional_done = True
            field = op.keywords.get(arg.key, arg.key)
            if field not in infos:
                choices = fields + list(op.keywords)
                guess = suggest(arg.key, choices)
                hint = f"did you mean '{guess}'?" if guess else (
                    f"{op.name} takes {', '.join(fields)}" if fields else
                    f"{op.name} takes no arguments")
                diags.append(Diagnostic("unknown-argument",
                                        f"{op.name} has no argument '{arg.key}'",
                                        arg.key_span or arg.span, hint))
                continue
            if field in spans:
                diags.append(Diagnostic("duplicate-argument", f"'{field}' is given twice",
                                        arg.span, notes=(Note("first given here", spans[field]),)))
                continue
        try:
            values[field] = evaluate(arg.value, env)
        except ArchError as err:
            diags.extend(err.diagnostics)
            continue
        beyond = _beyond_torch(op, field, values[field], arg.span)
        if beyond is not None:
            del values[field]
            diags.append(beyond)
            continue
        if type(arg.value) in _MAY_BE_WORDS:
            unknown = _unknown_words(op, field, arg.value, env)
            if unknown:
                del values[field]
                diags.extend(unknown)
                continue
        exprs[field] = arg.value
        spans[field] = arg.span
    if diags:
        raise ArchError(diags)
    # pydantic's lax mode would turn true into 1 and "0.5" into 0.5: refuse those first
    bad = {f: d for f in spans if (d := _type_mismatch(op, f, values[f], exprs[f], spans[f],
                                                        env)) is not None}
    try:
        params = _validated(op, {k: v for k, v in values.items() if k not in bad})
    except ValidationError as err:
        raise ArchError(list(bad.values()) + [
            d for f, d in _validation_diagnostics(op, err, spans, layer.span, values)
            if f not in bad]) from None
    if bad:
        raise ArchError(list(bad.values()))
    try:
        op.check_params(params)
    except ShapeError as err:
        raise ArchError([Diagnostic(err.code if err.code != "shape-error" else "bad-argument",
                                    f"{op.name}: {err.message}",
                                    spans.get(err.arg or "", layer.span), err.hint)]) from None
    return params, exprs, spans


def _beyond_torch(op: Op, field: str, value: Any, span: Span) -> Diagnostic | None:
    """A number the generated torch code cannot hold, whatever the op (issue 16): a float that
    is not finite (inf, nan: a value from YAML or a block argument) or beyond float32 (the
    model's dtype: torch converts `ELU(alpha)` and the like to it, and overflows), or an integer
    beyond the 64-bit range torch stores its sizes, strides and dims in. Each op's schema checks the rest
    of its range."""
    for item in value if isinstance(value, tuple) else (value,):
        if isinstance(item, float) and not math.isfinite(item):
            return Diagnostic("bad-argument", f"{op.name}: {field} must be a finite number, "
                              f"got {item}", span, "inf and nan are not values a layer takes")
        if isinstance(item, float) and abs(item) > FLOAT32_MAX:  # the model computes in float32
            return Diagnostic("bad-argument", f"{op.name}: {field} is beyond the range of the "
                              f"model's 32-bit floats, got {item:g}", span,
                              f"at most {FLOAT32_MAX:.4g} in magnitude")
        if isinstance(item, int) and not isinstance(item, bool) and \
                not -INT64_MAX - 1 <= item <= INT64_MAX:
            return Diagnostic("bad-argument", f"{op.name}: {field} is beyond the 64-bit range "
                              f"torch stores it in", span,
                              f"at most {INT64_MAX:,} in magnitude")
    return None


# Validated params by schema and values (with their types: true, 1 and 1.0 differ). Pydantic
# takes 10-20 us per layer; a model binds the same values again and again (every BatchNorm with
# no arguments). Params are frozen, so layers share them. Bounded; `archdsl.clear_caches()`
# empties it.
_VALIDATED: dict[tuple, Any] = register({})
_VALIDATED_MAX = 4096


def _validated(op: Op, values: dict[str, Any]):
    try:
        key: tuple | None = (op.Params, tuple(sorted((k, type(v), v)
                                                     for k, v in values.items())))
        found = _VALIDATED.get(key)
    except TypeError:  # an unhashable value
        key, found = None, None
    if found is None:
        found = op.Params(**values)
        if key is not None:
            if len(_VALIDATED) >= _VALIDATED_MAX:
                _VALIDATED.clear()
            _VALIDATED[key] = found
    return found


@functools.cache
def _accepted(annotation: Any) -> tuple[set[type], set[str]]:
    """The Python types and the literal words a parameter annotation accepts."""
    kinds: set[type] = set()
    words: set[str] = set()
    stack = [annotation]
    while stack:
        a = stack.pop()
        origin = typing.get_origin(a)
        if origin is typing.Union or origin is types.UnionType:
            stack.extend(typing.get_args(a))
        elif origin is typing.Annotated:
            stack.append(typing.get_args(a)[0])
        elif origin is typing.Literal:
            for v in typing.get_args(a):
                if isinstance(v, str):
                    words.add(v)
                else:
                    kinds.add(type(v))
        elif origin is tuple:
            kinds.add(tuple)
        elif isinstance(a, type):
            kinds.add(a)
    return kinds, words


@functools.cache
def _field_accepts(params_cls, field: str) -> tuple[Any, set[type], set[str]]:
    """A field's info and what it accepts, by schema and name (hashing the annotation itself,
    a typing Union, costs more than the check)."""
    info = schema_fields(params_cls)[1].get(field)
    return (None, set(), set()) if info is None else (info, *_accepted(info.annotation))


def _type_mismatch(op: Op, field: str, value: Any, expr: ast.Expr, span: Span,
                   env: Mapping[str, Any]) -> Diagnostic | None:
    """A word or true/false where the parameter takes neither (lax pydantic would coerce)."""
    if not isinstance(value, (bool, str, int, float)):
        return None
    info, kinds, words = _field_accepts(op.Params, field)
    if info is None:
        return None
    if not isinstance(value, (bool, str)):  # a number where only true/false is meant
        if bool not in kinds or int in kinds or float in kinds:
            return None
        hint = "write true or false"
    elif isinstance(value, bool):
        if bool in kinds:
            return None
        hint = "true and false are not numbers"
    elif isinstance(value, str):
        if str in kinds or value in words:
            return None
        hint = _word_hint(op, field, value, expr, words, env)
    else:
        return None
    return Diagnostic("bad-argument", f"{op.name}: {field} must be {describe_field(info)}, "
                      f"got {_value_text(value)}", span, hint)


_MAY_BE_WORDS = (ast.Name, ast.IfElse, ast.BoolOp, ast.TupleExpr)


def _unknown_words(op: Op, field: str, expr: ast.Expr, env: Mapping[str, Any]
                   ) -> list[Diagnostic]:
    """An `unknown-name` for each bare word of `expr` that the field does not take (when the
    whole argument is a near-miss of a word the op takes, `_word_hint` explains it instead)."""
    _, kinds, words = _field_accepts(op.Params, field)
    if str in kinds:
        return []
    return [unknown_name(name, env, sorted(words)) for name in value_names(expr, env)
            if name.id not in words and (name is not expr or
                                         _word_guess(op, field, name.id, words) is None)]


def _word_guess(op: Op, field: str, word: str, words: set[str]) -> str | None:
    """A hint when `word` is a near-miss of a word the field takes, or a word another field
    of the op takes (`Conv(64, 3, same)`)."""
    guess = suggest(word, words) if words else None
    if guess is not None:
        return f"did you mean '{guess}'?"
    for other, info in op.Params.model_fields.items():
        if other != field and word in _accepted(info.annotation)[1]:
            short = next((k for k, f in op.keywords.items() if f == other), other)
            return f"did you mean `{short}={word}`? ({field} is given by position here)"
    return None


_CATALOG_WORDS: dict[int, frozenset[str] | None] = {}


def catalog_words() -> frozenset[str] | None:
    """The bare words some field of some op accepts (None: one takes any word), which is what
    a block parameter may be given: it has no type, so its use decides (per catalog size, as
    plugins may register ops)."""
    ops = registry.all_ops()
    if len(ops) not in _CATALOG_WORDS:
        found: set[str] = set()
        for op in ops:
            names, _ = schema_fields(op.Params)
            for field in names:
                info, kinds, words = _field_accepts(op.Params, field)
                if FREE_TEXT in info.metadata:  # describes the layer; takes no words
                    continue
                if str in kinds:
                    _CATALOG_WORDS[len(ops)] = None
                    return None
                found |= words
        _CATALOG_WORDS[len(ops)] = frozenset(found)
    return _CATALOG_WORDS[len(ops)]


def _block_words(expr: ast.Expr, env: Mapping[str, Any]) -> list[Diagnostic]:
    """An `unknown-name` for each bare word given to a block parameter that no op takes."""
    if type(expr) not in _MAY_BE_WORDS:
        return []
    words = catalog_words()
    if words is None:
        return []
    return [unknown_name(name, env, sorted(words), show_words=False)
            for name in value_names(expr, env) if name.id not in words]


def _word_hint(op: Op, field: str, word: str, expr: ast.Expr, words: set[str],
               env: Mapping[str, Any]) -> str | None:
    guess = _word_guess(op, field, word, words)
    if guess is not None:
        return guess
    if not isinstance(expr, ast.Name):
        try:
            float(word)
            return "remove the quotes: numbers are written without them"
        except ValueError:
            return None
    names = [k for k in env if isinstance(k, str)]
    guess = suggest(word, names) if names else None
    if guess is not None:
        return f"'{word}' is not defined here; did you mean '{guess}'?"
    if not words and any(n != "classes" for n in names):  # in a block: a misspelt parameter?
        return f"'{word}' is not a parameter here (parameters: {', '.join(sorted(names))})"
    return None


def _validation_diagnostics(op: Op, err: ValidationError, spans: dict[str, Span], where: Span,
                            values: dict) -> list[tuple[str, Diagnostic]]:
    seen: list[str] = []
    for e in err.errors():
        field = str(e["loc"][0]) if e["loc"] else ""
        if field not in seen:
            seen.append(field)
    diags = []
    for field in seen:
        info = op.Params.model_fields.get(field)
        expected = describe_field(info) if info is not None else "valid"
        got = _value_text(values.get(field))
        diags.append((field, Diagnostic("bad-argument", f"{op.name}: {field} must be "
                                        f"{expected}, got {got}", spans.get(field, where),
                                        _range_hint(field, values))))
    return diags


def _range_hint(field: str, values: dict) -> str | None:
    value = values.get(field)
    if field == "p" and isinstance(value, (int, float)):
        return "a drop probability is at least 0 and below 1, e.g. Dropout(0.5)"
    if isinstance(value, int) and not isinstance(value, bool) and value <= 0:
        return "sizes and counts start at 1"
    return None


def describe_field(info) -> str:
    """Say in words what a parameter accepts (pydantic keeps top-level constraints apart)."""
    word = describe_type(info.annotation)
    return _constrain(word, info.metadata) if info.metadata else word


def _article(word: str) -> str:
    return word.split(" ", 1)[1] if word.startswith(("a ", "an ")) else word


def _constrain(word: str, metadata) -> str:
    for m in metadata:
        for constraint in getattr(m, "metadata", [m]):
            if isinstance(constraint, annotated_types.Gt):
                word = f"a positive {_article(word)}" if constraint.gt == 0 else \
                    f"{word} above {constraint.gt}"
            elif isinstance(constraint, annotated_types.Ge):
                word = f"a non-negative {_article(word)}" if constraint.ge == 0 else \
                    f"{word} of at least {constraint.ge}"
            elif isinstance(constraint, annotated_types.Lt):
                word = f"{word} below {constraint.lt}"
            elif isinstance(constraint, annotated_types.Le):
                word = f"{word} of at most {constraint.le}"
    return word


def describe_type(annotation: Any) -> str:
    """Say in words what a type annotation accepts."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(annotation)
        words = []
        for a in args:
            if a is type(None):
                continue
            w = describe_type(a)
            if w not in words:
                words.append(w)
        if type(None) in args:
            words.append("none")
        return " or ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " or " + \
            words[-1]
    if origin is typing.Literal:
        return " or ".join(f"'{a}'" if isinstance(a, str) else str(a)
                           for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        return _constrain(describe_type(base), meta)
    if origin is tuple:
        args = typing.get_args(annotation)
        inner = describe_type(args[0])
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_article(inner)}s"
        if len({str(a) for a in args}) == 1:
            return f"a pair of {_article(inner)}s"
        return "a tuple"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a word"}.get(
        annotation, getattr(annotation, "__name__", str(annotation)))


def bind_block(defn: ast.BlockDef, call: ast.Layer, caller_env: Mapping[str, Any],
               implicit: Mapping[str, Any] | None = None
               ) -> tuple[dict[str, Any], dict[str, ast.Expr]]:
    """Values for a block's parameters from a call, plus the call's argument expressions;
    `implicit` holds what the body knows without being passed (`in_channels`), in scope for
    the defaults and kept in the values."""
    params = [p.name for p in defn.params]
    given: dict[str, tuple[Any, ast.Arg]] = {}
    failed: set[str] = set()  # given, but wrong: already reported, never "missing" too
    diags: list[Diagnostic] = []
    position = 0
    for arg in call.args or ():
        if arg.key is None:
            if position >= len(params):
                diags.append(Diagnostic(
                    "too-many-arguments", f"block {defn.name} takes {len(params)} parameter"
                    f"{'s' if len(params) != 1 else ''}" + (f" ({', '.join(params)})" if params
                                                            else "")
                    + f", got {len(call.args or ())}", arg.span, "remove the extra argument",
                    (Note(f"{defn.name} is defined here", defn.name_span),)))
                continue
            name = params[position]
            position += 1
        else:
            name = arg.key
            if name not in params:
                guess = suggest(name, params)
                diags.append(Diagnostic(
                    "unknown-argument", f"block {defn.name} has no parameter '{name}'",
                    arg.key_span or arg.span, f"did you mean '{guess}'?" if guess else
                    f"its parameters are: {', '.join(params) or 'none'}",
                    (Note(f"{defn.name} is defined here", defn.name_span),)))
                continue
        if name in given:
            diags.append(Diagnostic("duplicate-argument", f"'{name}' is given twice", arg.span,
                                    notes=(Note("first given here", given[name][1].span),)))
            continue
        try:
            value = evaluate(arg.value, caller_env)
        except ArchError as err:
            diags.extend(err.diagnostics)
            failed.add(name)
            continue
        unknown = _block_words(arg.value, caller_env)
        if unknown:
            diags.extend(unknown)
            failed.add(name)
            continue
        given[name] = (value, arg)
    values: dict[str, Any] = dict(implicit or {})
    exprs: dict[str, ast.Expr] = {}
    for param in defn.params:
        if param.name in given:
            values[param.name] = given[param.name][0]
            exprs[param.name] = given[param.name][1].value
        elif param.name in failed or param.default is not None and \
                not failed.isdisjoint(names_in(param.default)):
            failed.add(param.name)  # its default would read a value already reported
            continue
        elif param.default is not None:
            try:
                value = evaluate(param.default, values)
            except ArchError as err:
                diags.extend(err.diagnostics)
                continue
            unknown = _block_words(param.default, values)
            if unknown:
                diags.extend(unknown)
                continue
            values[param.name] = value
        else:
            diags.append(Diagnostic(
                "missing-argument", f"block {defn.name} needs a value for '{param.name}'",
                call.span, f"write {defn.name}({', '.join(p.name + '=...' for p in defn.params if p.default is None)})",
                (Note(f"'{param.name}' is declared here", param.span),)))
    if diags:
        raise ArchError(diags)
    return values, exprs
