"""`archdsl render SPEC -o OUT`: a diagram of a spec, for slides and papers.

The format follows OUT's extension (.svg, .png, .pdf, .dot, .tex); `--format` overrides it, and
`-o -` writes to stdout. Exit 3 when Graphviz's `dot` (or CairoSVG, for feature-map PNG and PDF)
is missing; `.dot` output always works. Torch is never imported.
"""

from __future__ import annotations

import argparse

from archdsl.cli.common import OK, UsageError, add_spec_arguments, load_from_args
from archdsl.cli.output import check_output_path, write_output
from archdsl.render.choices import DEFAULT_DPI, RANKDIRS, SCALES, STYLES, THEMES, VIEWS

HELP = ("draw a spec: layers, blocks or stages view, or the feature-map figure "
        "(svg/png/pdf/dot/tex)")
DESCRIPTION = """\
Draw a spec as a diagram for slides and papers. The output format follows the
extension of OUT: .svg, .png, .pdf, .dot (Graphviz source, needs no Graphviz), or
.tex (the feature-map figure as TikZ: a LaTeX document pdflatex compiles).

views (--view):
  layers   every layer; blocks and stages as labelled clusters
  blocks   one box per block instance, e.g. "Bottleneck(128, stride=2)"; a BN or
           activation right after a layer is written in that layer's box
  stages   one box per stage with a count badge ("layer2: Bottleneck x4")
  auto     the finest of these that draws at most 45 boxes (the default): LeNet-5
           and VGG-16 layers, ResNet-50 and GoogLeNet blocks, ResNet-152 stages
--expand NAME draws a stage or block one level finer, as a cluster of its parts
(glob patterns, e.g. --expand layer2 --expand "layer3.*"); the layers view has
nothing to open and refuses it. A chain is wrapped into rows that read left to
right and fit a 16:9 slide, a deep branchy graph (the layers view of a ResNet)
into columns; --rankdir TB|LR lays it out in one direction instead.

--style featuremaps draws the classic figure of the LeNet and AlexNet papers:
each output a box (height and width: spatial size, depth: channels; log
scale; --scale sqrt|linear), kernel and stride above it, sizes along its
edges, the next layer's kernel as a patch with projection lines; residual
shortcuts as arcs into a +, Inception branches stacked, U-Net as a U
(e.g. --expand layer1, --view layers). As .tex it is a TikZ picture in a
document of its size, its colours named (\\definecolor) at the top.

examples:
  archdsl render specs/lenet5.arch -o lenet5.svg
  archdsl render resnet50 -o resnet50.png --view stages --theme dark --dpi 200
  archdsl render resnet50 -o r50.pdf --view stages --expand layer2 --shapes
  archdsl render googlenet -o googlenet.svg --view blocks --theme print
  archdsl render specs/alexnet.arch -o alexnet.png --style featuremaps
  archdsl render specs/alexnet.arch -o alexnet.tex --style featuremaps
  archdsl render resnet50 -o resnet50.dot     # no Graphviz needed
"""




def register(sub) -> None:
    p = sub.add_parser("render", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_spec_arguments(p, json_flag=False)
    out = p.add_argument_group("figure")
    out.add_argument("-o", "--output", metavar="OUT", required=True,
                     help="output file: .svg, .png, .pdf, .dot or .tex ('-': stdout, see "
                     "--format)")
    out.add_argument("--format", choices=("svg", "png", "pdf", "dot", "tex"),
                     help="output format (default: from the extension of OUT)")
    out.add_argument("--style", choices=STYLES, default="graph",
                     help="graph (default) or featuremaps (the LeNet/AlexNet paper figure)")
    out.add_argument("--scale", choices=SCALES, default="log",
                     help="feature maps: how sizes map to lengths: log (default; 224 and 7 both "
                     "visible), sqrt or linear (downsampling reads stronger)")
    out.add_argument("--view", choices=VIEWS, default="auto",
                     help="layers, blocks or stages (default: auto)")
    out.add_argument("--expand", action="append", default=[], metavar="NAME",
                     help="draw this stage or block as a cluster of its parts (repeatable, "
                     "comma-separated, glob patterns)")
    out.add_argument("--shapes", action="store_true", help="write output shapes on the edges")
    out.add_argument("--params", action="store_true", help="write parameter counts in boxes")
    out.add_argument("--names", action="store_true", help="write module names in layer boxes")
    out.add_argument("--theme", choices=THEMES, default="light",
                     help="light (default), dark, or print (greyscale-safe)")
    out.add_argument("--rankdir", choices=RANKDIRS, default="auto",
                     help="TB (top to bottom), LR (left to right), or auto (default): chains "
                     "wrap into rows that fit a 16:9 slide, other graphs go top to bottom")
    out.add_argument("--dpi", type=int, default=DEFAULT_DPI, metavar="N",
                     help=f"resolution of PNG output (default: {DEFAULT_DPI})")
    out.add_argument("--transparent", action="store_true", help="no background colour")
    out.add_argument("--title", metavar="TEXT", help="title (default: the model name; '' for "
                     "none)")
    out.add_argument("--no-legend", action="store_true", help="leave out the colour legend")
    p.set_defaults(run=run)


def options_from(args):
    from archdsl.render.figures import FigureOptions

    expand = tuple(name.strip() for item in args.expand for name in item.split(",")
                   if name.strip())
    options = FigureOptions(style=args.style, view=args.view, expand=expand,
                            shapes=args.shapes, params=args.params, names=args.names,
                            theme=args.theme, rankdir=args.rankdir, dpi=args.dpi,
                            transparent=args.transparent, title=args.title,
                            legend=not args.no_legend, scale=args.scale)
    try:
        options.check()
    except ValueError as err:
        raise UsageError(str(err)) from None
    return options


def run(args) -> int:
    from archdsl.render.figures import format_for, render_figure, unknown_expansions

    fmt = args.format or (format_for(args.output) if args.output != "-" else "svg")
    if fmt is None:
        raise UsageError(f"cannot tell the format of {args.output!r} from its extension: "
                         "name it .svg, .png, .pdf, .dot or .tex, or give --format")
    if fmt == "dot" and args.style == "featuremaps":
        raise UsageError("--style featuremaps is drawn as SVG, not with Graphviz: write .svg, "
                         ".png, .pdf or .tex")
    if fmt == "tex" and args.style != "featuremaps":
        from archdsl.render.figures import GRAPH_TEX

        raise UsageError(GRAPH_TEX)
    options = options_from(args)
    check_output_path(args.output)
    model = load_from_args(args)
    unknown = unknown_expansions(model, options)
    if unknown:
        from archdsl.render.diagram import scope_names

        names = [n for n in scope_names(model) if "." not in n][:12]
        raise UsageError(f"--expand {', '.join(unknown)}: no stage or block of {model.name} "
                         f"has that name; top-level names: {', '.join(names) or 'none'}")
    from archdsl.cli.progress import working, wrote
    from archdsl.render.diagram import NothingToExpand

    try:
        with working(args, f"drawing {model.name} ({len(model.layers()):,} layers) as {fmt}"):
            data = render_figure(model, fmt, options)
    except NothingToExpand as err:
        raise UsageError(str(err)) from None
    write_output(args.output, data)
    wrote(args, args.output, f"{fmt}, {args.view} view" if getattr(args, "view", None) else fmt)
    return OK
