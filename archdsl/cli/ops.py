"""`archdsl ops [NAME]`: the layer kinds the language knows; one in detail, with each argument's
type, default, keyword aliases and meaning."""

from __future__ import annotations

import argparse
import types
import typing

from archdsl.cli.common import OK, UsageError, print_json

HELP = "list the layer kinds; `archdsl ops NAME`: one kind's arguments in detail"
DESCRIPTION = """\
List every layer kind of the op catalog with its aliases, arguments (in
positional order) and an example; with NAME (a kind or an alias, any case), that
kind in detail: each argument's type, default, keyword aliases and meaning.

examples:
  archdsl ops
  archdsl ops MPool
  archdsl ops conv --json
"""

# What an argument means, by field name (`family:name` for a family's own reading). The op
# catalog declares types and defaults; the words for people live here, where they are shown.
MEANINGS = {
    "out_channels": "output channels (filters); auto: 32, doubled each time the feature map "
                    "has halved, up to 512",
    "out_features": "output features; auto: the number of classes for the final FC, else 512",
    "kernel": "window size: k or (kh, kw)",
    "stride": "step of the window: s or (sh, sw)",
    "pool:stride": "step of the window; none: the kernel size (as in PyTorch: MPool(2) "
                   "halves the size)",
    "padding": "zeros added on each side: p, (ph, pw), 'same' or 'valid'",
    "pool:padding": "padding on each side (at most half the kernel)",
    "dilation": "spacing between kernel taps",
    "groups": "channel groups (groups = channels: depthwise)",
    "bias": "learned bias; auto: off when BatchNorm follows",
    "multiplier": "output channels per input channel",
    "inplace": "overwrite the input; auto: when it is safe (archdsl decides)",
    "ceil": "round the output size up instead of down (ceil_mode)",
    "count_include_pad": "count padded zeros in the average",
    "output_size": "output size: s or (h, w)",
    "flatten": "flatten a feature map first",
    "eps": "added to the variance for stability",
    "momentum": "running-statistics update rate",
    "affine": "learned scale and shift",
    "p": "probability of dropping",
    "dim": "dimension over which it normalises",
    "negative_slope": "slope for negative inputs",
    "alpha": "scale (ELU: of the negative part; LRN: of the sum)",
    "beta": "exponent",
    "k": "additive constant",
    "size": "neighbouring channels summed",
    "num_parameters": "learned slopes: 1, or one per channel",
    "init": "initial value",
    "dims": "trailing dimensions normalised",
    "mode": "drop per sample (row) or the whole batch (batch)",
    "applied": "whether it is active",
    "d0": "the input dimension that becomes dimension 0 (as torch.permute)",
    "d1": "the input dimension that becomes dimension 1",
    "d2": "the input dimension that becomes dimension 2",
    "d3": "the input dimension that becomes dimension 3",
    "crop": "centre-crop the other branches to the last branch's height and width (U-Net's "
            "skip connections)",
    "output_padding": "extra rows and columns on one side of the output (to reach an exact "
                      "size)",
    "scale": "factor by which height and width grow",
    "align_corners": "bilinear: align the corner pixels of input and output",
    "start": "first index kept",
    "end": "index after the last kept; none: to the end",
    "left": "columns of the constant added on the left",
    "right": "columns of the constant added on the right",
    "top": "rows of the constant added on the top",
    "bottom": "rows of the constant added on the bottom",
    "value": "the constant",
    "opaque:out": "its output shape per sample, as measured when it was imported: (C, H, W) "
                  "or (F,)",
    "params": "its parameter count (counted in the totals)",
    "type": "the PyTorch class it was imported from, e.g. \"mypkg.CoordConv\"",
    "why": "why archdsl cannot express it (shown when compiling refuses it)",
}


def register(sub) -> None:
    p = sub.add_parser("ops", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", metavar="NAME", help="show this layer kind in detail")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run)


def type_text(annotation) -> str:
    """A field's type as people read it: `int > 0 or (int, int)`, `bool or auto`."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        base = type_text(args[0])
        for meta in getattr(args[1], "metadata", ()) or [args[1]]:
            for attr, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<")):
                bound = getattr(meta, attr, None)
                if bound is not None:
                    base += f" {sign} {bound}"
        return base
    if origin in (typing.Union, types.UnionType):
        parts = [type_text(a) for a in args if a is not type(None)]
        if type(None) in args:
            parts.append("none")
        return " or ".join(parts)
    if origin is typing.Literal:
        return " or ".join(repr(a) if isinstance(a, str) and a != "auto" else str(a)
                           for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"({type_text(args[0])}, ...)"
        inner = {type_text(a) for a in args}
        return f"({', '.join([inner.pop()] * len(args))})" if len(inner) == 1 else \
            "(" + ", ".join(type_text(a) for a in args) + ")"
    return getattr(annotation, "__name__", str(annotation))


def _default(info) -> str:
    from pydantic_core import PydanticUndefined

    if info.default is PydanticUndefined:
        return "required"
    if info.default is None:
        return "none"
    return str(info.default).lower() if isinstance(info.default, bool) else str(info.default)


def arguments(op) -> list[dict]:
    keywords: dict[str, list[str]] = {}
    for alias, field_name in op.keywords.items():
        keywords.setdefault(field_name, []).append(alias)
    out = []
    for position, (name, info) in enumerate(op.Params.model_fields.items(), 1):
        out.append({"position": position, "name": name, "type": type_text(info.annotation),
                    "default": _default(info), "keywords": keywords.get(name, []),
                    "meaning": MEANINGS.get(f"{op.family}:{name}", MEANINGS.get(name, ""))})
    return out


def record(op) -> dict:
    return {"name": op.name, "aliases": list(op.aliases), "family": op.family,
            "arguments": list(op.Params.model_fields), "keywords": dict(op.keywords),
            "summary": op.summary, "example": op.example}


def run(args) -> int:
    from archdsl.ops import all_ops
    from archdsl.plugins import load_plugins

    load_plugins()
    listed = [op for op in all_ops() if op.listed]  # the input: a setting, not a layer
    if args.name:
        return show_one(args, listed)
    records = [record(op) for op in listed]
    if args.json:
        print_json(records)
        return OK
    import sys

    from rich.console import Console

    from archdsl.report import fit

    columns = [fit.Col("Layer", "fixed", fit.ESSENTIAL), fit.Col("Also", "text", 30, 8),
               fit.Col("Arguments", "text", fit.ESSENTIAL, 16), fit.Col("Example", "text", 50, 12)]
    lines = [fit.Line([r["name"], ", ".join(r["aliases"]), ", ".join(r["arguments"]),
                       r["example"]]) for r in records]
    fit.print_table(Console(highlight=False), columns, lines, fit.table_width(sys.stdout))
    print("`archdsl ops NAME` shows one kind's arguments: types, defaults, keywords, meaning")
    return OK


def show_one(args, listed) -> int:
    import difflib

    from archdsl.ops.registry import lookup

    op = lookup(args.name)
    if op is None or not op.listed:
        names = [n for o in listed for n in (o.name, *o.aliases)]
        close = difflib.get_close_matches(args.name, names, n=3, cutoff=0.5)
        raise UsageError(f"no layer kind {args.name!r}" + (
            f"; did you mean {', '.join(close)}?" if close else "; `archdsl ops` lists them"))
    arg_records = arguments(op)
    if args.json:
        print_json({**record(op), "arguments": arg_records})
        return OK
    doc = " ".join((op.__doc__ or "").split("\n\n")[0].split())
    lines = [f"{op.name}: {op.summary}" + (f" (also {', '.join(op.aliases)})"
                                            if op.aliases else "")]
    if doc and doc.rstrip(".").lower() != op.summary.lower():
        lines.append(f"  {doc}")
    lines.append("")
    lines.append("arguments (positional in this order, or by name):")
    for a in arg_records:
        also = f"  also {', '.join(k + '=' for k in a['keywords'])}" if a["keywords"] else ""
        lines.append(f"  {a['position']}. {a['name']}: {a['type']} = {a['default']}{also}")
        if a["meaning"]:
            lines.append(f"     {a['meaning']}")
    lines.append("")
    lines.append(f"example: {op.example}")
    print("\n".join(lines))
    return OK
