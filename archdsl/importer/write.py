"""Terms to .arch text, written as the zoo writes specs.

Contract: `write_model(...)` returns the spec text: a header comment, the blocks (callees
first), and the model. Arguments equal to a kind's default are left out, leading ones are
positional, the rest by keyword (short keywords where the kind has them: `s=`, `p=`); a
convolution's bias is written only where `bias=auto` would give another; runs of equal
items are `x N` (named copies `as "prefix{i+1}"`); long chains and merges break over lines.
"""

from __future__ import annotations

import re

from archdsl.importer.exact import Scaled
from archdsl.importer.terms import Call, Expr, Group, Layer, Merge, Opaque, Side
from archdsl.importer.unify import ABSENT, Block

WIDTH = 96  # a line longer than this breaks


def value(v) -> str:
    if isinstance(v, (Expr, Scaled)):
        return v.text
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace('"', "'") + '"'
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(value(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, float):
        # exactly, as torch's settings compare so; MNASNet's momentum 1 - 0.9997 as written
        text = repr(v)
        rest = f"{1 - v:.12g}"
        if len(text) > 12 and 0 < v < 1 and 1 - float(rest) == v:
            return f"1 - {rest}"
        return text
    return str(v)


def label_text(label: str | None) -> str:
    if label is None:
        return ""
    return ":" + (label if label.isidentifier() else f'"{label}"')


def _short_keywords(op) -> dict[str, str]:
    short: dict[str, str] = {}
    for key, field in op.keywords.items():
        if len(key) == 1 and field not in short:
            short[field] = key
    return short


def layer_args(item: Layer) -> list[str]:
    op = item.op
    fields = op.Params.model_fields
    given = {}
    for key, v in item.args.items():
        if key not in fields:
            continue
        if not isinstance(v, Expr) and _equal(v, fields[key].default):
            continue
        if key == "bias" and item.auto_bias is not None and not isinstance(v, Expr) and \
                v == item.auto_bias:
            continue
        if key == "inplace" and v is True and fields[key].default == "auto":
            continue  # `auto` runs it in place where that is safe, as torch models do
        if v is None:
            continue
        given[key] = v
    names = list(fields)
    # the size of a kernel is written even where it is the default (`Conv(64, 3)`, `MPool(2)`)
    if "kernel" in item.args and "kernel" not in given:
        given["kernel"] = item.args["kernel"]
    short = _short_keywords(op)
    out, positional = [], True
    for n, key in enumerate(names):
        if key not in given:
            positional = False
            continue
        v = given[key]
        # the first argument (and a kernel) positionally, as the zoo writes `Conv(64, 3, s=2)`;
        # all of them for a kind without keywords (`Permute(0, 2, 3, 1)`); never flags or eps
        positional = positional and (n == 0 or key == "kernel" or not op.keywords) and \
            not isinstance(v, bool) and key not in ("eps", "momentum")
        text = value(v)
        out.append(text if positional else f"{short.get(key, key)}={text}")
    return out





def _equal(a, b) -> bool:
    return type(a) is type(b) and a == b or (
        isinstance(a, (int, float)) and isinstance(b, (int, float)) and
        not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def _with_when(args: list[str], when) -> list[str]:
    return args + [f"when={value(when)}"] if when is not None else args


def _call(name: str, label, args: list[str]) -> str:
    return name + label_text(label) + (f"({', '.join(args)})" if args else "")


class Writer:
    def __init__(self, blocks: dict[int, Block]):
        self.blocks = blocks  # id(Instance) -> Block

    def item(self, item, indent: int) -> str:
        if isinstance(item, Layer):
            return _call(item.op.name, item.label, _with_when(layer_args(item), item.when))
        if isinstance(item, Call):
            block = item.instance.block
            args, positional = [], True
            for p in block.params:
                if p.name not in item.args or (p.default is not ABSENT and
                                               _equal(item.args[p.name], p.default)):
                    positional = False
                    continue
                text = value(item.args[p.name])
                positional = positional and p.default is ABSENT
                args.append(text if positional else f"{p.name}={text}")
            return _call(block.name, item.label, _with_when(args, item.when))
        if isinstance(item, Group):
            head = f"{item.label}: " if item.label else "Seq"
            return head + self.bracket([item.items], indent + len(head))
        if isinstance(item, Merge):
            head = _call(item.op.name, None, _with_when(
                [f"{k}={value(v)}" for k, v in item.args.items()
                 if not _equal(v, item.op.Params.model_fields[k].default)], item.when))
            return head + self.bracket(item.branches, indent + len(head), indent)
        if isinstance(item, Side):
            head = "Aux" + label_text(item.label)
            return head + self.bracket([item.items], indent + len(head))
        if isinstance(item, Opaque):
            c = sum(p.numel() for p in item.module.parameters())
            kind = f"{type(item.module).__module__}.{type(item.module).__qualname__}"
            return _call("Opaque", item.label, _with_when(
                [f"out={value(tuple(item.out))}", f"params={c}", f"type={value(kind)}",
                 f"why={value(' '.join(item.why.split())[:160])}"], item.when))
        raise TypeError(type(item))

    def chain(self, items: list, indent: int) -> list[str]:
        return [text for _, text in self.runs(items, indent)]

    def runs(self, items: list, indent: int) -> list[tuple]:
        """(first item, text) for each item, runs of equal items joined as `x N`."""
        texts = [self.item(i, indent) for i in items]
        out: list[tuple] = []
        k = 0
        while k < len(items):
            n = 1
            while k + n < len(items) and texts[k + n] == texts[k] and \
                    getattr(items[k], "label", None) is None:
                n += 1
            if n == 1:
                run = _named_run(items, texts, k, self) or _counted_run(items, k, self, indent)
                if run:
                    out.append((items[k], run[0]))
                    k += run[1]
                    continue
            out.append((items[k], texts[k] + (f" x {n}" if n > 1 else "")))
            k += n
        return out

    def bracket(self, branches: list[list], indent: int, start: int | None = None) -> str:
        """`[ a - b, c ]`, or one item a line aligned after the `[ ` (`indent`: its column);
        after a long head (`Add(when=use_res_connect)`, starting at column `start`) the lines
        hang under it instead."""
        hang = start is not None and indent - start > 24
        inner = start + 4 if hang else indent + 2
        parts = [self.chain(b, inner) if b else ["Id"] for b in branches]
        flat = "[ " + ", ".join(" - ".join(p) for p in parts) + " ]"
        # a stage label first in a chain would take the whole chain: such items get lines
        stage_first = any(len(p) > 1 and re.match(r"[A-Za-z_]\w*: ", p[0]) for p in parts)
        if len(flat) + indent <= WIDTH and "\n" not in flat and not stage_first:
            return flat
        pad = " " * inner
        if hang:
            lines = [("\n" + pad).join(_pack(p, inner)) + ("," if b < len(parts) - 1 else "")
                     for b, p in enumerate(parts)]
            return "[\n" + pad + ("\n" + pad).join(lines) + " ]"
        lines = []
        for b, p in enumerate(parts):
            body = ("\n" + pad).join(_pack(p, inner))
            lines.append(body + ("," if b < len(parts) - 1 else ""))
        return "[ " + ("\n" + pad).join(lines) + " ]"

    def body(self, items: list, indent: int) -> str:
        """Statements, one item a line; a labelled group is a stage: `layer1: A - B x 3`."""
        pad = " " * indent
        lines = []
        for item, line in self.runs(items, indent):
            if isinstance(item, Group) and item.label and item.when is None and \
                    line.startswith(f"{item.label}: [ "):
                inner = self.chain(item.items, indent)
                flat = " - ".join(inner)
                if len(flat) + indent + len(item.label) + 2 <= WIDTH and "\n" not in flat \
                        and not re.match(r"[A-Za-z_]\w*: ", flat):
                    line = f"{item.label}: {flat}"
            lines.append(line)
        return "\n".join(pad + line for line in _pack(lines, indent))


def _pack(texts: list[str], indent: int) -> list[str]:
    """Items joined by ` - ` into lines that fit (a multi-line item, or a stage label, alone)."""
    lines: list[str] = []
    for text in texts:
        alone = "\n" in text or re.match(r"[A-Za-z_]\w*: ", text)
        if lines and not alone and "\n" not in lines[-1] and \
                not re.match(r"[A-Za-z_]\w*: ", lines[-1]) and \
                indent + len(lines[-1]) + 3 + len(text) <= WIDTH:
            lines[-1] += " - " + text
        else:
            lines.append(text)
    return lines


def _counted_run(items, k, writer, indent) -> tuple[str, int] | None:
    """Calls of one block alike but for one number that grows by the same step (ConvNeXt's
    stochastic-depth rates, 0.1 * block / 17): `CNBlock(0.1 * (3 + i) / 17) x 3`, `i` the copy's
    index. The expression gives each value bit for bit, as archdsl evaluates it."""
    first = items[k]
    if not isinstance(first, Call) or first.label is not None or first.when is not None:
        return None
    run = [first]
    for item in items[k + 1:]:
        if not (isinstance(item, Call) and item.label is None and item.when is None and
                item.instance.block is first.instance.block and
                set(item.args) == set(first.args)):
            break
        run.append(item)
    varying = [key for key in first.args if len({repr(c.args[key]) for c in run}) > 1]
    while len(run) >= 3 and len(varying) == 1:
        text = _progression([c.args[varying[0]] for c in run])
        if text:
            call = Call(first.instance, None, {**first.args, varying[0]: Expr(text)})
            return f"{writer.item(call, indent)} x {len(run)}", len(run)
        run.pop()
        varying = [key for key in first.args if len({repr(c.args[key]) for c in run}) > 1]
    return None


def _progression(values: list) -> str | None:
    """`p * (k + i) / n` for rates of one rule (`Scaled`, consecutive k), else `(k + i) / d`
    or `m * (k + i) / d` for numbers v0, v0 + step, ...; None unless every value is exact."""
    from fractions import Fraction

    if all(isinstance(v, Scaled) for v in values):
        first = values[0]
        if all(v.p == first.p and v.n == first.n and v.k == first.k + i
               for i, v in enumerate(values)):
            index = f"({first.k} + i)" if first.k else "i"
            return f"{first.p!r} * {index} / {first.n}"
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    step = Fraction(values[1] - values[0]).limit_denominator(10000)
    if step <= 0:
        return None
    start = values[0] / float(step)
    if abs(start - round(start)) > 1e-6:
        return None
    k0, num, den = round(start), step.numerator, step.denominator
    index = f"({k0} + i)" if k0 else "i"
    text = (index if num == 1 else f"{num} * {index}") + (f" / {den}" if den != 1 else "")
    for i, v in enumerate(values):
        top = num * (k0 + i)  # as archdsl's `/` computes: an int where it divides exactly
        got = top // den if top % den == 0 else top / den
        if got != v or type(got) is not type(v):
            return None
    return text


def _named_run(items, texts, k, writer) -> tuple[str, int] | None:
    """Copies named `prefix{i + first}` (`denselayer1`, `block1-0`): `X x N as "..."`."""
    label = getattr(items[k], "label", None)
    m = re.fullmatch(r"(.*?)(\d+)", label or "")
    if not m:
        return None
    prefix, first = m.group(1), int(m.group(2))

    def bare(item):
        saved = item.label
        item.label = None
        try:
            return writer.item(item, 0)
        finally:
            item.label = saved
    text = bare(items[k])
    n = 1
    while k + n < len(items) and getattr(items[k + n], "label", None) == f"{prefix}{first + n}" \
            and bare(items[k + n]) == text:
        n += 1
    if n < 2:
        return None
    index = "{i}" if first == 0 else f"{{i + {first}}}"
    return f'{text} x {n} as "{prefix}{index}"', n


def write_block(block: Block, writer: Writer) -> str:
    params = [p.name if p.default is ABSENT else f"{p.name}={value(p.default)}"
              for p in block.params]
    head = f"block {block.name}(" + ", ".join(params) + ") {" if params else \
        f"block {block.name} {{"
    if len(head) > WIDTH:  # parameters over lines, aligned after the parenthesis
        pad = " " * (len(block.name) + 7)
        lines = [""]
        for text in params:
            if lines[-1] and len(pad) + len(lines[-1]) + len(text) + 2 > WIDTH:
                lines.append("")
            lines[-1] += (", " if lines[-1] else "") + text
        head = f"block {block.name}(" + (",\n" + pad).join(lines) + ") {"
    if block.sequential:
        text = "Seq" + writer.bracket([block.body], 5)
        body = "  " + text
    else:
        body = writer.body(block.body, 2)
    return f"{head}\n{body}\n}}"
