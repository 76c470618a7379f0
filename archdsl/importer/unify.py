"""Blocks from instances: what varies between the modules of one class becomes a parameter.

Contract: `make_blocks(root_items)` finds every `Instance` under the items, groups them by
class, and for each class (innermost first) aligns the instances' bodies into one template
(anti-unification): a value equal in all instances stays a literal; one equal to the block's
input channels is `in_channels`; one equal to (or a whole multiple of) a parameter already
found reuses it; any other becomes a parameter, named after an attribute of the modules that
holds the same values where there is one. An item present in some instances only gets
`when=` a boolean parameter; a residual merge missing in some is `Add(when=...)`. Instances
that cannot be aligned split into blocks of equal structure. Each call then gets its
instance's arguments (defaults left out).
"""

from __future__ import annotations

import difflib
import keyword
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from archdsl.importer.terms import Call, Expr, Group, Instance, Layer, Merge, Opaque, Side

ABSENT = object()  # the item is not in this instance: any value will do
RESERVED = {"in_channels", "i", "when", "classes", "math", "if", "else", "and", "or", "not",
            "true", "false", "auto", "same", "valid"}
# parameter names for a layer argument that has no attribute to be named after
SHORT = {"out_channels": "c", "out_features": "n", "kernel": "k", "stride": "s",
         "padding": "pad", "groups": "g", "dilation": "d", "p": "p", "eps": "eps",
         "momentum": "momentum", "inplace": "inplace", "output_size": "size"}


class Mismatch(Exception):
    pass


@dataclass
class Vec:
    """One position of a template: the value in each instance (ABSENT where missing)."""

    values: tuple
    hint: str = "v"


@dataclass
class Param:
    name: str
    default: Any = ABSENT  # ABSENT: required
    values: tuple = ()


@dataclass
class Block:
    name: str
    instances: list[Instance]
    body: list = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    sequential: bool = False


# --- finding instances ---------------------------------------------------------------------------

def _walk(items, found: list) -> None:
    for item in items:
        if isinstance(item, Call):
            found.append(item)
            _walk(item.instance.body, found)
        elif isinstance(item, Group):
            _walk(item.items, found)
        elif isinstance(item, Merge):
            for branch in item.branches:
                _walk(branch, found)
        elif isinstance(item, Side):
            _walk(item.items, found)


def _height(instance: Instance) -> int:
    calls: list[Call] = []
    _walk(instance.body, calls)
    return 1 + max((_height(c.instance) for c in calls if c.instance is not instance), default=0)


def make_blocks(root_items: list, taken: set[str]) -> list[Block]:
    """Blocks for every instance under `root_items`, in the order to write them (callees
    first); `taken` names blocks may not have (layer kinds, built-in blocks)."""
    calls: list[Call] = []
    _walk(root_items, calls)
    by_class: dict[type, list[Instance]] = {}
    for call in calls:
        group = by_class.setdefault(type(call.instance.module), [])
        if all(call.instance is not other for other in group):
            group.append(call.instance)
    heights = {cls: max(_height(i) for i in insts) for cls, insts in by_class.items()}
    blocks: list[Block] = []
    used = {n.lower() for n in taken}
    for cls in sorted(by_class, key=lambda c: heights[c]):
        for group in _split(by_class[cls]):
            name = _block_name(cls.__name__, used)
            used.add(name.lower())
            block = Block(name, group, sequential=group[0].sequential)
            _unify(block)
            blocks.append(block)
            for call in calls:  # its calls' arguments, before the callers are unified
                if call.instance.block is block:
                    call.args = {p.name: v for p, v in zip(
                        block.params, _param_values(block, call.instance))
                        if p.default is ABSENT or v != p.default}
    return blocks


def _block_name(name: str, used: set[str]) -> str:
    name = name.lstrip("_") or "Block"  # torchvision's private classes: _DenseLayer
    base = name if name.lower() not in used else name + "Block"
    candidate, n = base, 2
    while candidate.lower() in used:
        candidate, n = f"{base}{n}", n + 1
    return candidate


def _param_values(block: Block, instance: Instance) -> list:
    k = block.instances.index(instance)
    return [p.values[k] for p in block.params]


def _split(instances: list[Instance]) -> list[list[Instance]]:
    """Instances that align as one block, or groups of equal structure."""
    try:
        _align_chains([i.body for i in instances])
        return [instances]
    except Mismatch:
        groups: dict[str, list[Instance]] = {}
        for inst in instances:
            groups.setdefault(_signature(inst.body), []).append(inst)
        return list(groups.values())


def _signature(items) -> str:
    return repr([(_key(i), [_signature(b) for b in getattr(i, "branches", [])],
                  _signature(i.items) if isinstance(i, (Group, Side)) else "") for i in items])


# --- alignment -----------------------------------------------------------------------------------

def _key(item) -> tuple:
    if isinstance(item, Layer):
        return ("L", item.op.name, item.label)
    if isinstance(item, Call):
        return ("C", item.instance.block.name if item.instance.block else "?", item.label)
    if isinstance(item, Group):
        return ("G", item.label)
    if isinstance(item, Merge):
        return ("M", item.op.name, len(item.branches))
    if isinstance(item, Side):
        return ("S", item.label)
    return ("O", item.label, id(item))


def _wrap_residuals(chains: list) -> list:
    """Where some instances have `Merge[branch, Id]` and others the branch's items inline
    (torchvision's MBConv without a residual), wrap those items in a merge marked off."""
    model = next((c for c in chains if c and any(
        isinstance(i, Merge) and len(i.branches) == 2 and not i.branches[1] for i in c)), None)
    if model is None:
        return chains
    out = []
    for chain in chains:
        if chain is None or any(isinstance(i, Merge) for i in chain):
            out.append(chain)
            continue
        for j, item in enumerate(model):
            if isinstance(item, Merge) and len(item.branches) == 2 and not item.branches[1]:
                n = len(item.branches[0])
                if [_key(i) for i in chain[j:j + n]] == [_key(i) for i in item.branches[0]]:
                    off = Merge(item.op, dict(item.args), [chain[j:j + n], []], when=False)
                    chain = chain[:j] + [off] + chain[j + n:]
                break
        out.append(chain)
    return out


def _align_chains(chains: list) -> list:
    """One template chain for several (None: absent in that instance)."""
    chains = _wrap_residuals(chains)
    columns: list[list] = []  # each: the item of each instance (None where absent)
    keys: list[tuple] = []
    for k, chain in enumerate(chains):
        if chain is None:  # the enclosing item is absent: nothing here to compare
            for col in columns:
                col.append(ABSENT)
            continue
        ckeys = [_key(i) for i in chain]
        matcher = difflib.SequenceMatcher(a=keys, b=ckeys, autojunk=False)
        new_columns, new_keys = [], []
        for tag, a0, a1, b0, b1 in matcher.get_opcodes():
            if tag == "equal":
                for a, b in zip(range(a0, a1), range(b0, b1)):
                    new_columns.append(columns[a] + [chain[b]])
                    new_keys.append(keys[a])
                continue
            for a in range(a0, a1):
                new_columns.append(columns[a] + [None])
                new_keys.append(keys[a])
            for b in range(b0, b1):
                new_columns.append([ABSENT if chains[j] is None else None for j in range(k)]
                                   + [chain[b]])
                new_keys.append(ckeys[b])
        columns, keys = new_columns, new_keys
    return [_align_items(col) for col in columns]


def _present(values) -> list:
    return [v for v in values if v is not ABSENT]


def _align_items(column: list):
    """One template item for a column of aligned items (None: missing in that instance,
    ABSENT: its enclosing item is missing there)."""
    items = [i for i in column if i is not None and i is not ABSENT]
    first = items[0]
    present = tuple(ABSENT if i is ABSENT else i is not None for i in column)
    what = getattr(first, "label", None) or (
        first.op.name.lower() if isinstance(first, Layer) else
        _snake(first.instance.block.name) if isinstance(first, Call) and first.instance.block
        else "it")
    when = None if False not in present else Vec(present, "has_" + what)
    column = [None if i is ABSENT else i for i in column]
    if isinstance(first, Layer) and first.op.is_skip_branch:
        when = None  # a skip branch is the identity where it does not project
    if any(type(i) is not type(first) for i in items):
        raise Mismatch
    if isinstance(first, Merge) or any(isinstance(i, Merge) for i in items):
        offs = tuple(ABSENT if i is None else i.when is not False for i in column)
        if len(set(len(i.branches) for i in items)) != 1:
            raise Mismatch
        branches = [_align_chains([None if i is None else i.branches[b] for i in column])
                    for b in range(len(first.branches))]
        merge_when = Vec(offs, "residual") if False in offs else None
        if when is not None:
            raise Mismatch
        return Merge(first.op, _align_args(column, lambda i: i.args, first.op), branches,
                     when=merge_when)
    if isinstance(first, Layer):
        if len({i.auto_bias for i in items}) > 1:
            for i in items:
                i.auto_bias = None
        return Layer(first.op, _align_args(column, lambda i: i.args, first.op), first.label,
                     first.auto_bias, when)
    if isinstance(first, Call):
        if len({id(i.instance.block) for i in items}) != 1:
            raise Mismatch
        block = first.instance.block
        args = {}
        for p in block.params:
            vals = tuple(ABSENT if i is None else i.args.get(
                p.name, p.default) for i in column)
            args[p.name] = Vec(vals, p.name)
        return Call(first.instance, first.label, args, when)
    if isinstance(first, Group):
        if when is not None:  # `Seq` takes no `when`: such instances are blocks of their own
            raise Mismatch
        return Group(first.label, _align_chains([None if i is None else i.items for i in column]),
                     when)
    if isinstance(first, Side):
        return Side(first.label, _align_chains([None if i is None else i.items for i in column]),
                    first.order)
    if len(items) > 1:
        raise Mismatch
    return first


def _align_args(column, get, op) -> dict:
    keys: list[str] = []
    for item in column:
        if item is not None:
            keys += [k for k in get(item) if k not in keys]
    fields = op.Params.model_fields
    out = {}
    for key in keys:
        default = fields[key].default if key in fields else ABSENT
        vals = tuple(ABSENT if i is None else get(i).get(key, default) for i in column)
        out[key] = Vec(vals, SHORT.get(key, key))
    return out


# --- parameters ----------------------------------------------------------------------------------

def _unify(block: Block) -> None:
    for inst in block.instances:
        inst.block = block
    template = _align_chains([i.body for i in block.instances])
    channels = tuple(i.in_shape[0] if i.in_shape else ABSENT for i in block.instances)
    attrs = _attributes(block.instances)
    params: list[Param] = []

    def resolve(vec: Vec):
        present = _present(vec.values)
        if not present:
            return None
        if all(v == present[0] for v in present) and (len(block.instances) == 1 or
                                                      len(present) == len(vec.values)):
            return present[0]
        if len(present) != len(vec.values) and all(v == present[0] for v in present):
            return present[0]
        if _matches(vec.values, channels):
            return Expr("in_channels")
        for p in params:
            if _matches(vec.values, p.values):
                return Expr(p.name)
        for p in params:
            rel = _multiple(vec.values, p.values)
            if rel:
                return Expr(rel.format(p.name))
            if _half_below(vec.values, p.values):
                return Expr(f"({p.name} - 1) // 2")
        rel = _multiple(vec.values, channels)
        if rel:
            return Expr(rel.format("in_channels"))
        filled = _fill(vec.values)
        name = _name(filled, vec.hint, attrs, params)
        counts = Counter(filled)
        common, n = counts.most_common(1)[0]
        default = common if n >= 2 and n * 2 > len(filled) else ABSENT
        params.append(Param(name, default, filled))
        return Expr(name)

    block.body = _resolve_chain(template, resolve)
    required = [p for p in params if p.default is ABSENT]
    block.params = required + [p for p in params if p.default is not ABSENT]


def _resolve_chain(chain: list, resolve) -> list:
    return [_resolve_item(i, resolve) for i in chain]


def _resolve_item(item, resolve):
    def res(v):
        return resolve(v) if isinstance(v, Vec) else v
    when = res(item.when) if isinstance(getattr(item, "when", None), Vec) else item.when
    if when is True:
        when = None
    if isinstance(item, Layer):
        return Layer(item.op, {k: res(v) for k, v in item.args.items()}, item.label,
                     item.auto_bias, when)
    if isinstance(item, Call):
        return Call(item.instance, item.label, {k: res(v) for k, v in item.args.items()}, when)
    if isinstance(item, Group):
        return Group(item.label, _resolve_chain(item.items, resolve), when)
    if isinstance(item, Merge):
        return Merge(item.op, {k: res(v) for k, v in item.args.items()},
                     [_resolve_chain(b, resolve) for b in item.branches], when)
    if isinstance(item, Side):
        return Side(item.label, _resolve_chain(item.items, resolve), item.order)
    if isinstance(item, Opaque):
        return item
    return item


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and k else c.lower()
                   for k, c in enumerate(name))


def _matches(values: tuple, other: tuple) -> bool:
    return all(a is ABSENT or b is ABSENT or (a == b and type(a) is type(b))
               for a, b in zip(values, other))


def _multiple(values: tuple, other: tuple) -> str | None:
    pairs = [(a, b) for a, b in zip(values, other) if a is not ABSENT and b is not ABSENT]
    if not pairs or not all(isinstance(a, int) and not isinstance(a, bool) and
                            isinstance(b, int) and not isinstance(b, bool) and b > 0 and a > 0
                            for a, b in pairs):
        return None
    if all(a % b == 0 for a, b in pairs) and len({a // b for a, b in pairs}) == 1:
        k = pairs[0][0] // pairs[0][1]
        return "{} * %d" % k if k > 1 else None
    if all(b % a == 0 for a, b in pairs) and len({b // a for a, b in pairs}) == 1:
        k = pairs[0][1] // pairs[0][0]
        return "{} // %d" % k if k > 1 else None
    return None


def _half_below(values: tuple, other: tuple) -> bool:
    """values = (other - 1) // 2: the padding that keeps the size for a kernel."""
    pairs = [(a, b) for a, b in zip(values, other) if a is not ABSENT and b is not ABSENT]
    return bool(pairs) and all(isinstance(a, int) and isinstance(b, int) and
                               not isinstance(a, bool) and not isinstance(b, bool) and
                               a == (b - 1) // 2 for a, b in pairs)


def _fill(values: tuple) -> tuple:
    present = _present(values)
    common = Counter(present).most_common(1)[0][0]
    return tuple(common if v is ABSENT else v for v in values)


def _attributes(instances: list[Instance]) -> dict[str, tuple]:
    """Scalar attributes every instance has: names for parameters with the same values."""
    found: dict[str, tuple] = {}
    first = vars(instances[0].module)
    for name, value in first.items():
        if name.startswith("_") or name == "training" or not isinstance(
                value, (bool, int, float, str)):
            continue
        vals = tuple(vars(i.module).get(name, ABSENT) for i in instances)
        if ABSENT not in vals:
            found[name] = vals
    return found


def _name(values: tuple, hint: str, attrs: dict, params: list[Param]) -> str:
    taken = {p.name for p in params} | RESERVED
    for name, vals in attrs.items():
        if name not in taken and _matches(values, vals) and name.isidentifier() and \
                not keyword.iskeyword(name):
            return name
    base = hint if hint.isidentifier() else "v"
    name, n = base, 2
    while name in taken or keyword.iskeyword(name):
        name, n = f"{base}{n}", n + 1
    return name
