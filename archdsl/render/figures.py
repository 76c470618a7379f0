"""Figures of a model, in any output format: the one entry point of `archdsl render`,
`Model.render()` and the notebook's `_repr_svg_`.

Contract: `render_figure(model, fmt, options)` returns the bytes of a figure in `fmt`
(`dot`, `svg`, `png`, `pdf`, `tex`). The graph style is DOT laid out by Graphviz `dot`; the
feature-map style is SVG written here, converted to PNG and PDF with CairoSVG, or a LaTeX document
of one TikZ picture (`tex`, feature maps only: Graphviz has no TikZ output). DOT, SVG and TeX are
deterministic (the same model and options give the same bytes on one machine). A missing `dot`, or a missing
CairoSVG/cairo for feature-map PNG and PDF, raises `BackendError` saying what to install; `.dot`
output needs neither. Options are checked here (`ValueError` for a bad one), so the API and the
CLI refuse the same things.
"""

from __future__ import annotations

from dataclasses import dataclass

from archdsl.diagnostics import BackendError
from archdsl.render import diagram as dg
from archdsl.render.choices import DEFAULT_DPI, FORMATS, RANKDIRS, SCALES, STYLES, THEMES
from archdsl.render.graphviz_render import Look, run_dot, to_dot
from archdsl.render.themes import theme

EXTENSIONS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot",
              ".tex": "tex"}
GRAPH_TEX = ("the graph style is laid out by Graphviz, which writes no TikZ: draw the feature-map "
             "figure as TikZ (--style featuremaps), or write the graph as .pdf and "
             "\\includegraphics it")


@dataclass(frozen=True)
class FigureOptions:
    style: str = "graph"
    view: str = "auto"
    expand: tuple[str, ...] = ()
    shapes: bool = False
    params: bool = False
    names: bool = False
    theme: str = "light"
    rankdir: str = "auto"
    dpi: int = DEFAULT_DPI
    transparent: bool = False
    title: str | None = None
    legend: bool = True
    scale: str = "log"  # feature maps: log, sqrt or linear

    def check(self) -> None:
        for value, allowed, what in ((self.style, STYLES, "style"), (self.view, dg.VIEWS, "view"),
                                     (self.theme, THEMES, "theme"),
                                     (self.rankdir, RANKDIRS, "rankdir"),
                                     (self.scale, SCALES, "scale")):
            if value not in allowed:
                raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")
        if not 10 <= self.dpi <= 2400:
            raise ValueError(f"dpi must be between 10 and 2400, got {self.dpi}")

    def diagram_options(self) -> dg.Options:
        return dg.Options(view=self.view, expand=tuple(self.expand), shapes=self.shapes,
                          params=self.params, names=self.names)

    def look(self, fmt: str) -> Look:
        return Look(theme(self.theme), rankdir=self.rankdir, transparent=self.transparent,
                    title=self.title, legend=self.legend, dpi=self.dpi if fmt == "png" else None)


def format_for(path: str) -> str | None:
    """The format a file name asks for, by extension (None: unknown)."""
    lower = path.lower()
    for ext, fmt in EXTENSIONS.items():
        if lower.endswith(ext):
            return fmt
    return None


def unknown_expansions(model, options: FigureOptions) -> list[str]:
    """`expand` patterns that name no stage, block or side output of the model."""
    import fnmatch

    names = dg.scope_names(model)
    return [p for p in options.expand if not any(fnmatch.fnmatchcase(n, p) for n in names)]


def render_figure(model, fmt: str, options: FigureOptions | None = None) -> bytes:
    """The figure of `model` in `fmt` (see the module docstring)."""
    options = options or FigureOptions()
    options.check()
    if fmt not in (*FORMATS, "dot", "tex"):
        raise ValueError(f"unknown format {fmt!r}; choose one of svg, png, pdf, dot, tex")
    look = options.look(fmt)
    if options.style == "featuremaps":
        if fmt == "dot":
            raise ValueError("feature-map figures are drawn directly as SVG, not with Graphviz: "
                             "write .svg, .png, .pdf or .tex")
        from archdsl.render.featuremaps import featuremaps_svg, featuremaps_tex

        if fmt == "tex":
            return featuremaps_tex(model, look, options.diagram_options(),
                                   options.scale).encode("utf-8")
        svg = featuremaps_svg(model, look, options.diagram_options(), options.scale)
        return svg.encode("utf-8") if fmt == "svg" else svg_to(svg, fmt, options.dpi)
    if fmt == "tex":
        raise ValueError(GRAPH_TEX)
    diagram = dg.build_diagram(model, options.diagram_options())
    dg.check_expansions(diagram)
    source = to_dot(diagram, look, options.params)
    if fmt == "dot":
        return source.encode("utf-8")
    return run_dot(source, fmt)


def svg_to(svg: str, fmt: str, dpi: int = DEFAULT_DPI) -> bytes:
    """SVG text as PNG (at `dpi`) or PDF, with CairoSVG."""
    try:
        import cairosvg
    except (ImportError, OSError) as err:  # OSError: cairocffi found no cairo library
        raise BackendError(f"cannot write .{fmt} feature-map figures: {_why(err)}; install "
                           "CairoSVG (`pip install cairosvg`; it needs the cairo library, "
                           "`apt-get install libcairo2`), or write .svg") from None
    data = svg.encode("utf-8")
    try:
        if fmt == "png":
            return cairosvg.svg2png(bytestring=data, dpi=dpi, scale=dpi / 96)
        return cairosvg.svg2pdf(bytestring=data)
    except (OSError, ValueError) as err:
        raise BackendError(f"CairoSVG could not write .{fmt}: {err}") from None


def _why(err: Exception) -> str:
    if isinstance(err, ImportError) and err.name == "cairosvg":
        return "CairoSVG is not installed"
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def notebook_svg(model) -> str | None:
    """The inline diagram of a notebook (the default view); None without Graphviz."""
    try:
        return render_figure(model, "svg").decode("utf-8")
    except BackendError:
        return None

