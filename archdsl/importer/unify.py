"""Blocks from instances: what varies between the modules of one class becomes a parameter.

Contract: `make_blocks(root_items, taken, classes)` finds every `Instance` under the items,
groups them by class, and for each class (innermost first) aligns the instances' bodies into
one template (anti-unification; items paired by least cost: fewest gaps, then fewest differing
arguments): a value equal in all instances stays a literal; one equal to the block's input
channels is `in_channels`; one equal to (a whole multiple of, `(p - 1) // 2` of) a parameter
already found reuses it; any other becomes a parameter, named after an attribute the modules
hold with the same values where there is one, else by the name their constructor passes it by
(`names.source_name`: `width`, `expanded_channels`), else after the argument (`out_channels`,
`kernel`; never an attribute's name that holds other values), and defaulting to the value most
instances have. An item present in some instances only gets `when=`: a comparison of the parameters
where one fits (`out_channels != in_channels`), else a flag; a residual merge missing in some
is `Add(when=...)`. Instances that cannot be aligned split into blocks of equal structure; an
nn.Sequential subclass whose instances hold differently named children is written as labelled
groups instead. Each call then gets its instance's arguments (defaults left out).
"""

from __future__ import annotations

import keyword
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from archdsl.expr_functions import FUNCTIONS
from archdsl.importer.names import source_name
from archdsl.importer.terms import Call, Expr, Group, Instance, Layer, Merge, Opaque, Side

ABSENT = object()  # the item is not in this instance: any value will do
RESERVED = {"in_channels", "i", "when", "classes", "math", "if", "else", "and", "or", "not",
            "true", "false", "auto", "same", "valid"}
# parameter names for a layer argument that has no attribute to be named after
SHORT = {"out_channels": "out_channels", "out_features": "out_features", "kernel": "kernel",
         "stride": "stride", "padding": "padding", "groups": "groups", "dilation": "dilation",
         "p": "p", "eps": "eps",
         "momentum": "momentum", "inplace": "inplace", "output_size": "size"}


class Mismatch(Exception):
    pass


@dataclass
class Vec:
    """One position of a template: the value in each instance (ABSENT where missing)."""

    values: tuple
    hint: str = "v"
    items: tuple = ()  # the item of each instance it comes from (to name it from the source)
    key: str | None = None  # the argument of those items it is


@dataclass
class Param:
    name: str
    default: Any = ABSENT  # ABSENT: required
    values: tuple = ()  # each instance's value (ABSENT where no item uses it)

    def absorb(self, values: tuple) -> None:
        """Another position with the same values where both are known: fill the gaps."""
        self.values = tuple(a if a is not ABSENT else b
                            for a, b in zip(self.values, values, strict=True))

    def settle(self) -> None:
        """Values for every instance, and the default: the value most instances have."""
        self.values = _fill(self.values)
        common, n = Counter(self.values).most_common(1)[0]
        self.default = common if n >= 2 and n * 2 > len(self.values) and \
            self.name != "classes" else ABSENT


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


def _top_calls(items: list) -> list[Call]:
    """The block calls of the model's own body (not inside blocks)."""
    found = []
    for item in items:
        if isinstance(item, Call):
            found.append(item)
        elif isinstance(item, (Group, Side)):
            found += _top_calls(item.items)
        elif isinstance(item, Merge):
            for branch in item.branches:
                found += _top_calls(branch)
    return found


def _inline_uneven_sequentials(root_items: list) -> None:
    """An nn.Sequential subclass whose instances hold different children (RegNet's stages:
    `block2-0`, `block2-1`, ...) is written as a labelled group at each place, not a block."""
    calls: list[Call] = []
    _walk(root_items, calls)
    shapes: dict[type, set] = {}
    for call in calls:
        if call.instance.sequential:
            shapes.setdefault(type(call.instance.module), set()).add(
                tuple(getattr(i, "label", None) for i in call.instance.body))
    uneven = {cls for cls, seen in shapes.items()
              if len(seen) > 1 and any(label for names in seen for label in names)}
    if not uneven:
        return

    def rewrite(items: list) -> None:
        for k, item in enumerate(items):
            if isinstance(item, Call):
                rewrite(item.instance.body)
                if type(item.instance.module) in uneven and item.label is not None:
                    items[k] = Group(item.label, item.instance.body, item.when,
                                     item.instance.module)
            elif isinstance(item, (Group, Side)):
                rewrite(item.items)
            elif isinstance(item, Merge):
                for branch in item.branches:
                    rewrite(branch)
    rewrite(root_items)


def _height(instance: Instance) -> int:
    calls: list[Call] = []
    _walk(instance.body, calls)
    return 1 + max((_height(c.instance) for c in calls if c.instance is not instance), default=0)


def make_blocks(root_items: list, taken: set[str], classes: int | None = None) -> list[Block]:
    """Blocks for every instance under `root_items`, in the order to write them (callees
    first); `taken` names blocks may not have (layer kinds, built-in blocks). A block called
    from the model only whose FC has `classes` outputs takes `classes` (an auxiliary head)."""
    _inline_uneven_sequentials(root_items)
    calls: list[Call] = []
    _walk(root_items, calls)
    top = {id(c.instance) for c in _top_calls(root_items)}
    by_class: dict[type, list[Instance]] = {}
    for call in calls:
        group = by_class.setdefault(type(call.instance.module), [])
        if all(call.instance is not other for other in group):
            group.append(call.instance)
    heights = {cls: max(_height(i) for i in insts) for cls, insts in by_class.items()}
    blocks: list[Block] = []
    used = {n.lower() for n in taken}
    for cls in sorted(by_class, key=lambda c: heights[c]):
        base = None
        for group in _split(by_class[cls]):
            name = _block_name(cls.__name__ if base is None else base, used)
            base = base or name
            used.add(name.lower())
            block = Block(name, group, sequential=group[0].sequential)
            _unify(block, classes if all(id(i) in top for i in group) else None)
            blocks.append(block)
            for call in calls:  # its calls' arguments, before the callers are unified
                if call.instance.block is block:
                    call.args = {p.name: v for p, v in zip(
                        block.params, _param_values(block, call.instance), strict=False)
                        if p.default is ABSENT or v != p.default}
                    if "classes" in call.args:
                        call.args["classes"] = Expr("classes")
    return blocks


def _block_name(name: str, used: set[str]) -> str:
    name = name.lstrip("_") or "Block"  # torchvision's private classes: _DenseLayer
    base = name if name.lower() not in used or name[-1].isdigit() else name + "Block"
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
        new_columns, new_keys = [], []
        for a, b in _alignment(columns, keys, chain, ckeys):
            if a is not None and b is not None:
                new_columns.append(columns[a] + [chain[b]])
                new_keys.append(keys[a])
            elif a is not None:
                new_columns.append(columns[a] + [None])
                new_keys.append(keys[a])
            else:
                new_columns.append([ABSENT if chains[j] is None else None for j in range(k)]
                                   + [chain[b]])
                new_keys.append(ckeys[b])
        columns, keys = new_columns, new_keys
    return [_align_items(col) for col in columns]


GAP = 100  # an item without a partner costs more than any difference of arguments


def _alignment(columns: list, keys: list, chain: list, ckeys: list) -> list[tuple]:
    """Pairs (column, item), None on a side for a gap: the alignment with the fewest gaps, and
    among those the fewest differing arguments (MBConv without an expansion: its depthwise
    convolution pairs with the others' depthwise one, not with their expansion)."""
    n, m = len(keys), len(chain)
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    cost[0] = [GAP * j for j in range(m + 1)]
    for a in range(1, n + 1):
        cost[a][0] = GAP * a
        for b in range(1, m + 1):
            best = min(cost[a - 1][b] + GAP, cost[a][b - 1] + GAP)
            if keys[a - 1] == ckeys[b - 1]:
                best = min(best, cost[a - 1][b - 1] + _difference(columns[a - 1], chain[b - 1]))
            cost[a][b] = best
    pairs, a, b = [], n, m
    while a or b:
        if a and b and keys[a - 1] == ckeys[b - 1] and \
                cost[a][b] == cost[a - 1][b - 1] + _difference(columns[a - 1], chain[b - 1]):
            pairs.append((a - 1, b - 1))
            a, b = a - 1, b - 1
        elif a and cost[a][b] == cost[a - 1][b] + GAP:
            pairs.append((a - 1, None))
            a -= 1
        else:
            pairs.append((None, b - 1))
            b -= 1
    return pairs[::-1]


def _difference(column: list, item) -> int:
    """How many arguments differ between an item and a column's first item."""
    other = next((i for i in column if i is not None and i is not ABSENT), None)
    mine, theirs = getattr(item, "args", None), getattr(other, "args", None)
    if not isinstance(mine, dict) or not isinstance(theirs, dict):
        return 0
    return sum(mine.get(k) != theirs.get(k) for k in set(mine) | set(theirs))


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
        if not first.op.concatenates:  # a sum: each instance's branches in the same roles
            model = max(items, key=lambda i: sum(bool(b) for b in i.branches))
            for i in items:
                i.branches = _matched_branches(i.branches, model.branches)
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
            args[p.name] = Vec(vals, p.name, tuple(column), p.name)
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


def _matched_branches(branches: list, model: list) -> list:
    """`branches` reordered so that each sits where a branch of `model` starts as it does
    (ResNet-style `proj(x) + f(x)` beside `x + f(x)`: f with f, the identity with proj)."""
    free = list(range(len(branches)))
    out: list = [None] * len(model)
    for slot, m in enumerate(model):
        k = next((k for k in free if branches[k] and m and _key(branches[k][0]) == _key(m[0])),
                 None)
        if k is not None:
            out[slot] = branches[k]
            free.remove(k)
    for slot in range(len(model)):
        if out[slot] is None:
            out[slot] = branches[free.pop(0)]
    return out


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
        out[key] = Vec(vals, SHORT.get(key, key), tuple(column), key)
    return out


# --- parameters ----------------------------------------------------------------------------------

def _unify(block: Block, classes: int | None = None) -> None:
    for inst in block.instances:
        inst.block = block
    template = _align_chains([i.body for i in block.instances])
    channels = tuple(i.in_shape[0] if i.in_shape else ABSENT for i in block.instances)
    attrs = _attributes(block.instances)
    params: list[Param] = []

    def resolve(vec: Vec, flags: bool):
        present = _present(vec.values)
        if not present:
            return None
        if all(isinstance(v, bool) for v in present) != flags:
            return vec  # flags are settled after the numbers they may compare
        if classes is not None and vec.hint == SHORT["out_features"] and \
                len(present) == len(vec.values) and set(present) == {classes}:
            if not any(p.name == "classes" for p in params):
                params.append(Param("classes", ABSENT, vec.values))
            return Expr("classes")
        if all(v == present[0] for v in present) and (len(block.instances) == 1 or
                                                      len(present) == len(vec.values)):
            return present[0]
        if len(present) != len(vec.values) and all(v == present[0] for v in present):
            return present[0]
        if _matches(vec.values, channels):
            return Expr("in_channels")
        for p in params:
            if _matches(vec.values, p.values):
                p.absorb(vec.values)
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
        if flags and not _attribute(vec.values, attrs, params):
            condition = _condition(vec.values, params, channels)
            if condition:
                return Expr(condition)
        expanded = all(a > b for a, b in zip(vec.values, channels, strict=False)
                       if isinstance(a, int) and isinstance(b, int))
        name = _name(vec.values, vec.hint, attrs, params, _source(block, vec), expanded)
        params.append(Param(name, ABSENT, vec.values))
        return Expr(name)

    body = _resolve_chain(template, lambda vec: resolve(vec, False))
    block.body = _resolve_chain(body, lambda vec: resolve(vec, True))
    for p in params:
        p.settle()
    required = [p for p in params if p.default is ABSENT]
    block.params = required + [p for p in params if p.default is not ABSENT]


def _resolve_chain(chain: list, resolve) -> list:
    return [_resolve_item(i, resolve) for i in chain]


def _resolve_item(item, resolve):
    def res(v):
        return resolve(v) if isinstance(v, Vec) else v
    when = res(item.when) if isinstance(getattr(item, "when", None), Vec) else \
        getattr(item, "when", None)
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
               for a, b in zip(values, other, strict=False))


def _multiple(values: tuple, other: tuple) -> str | None:
    pairs = [(a, b) for a, b in zip(values, other, strict=True)
             if a is not ABSENT and b is not ABSENT]
    if not pairs or not all(isinstance(a, int) and not isinstance(a, bool) and
                            isinstance(b, int) and not isinstance(b, bool) and b > 0 and a > 0
                            for a, b in pairs):
        return None
    if all(a % b == 0 for a, b in pairs) and len({a // b for a, b in pairs}) == 1:
        k = pairs[0][0] // pairs[0][1]
        return "{} * " + str(k) if k > 1 else None
    if all(b % a == 0 for a, b in pairs) and len({b // a for a, b in pairs}) == 1:
        k = pairs[0][1] // pairs[0][0]
        return "{} // " + str(k) if k > 1 else None
    return None


def _half_below(values: tuple, other: tuple) -> bool:
    """values = (other - 1) // 2: the padding that keeps the size for a kernel."""
    pairs = [(a, b) for a, b in zip(values, other, strict=True)
             if a is not ABSENT and b is not ABSENT]
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


def _condition(flags: tuple, params: list[Param], channels: tuple) -> str | None:
    """A comparison of the parameters found so far that is true exactly where `flags` is
    (`out_channels != in_channels`: MBConv's expansion; `s != 1`: RegNet's projection)."""
    def numbers(values):
        return all(v is ABSENT or (isinstance(v, int) and not isinstance(v, bool))
                   for v in values)
    candidates = []
    for p in params:
        if all(v is ABSENT or isinstance(v, bool) for v in p.values):
            candidates.append((f"not {p.name}", p.values, p.values, lambda a, b: not a))
        if not numbers(p.values):
            continue
        candidates += [(f"{p.name} != in_channels", p.values, channels, lambda a, b: a != b),
                       (f"{p.name} == in_channels", p.values, channels, lambda a, b: a == b),
                       (f"{p.name} != 1", p.values, p.values, lambda a, b: a != 1),
                       (f"{p.name} == 1", p.values, p.values, lambda a, b: a == 1)]
    for text, left, right, test in candidates:
        if all(f is ABSENT or (a is not ABSENT and b is not ABSENT and test(a, b) == f)
               for f, a, b in zip(flags, left, right, strict=False)):
            return text
    return None


def _attribute(values: tuple, attrs: dict, params: list[Param]) -> str | None:
    taken = {p.name for p in params}
    return next((name for name, vals in attrs.items()
                 if name not in taken and _matches(values, vals)), None)


def _source(block: Block, vec: Vec) -> str | None:
    """The name the module's constructor gives this value where it makes the child."""
    for inst, item in zip(block.instances, vec.items, strict=False):
        child = item.module if isinstance(item, Layer) else \
            item.instance.module if isinstance(item, Call) else None
        if child is not None and vec.key is not None:
            name = source_name(inst.module, child, item.label, vec.key)
            if name:
                return name
    return None


def _name(values: tuple, hint: str, attrs: dict, params: list[Param],
          source: str | None = None, expanded: bool = False) -> str:
    """An attribute the modules hold with these values; else the name their constructor
    passes it by; else the argument's own (`out_channels`, `k`), numbered if taken. A name
    the modules hold another attribute under is not used for these values."""
    taken = {p.name for p in params} | RESERVED | set(FUNCTIONS)  # `max` stays the function

    def usable(name: str) -> bool:  # generated block classes take parameters as attributes
        return name not in taken and name not in attrs and name.isidentifier() and \
            not keyword.iskeyword(name) and not hasattr(nn.Module, name)
    for name, vals in attrs.items():
        if name not in taken and name.isidentifier() and not keyword.iskeyword(name) and \
                not hasattr(nn.Module, name) and _matches(values, vals):
            return name
    if source and usable(source):
        return source
    if hint == "out_channels" and not usable(hint):  # another width is the modules' own
        for name in ("expanded" if expanded else "width", "hidden"):
            if usable(name):
                return name
    base = hint if hint.isidentifier() else "v"
    name, n = base, 2
    while not usable(name):
        name, n = f"{base}{n}", n + 1
    return name
