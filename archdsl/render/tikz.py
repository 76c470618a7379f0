"""The feature-map figure as TikZ: a LaTeX document that pdflatex compiles as it is.

Contract: `Tikz(theme)` is a canvas with the drawing methods of the feature maps' SVG canvas
(`poly`, `text`, `path`, `arrow`, `line`, `curve`, `circle`, `background`), taking the same
coordinates (px, y down, as SVG); `document(width, height, theme, name)` returns a complete
document of one `tikzpicture` on a page the figure's size. It needs only a standard TeX
distribution (the classes and packages of Debian's texlive-latex-base, texlive-latex-recommended
and texlive-pictures: article, geometry, fix-cm, tikz), so `pdflatex fig.tex` writes fig.pdf.

For editing: every colour is a `\\definecolor` at the top, named after the theme's role for it
(`convFill`, `convBorder`, `figText`, `figEdge`); the lit top and shaded side of a box are xcolor
mixes of its fill (`convFill!55!white`), so changing one fill recolours the whole box. Labels are
plain text in `\\node`s. Coordinates stay in px (`x=0.75pt, y=-0.75pt`: 96 px to the inch, y
flipped to TikZ's y up), so the numbers match the SVG's. Text is in the document's sans-serif
font, escaped for LaTeX (`_` `%` `&` `#`, `×` as `$\\times$`). Deterministic.
"""

from __future__ import annotations

import re

from archdsl.render.themes import Theme, mix

PT = 0.75  # pt per px (CSS: 96 px and 72 pt to the inch)
# the default (OT1) fonts have no \ < > | { }: those are set in math, where they are
_LATEX = {"\\": r"$\backslash$", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
          "_": r"\_", "{": r"$\{$", "}": r"$\}$", "~": r"\textasciitilde{}",
          "^": r"\textasciicircum{}", "<": "$<$", ">": "$>$", "|": r"$\vert$", "×": r"$\times$", "→": r"$\rightarrow$", "·": r"$\cdot$",
          "…": r"\dots{}", "–": "--", "—": "---", "≈": r"$\approx$", "≤": r"$\leq$",
          "≥": r"$\geq$", "µ": r"$\mu$", "μ": r"$\mu$", "°": r"$^\circ$"}
# letters beyond ASCII that LaTeX's default (OT1) fonts set as accented letters
_LETTERS = set("àáâãäåçèéêëìíîïñòóôõöùúûüýÿßøæœÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝØÆŒ")
_TIMES = re.compile(r"(?<=\d)x(?=\d)")  # `11x11` as 11×11, as the LaTeX table sets it


def latex_text(text: str) -> str:
    """Text escaped for LaTeX; a character the default fonts have no glyph for becomes `?`
    rather than an error."""
    text = _TIMES.sub("×", text)
    out = []
    for i, ch in enumerate(text):
        if ch in _LATEX:
            out.append(_LATEX[ch])
        elif ch == "-" and text[i + 1:i + 2] == "-":
            out.append("-{}")  # `--` would set an en dash
        elif 0x20 <= ord(ch) < 0x7f or ch in _LETTERS:
            out.append(ch)
        else:
            out.append(" " if ch.isspace() else "?")
    return "".join(out)


def _n(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _hex(colour: str) -> str:
    colour = {"white": "#ffffff", "black": "#000000"}.get(colour, colour).lower()
    return colour if re.fullmatch(r"#[0-9a-f]{6}", colour) else ""


class Tikz:
    def __init__(self, theme: Theme) -> None:
        self.theme = theme
        self.parts: list[str] = []
        self.styles: dict[str, str] = {}  # font style name -> its font commands
        self.names: dict[str, str] = {}  # #rrggbb -> a name or an xcolor mix of names
        self.defined: dict[str, str] = {}  # names used, with their #rrggbb
        self.base: dict[str, str] = {}  # every role's name -> #rrggbb
        roles = {"figText": theme.text, "figEdge": theme.edge, "figMuted": theme.muted,
                 "figAccent": theme.accent}
        for family, look in [*theme.looks.items(), ("other", theme.fallback)]:
            roles[f"{_name(family)}Fill"] = look.fill
            roles[f"{_name(family)}Border"] = look.border
        for name, colour in roles.items():
            if _hex(colour):
                self.base[name] = _hex(colour)
                self.names.setdefault(_hex(colour), name)
        for family, look in [*theme.looks.items(), ("other", theme.fallback)]:  # box faces
            fill, border = f"{_name(family)}Fill", f"{_name(family)}Border"
            for other, t, expr in (("#ffffff", 0.45, f"{fill}!55!white"),
                                   ("#000000", 0.12, f"{fill}!88!black"),
                                   (look.border, 0.35, f"{fill}!65!{border}")):
                self.names.setdefault(_hex(mix(look.fill, other, t)), expr)

    def colour(self, colour: str) -> str:
        """The name (or xcolor mix) that stands for a colour, defining what it uses."""
        if colour == "none":
            return "none"
        value = _hex(colour)
        if not value:
            return colour  # an xcolor name already
        if value not in self.names:
            self.names[value] = f"figColour{sum(n.startswith('figColour') for n in self.base) + 1}"
            self.base[self.names[value]] = value
        expr = self.names[value]
        for name in re.split(r"!\d+!", expr):
            if name not in ("white", "black"):
                self.defined[name] = self.base[name]
        return expr

    def font(self, size: float, bold: bool) -> str:
        name = f"font{_n(size).replace('.', 'p')}{'b' if bold else ''}"
        pt = size * PT
        weight = r"\bfseries" if bold else ""
        self.styles[name] = (f"font=\\sffamily\\fontsize{{{_n(pt)}}}{{{_n(pt * 1.2)}}}"
                             f"\\selectfont{weight}")
        return name

    def poly(self, points: list[tuple[float, float]], fill: str, stroke: str) -> None:
        self.parts.append(f"\\filldraw[fill={self.colour(fill)}, draw={self.colour(stroke)}] "
                          + " -- ".join(_xy(p) for p in points) + " -- cycle;")

    def text(self, x: float, y: float, text: str, size: float, colour: str, bold: bool = False,
             anchor: str = "middle", rotate: float = 0.0) -> None:
        """Text with its baseline at y; `rotate`: degrees clockwise (as SVG draws it)."""
        where = {"start": "base west", "end": "base east"}.get(anchor, "base")
        turn = f", rotate={_n(-rotate)}" if rotate else ""  # TikZ turns anticlockwise
        self.parts.append(f"\\node[{self.font(size, bold)}, text={self.colour(colour)}, "
                          f"anchor={where}{turn}] at {_xy((x, y))} {{{latex_text(text)}}};")

    def path(self, points: list[tuple[float, float]], colour: str,
             dash: str | None = None) -> None:
        self.parts.append(f"\\draw[{self._stroke(colour, 1.4, dash)}] "
                          + " -- ".join(_xy(p) for p in points) + ";")

    def arrow(self, x1: float, x2: float, y: float, colour: str) -> None:
        self.line(x1, y, x2 - 6, y, colour, 1.4)
        self.poly([(x2, y), (x2 - 7, y - 3.5), (x2 - 7, y + 3.5)], colour, colour)

    def line(self, x1: float, y1: float, x2: float, y2: float, colour: str, width: float = 1.0,
             dash: str | None = None) -> None:
        self.parts.append(f"\\draw[{self._stroke(colour, width, dash)}] {_xy((x1, y1))} -- "
                          f"{_xy((x2, y2))};")

    def curve(self, points: list[tuple[float, float]], colour: str, width: float = 1.4,
              dash: str | None = None) -> None:
        """A cubic Bézier: start, then two control points and an end point for each segment."""
        steps = [_xy(points[0])]
        for i in range(1, len(points) - 2, 3):
            steps.append(f".. controls {_xy(points[i])} and {_xy(points[i + 1])} .. "
                         f"{_xy(points[i + 2])}")
        self.parts.append(f"\\draw[{self._stroke(colour, width, dash)}] {' '.join(steps)};")

    def circle(self, x: float, y: float, r: float, fill: str, stroke: str) -> None:
        self.parts.append(f"\\filldraw[fill={self.colour(fill)}, draw={self.colour(stroke)}, "
                          f"line width={_n(1.2 * PT)}pt] {_xy((x, y))} "
                          f"circle[radius={_n(r * PT)}pt];")

    def blank(self) -> Tikz:
        """An empty canvas to draw a part on before adding it; it shares this one's colour
        and font names, so the two cannot name different colours alike."""
        part = Tikz(self.theme)
        part.styles, part.names, part.defined, part.base = (self.styles, self.names,
                                                            self.defined, self.base)
        return part

    def add(self, other: Tikz) -> None:
        """Another drawing's parts, drawn after (over) this one's, with its colours and fonts."""
        self.parts += other.parts
        self.defined.update(other.defined)
        self.styles.update(other.styles)

    def background(self, width: float, height: float, colour: str) -> None:
        self.defined["figBackground"] = _hex(colour) or "#ffffff"  # a name of its own
        self.parts.append(f"\\fill[figBackground] (0,0) rectangle {_xy((width, height))};")

    def _stroke(self, colour: str, width: float, dash: str | None) -> str:
        """`dash`: SVG's "on,off" lengths in px."""
        out = f"{self.colour(colour)}, line width={_n(width * PT)}pt"
        if dash:
            pattern = " ".join(f"{'on' if i % 2 == 0 else 'off'} {_n(float(d) * PT)}pt"
                               for i, d in enumerate(dash.replace(" ", ",").split(",")) if d)
            out += f", dash pattern={pattern}"
        return out

    def document(self, width: float, height: float, theme: Theme, name: str) -> str:
        colours = [f"\\definecolor{{{n}}}{{HTML}}{{{v[1:].upper()}}}"
                   for n, v in self.defined.items()]
        styles = [f"  {n}/.style={{{f}}}," for n, f in sorted(self.styles.items())]
        return "\n".join([
            f"% {latex_text(name)}: the feature-map figure drawn by archdsl "
            "(archdsl render --style featuremaps).",
            "% `pdflatex` this file for a PDF the figure's size, to \\includegraphics in a paper "
            "or a slide.",
            "% Or paste the colours and the tikzpicture into your document (\\usepackage{tikz}) "
            "and scale",
            "% it with \\resizebox{\\linewidth}{!}{...}. Colours and labels are named and "
            "written out below.",
            r"\RequirePackage{fix-cm}  % fonts at any size",
            r"\documentclass{article}",
            f"\\usepackage[paperwidth={_n(width * PT)}pt,paperheight={_n(height * PT)}pt,"
            "margin=0pt]{geometry}",
            r"\usepackage{tikz}",
            r"\pagestyle{empty}",
            *colours,
            r"\begin{document}",
            r"\noindent",
            "\\begin{tikzpicture}[x=0.75pt, y=-0.75pt, line join=round, "
            f"line width={_n(PT)}pt,",
            "  every node/.style={inner sep=0pt, outer sep=0pt},",
            *styles,
            "]",
            f"\\path[use as bounding box] (0,0) rectangle {_xy((width, height))};",
            *self.parts,
            r"\end{tikzpicture}",
            r"\end{document}",
            "",
        ])


def _xy(point: tuple[float, float]) -> str:
    return f"({_n(point[0])},{_n(point[1])})"


def _name(family: str) -> str:
    """An xcolor name from a family name (letters only)."""
    return re.sub(r"[^A-Za-z]", "", family) or "family"
