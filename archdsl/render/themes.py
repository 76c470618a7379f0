"""Colours, fonts and sizes of diagrams: one `Theme` per `--theme` (light, dark, print).

Contract: `theme(name)` returns a frozen `Theme`; `theme.family(name)` gives the `Look` of an op
family (`op.family` in the catalog, plus `block` for collapsed blocks and stages) and falls back
to a neutral look for a family it does not know, so a new family draws without a change here.
`LEGEND` names the families in the legend, in legend order. Nothing here reads a model.

Sizes are chosen for slides: a 14 pt layer label stays readable when a ResNet-152 stages view
is scaled to the width of a 16:9 slide. The print theme is greyscale-safe: families differ in
grey level *and* in border style (solid, dashed, dotted, bold, double), so a black-and-white
copy still tells them apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archdsl.render.choices import THEMES

# Legend order and wording (families missing from the drawing are left out).
LEGEND = {
    "conv": "convolution",
    "pool": "pooling",
    "norm": "normalisation",
    "act": "activation",
    "fc": "fully connected",
    "merge": "merge / split",
    "dropout": "dropout",
    "output": "softmax",
    "shape": "reshape",
    "block": "block / stage",
    "opaque": "opaque (imported, not compiled)",
}


@dataclass(frozen=True)
class Look:
    fill: str
    border: str
    text: str
    style: str = ""  # border: dashed, dotted, bold (or solid)
    peripheries: int = 1  # 2: a double border


@dataclass(frozen=True)
class Theme:
    name: str
    background: str
    text: str
    muted: str  # small lines, edge labels
    accent: str  # count badges
    edge: str
    cluster_fill: str
    cluster_border: str
    looks: dict[str, Look] = field(default_factory=dict)
    fallback: Look = Look("#eeeeee", "#777777", "#222222")
    # one family list for Graphviz (Pango reads the list) and feature maps (SVG): with a bare
    # "Helvetica" Graphviz substitutes its own PostScript alias (DejaVu Sans where there is no
    # Helvetica) while CairoSVG asks fontconfig (Liberation Sans): two fonts in one deck
    font: str = "Helvetica,Arial,sans-serif"
    font_size: float = 14
    small_size: float = 11
    title_size: float = 22

    def family(self, name: str) -> Look:
        return self.looks.get(name, self.fallback)


_LIGHT = Theme(
    name="light", background="white", text="#1f2328", muted="#57606a", accent="#b35900",
    edge="#57606a", cluster_fill="#f6f8fa", cluster_border="#afb8c1",
    looks={
        "conv": Look("#dbe9fb", "#3b6fb6", "#10243f"),
        "pool": Look("#fde8c8", "#c27c0e", "#3d2600"),
        "norm": Look("#dcf0dc", "#3f8f3f", "#0f2e0f"),
        "act": Look("#fbe0e0", "#c0392b", "#3f0f0a"),
        "fc": Look("#e8e0fa", "#6a4cb3", "#23173f"),
        "merge": Look("#ececec", "#555555", "#1f1f1f"),
        "dropout": Look("#f3f1d9", "#8a843f", "#2b2910"),
        "output": Look("#fadcec", "#b03a78", "#3a0f27"),
        "shape": Look("#eeeeee", "#888888", "#222222"),
        "block": Look("#d6efef", "#2b7f7f", "#0b2a2a"),
        "opaque": Look("#f4f4f4", "#6e7781", "#1f2328", "dashed"),  # what archdsl cannot see into
        "io": Look("white", "#57606a", "#1f2328"),
    },
)

_DARK = Theme(
    name="dark", background="#1e1f24", text="#e6e6e6", muted="#a8adb5", accent="#ffb454",
    edge="#9aa0a8", cluster_fill="#26282e", cluster_border="#4b4f58",
    looks={
        "conv": Look("#1d3a5f", "#6ea5ee", "#e8f1ff"),
        "pool": Look("#4a3411", "#e8a33c", "#fff1db"),
        "norm": Look("#1f3f22", "#6fc16f", "#e6f7e6"),
        "act": Look("#4a1f1f", "#e8716a", "#ffe8e6"),
        "fc": Look("#33285a", "#a38cf0", "#efe9ff"),
        "merge": Look("#3a3c42", "#b0b4ba", "#f0f0f0"),
        "dropout": Look("#3c3a1f", "#c9c16a", "#f7f5dc"),
        "output": Look("#4d1f37", "#e77fb3", "#ffe6f2"),
        "shape": Look("#34363b", "#9a9ea5", "#ececec"),
        "block": Look("#173f3f", "#5cc2c2", "#e0fafa"),
        "opaque": Look("#2a2c31", "#8b929c", "#e6e6e6", "dashed"),
        "io": Look("#1e1f24", "#a8adb5", "#e6e6e6"),
    },
    fallback=Look("#34363b", "#9a9ea5", "#ececec"),
)

_PRINT = Theme(
    name="print", background="white", text="black", muted="#404040", accent="black",
    edge="black", cluster_fill="white", cluster_border="#808080",
    looks={
        "conv": Look("#c8c8c8", "black", "black"),
        "pool": Look("white", "black", "black", "bold"),
        "norm": Look("#ececec", "black", "black", "dashed"),
        "act": Look("white", "black", "black", "dotted"),
        "fc": Look("#9a9a9a", "black", "black"),
        "merge": Look("white", "black", "black"),
        "dropout": Look("#ececec", "black", "black", "dotted"),
        "output": Look("#ececec", "black", "black", "bold"),
        "shape": Look("white", "black", "black", "dashed"),
        "block": Look("#dcdcdc", "black", "black", "", 2),
        "opaque": Look("white", "black", "black", "dashed", 2),
        "io": Look("white", "black", "black"),
    },
    fallback=Look("white", "black", "black", "dashed"),
)

_BY_NAME = {t.name: t for t in (_LIGHT, _DARK, _PRINT)}


def theme(name: str) -> Theme:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown theme {name!r}; choose one of {', '.join(THEMES)}") from None


def mix(colour: str, other: str, t: float) -> str:
    """Blend two #rrggbb colours (t = share of `other`); names pass through unchanged."""
    named = {"white": "#ffffff", "black": "#000000"}
    a, b = named.get(colour, colour), named.get(other, other)
    if not (a.startswith("#") and b.startswith("#") and len(a) == len(b) == 7):
        return colour
    ca = [int(a[i:i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb, strict=True))
