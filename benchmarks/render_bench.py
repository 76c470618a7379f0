"""How long `archdsl render` takes: every zoo model's layers view, and a stress graph.

Run from the repository root:  python benchmarks/render_bench.py [--repeat 3] [--defaults]

Prints, per zoo model, the boxes and edges of its layers view and the median seconds to make
the SVG (archdsl's own work plus Graphviz `dot`); every zoo model's default view (budget 3 s);
then `archdsl render resnet152 --view layers` end to end as a user runs it (budget 5 s), next to
torchview's `draw_graph` of the same network in the same run (when torchview is installed). The stress graph is DenseNet-121 wired as torchvision runs it:
each dense layer reads the concatenation of *all* earlier outputs of its block (quadratically
many edges, the graph that takes `dot` about a minute with default settings). `--defaults` also
times `dot` without archdsl's layout caps (nslimit, nslimit1, mclimit, searchsize) on it, to
show what the caps buy; it can take minutes.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import archdsl
from archdsl.render.diagram import Options, build_diagram
from archdsl.render.figures import FigureOptions, render_figure
from archdsl.render.graphviz_render import run_dot

CAPS = re.compile(r" (nslimit|nslimit1|mclimit|searchsize)=[0-9.]+")


def dense_dag_yaml(blocks=(6, 12, 24, 16), growth=32) -> str:
    """DenseNet-121 with torchvision's wiring: every layer concatenates all earlier features."""
    nodes = ['  - {id: conv0, layer: "Conv(64, 7, s=2, p=3) - BN - ReLU - MPool(3, s=2, p=1)"}']
    prev = "conv0"
    channels = 64
    for b, n in enumerate(blocks, 1):
        feats = [prev]
        for i in range(1, n + 1):
            cat = f"b{b}cat{i}"
            if len(feats) > 1:
                nodes.append(f"  - {{id: {cat}, layer: Concat, from: [{', '.join(feats)}]}}")
                src = cat
            else:
                src = feats[0]
            new = f"b{b}l{i}"
            nodes.append(f'  - {{id: {new}, layer: "BN - ReLU - Conv({4 * growth}, 1) - BN - '
                         f'ReLU - Conv({growth}, 3, p=1)", from: {src}}}')
            feats.append(new)
        channels += n * growth
        out = f"b{b}out"
        nodes.append(f"  - {{id: {out}, layer: Concat, from: [{', '.join(feats)}]}}")
        prev = out
        if b < len(blocks):
            channels //= 2
            nodes.append(f'  - {{id: trans{b}, layer: "BN - ReLU - Conv({channels}, 1) - '
                         f'APool(2)", from: {prev}}}')
            prev = f"trans{b}"
    nodes.append(f'  - {{id: head, layer: "BN - ReLU - GAP - FC(1000)", from: {prev}}}')
    return "name: DenseNet121Dense\ninput: 3x224x224\nnodes:\n" + "\n".join(nodes) + "\n"


DEFAULT_VIEW_BUDGET = 3.0  # seconds: a zoo model's default view, SVG (issue 14)


def torchview_seconds(repeat: int) -> float | None:
    """torchview's `draw_graph` of torchvision's ResNet-152 rendered to SVG: the anchor the
    layers-view time is read against (None when torchview or torchvision is missing)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    try:
        import tv_shim  # noqa: F401  (torchvision's op schemas on CPU-only torch, first)
    except ImportError:
        return None
    try:
        import torch
        import torchvision
        from torchview import draw_graph
    except ImportError:
        return None
    net = torchvision.models.resnet152()

    def draw():
        graph = draw_graph(net, input_size=(1, 3, 224, 224), device="cpu")
        graph.visual_graph.pipe(format="svg")

    with torch.no_grad():
        return timed(draw, repeat)


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--defaults", action="store_true",
                        help="also time dot's default settings on the stress graph")
    args = parser.parse_args()
    layers = FigureOptions(view="layers")
    print(f"{'model':<22}{'boxes':>7}{'edges':>7}{'seconds':>10}")
    for name in archdsl.zoo():
        model = archdsl.load(name)
        d = build_diagram(model, Options(view="layers"))
        secs = timed(lambda m=model: render_figure(m, "svg", layers), args.repeat)
        print(f"{name:<22}{len(d.boxes()):>7}{len(d.edges):>7}{secs:>10.2f}")

    print(f"\n{'model (default view)':<22}{'view':>8}{'seconds':>10}")
    slow = []
    for name in archdsl.zoo():
        model = archdsl.load(name)
        view = build_diagram(model, Options()).view
        secs = timed(lambda m=model: render_figure(m, "svg"), args.repeat)
        slow += [name] if secs > DEFAULT_VIEW_BUDGET else []
        print(f"{name:<22}{view:>8}{secs:>10.2f}")
    print(f"default views over {DEFAULT_VIEW_BUDGET:g} s: {', '.join(slow) or 'none'}")

    exe = Path(sys.executable).with_name("archdsl")
    cmd = [str(exe), "render", "resnet152", "--view", "layers", "-o"]
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "r152.svg")
        secs = timed(lambda: subprocess.run([*cmd, out], check=True), args.repeat)
        print(f"\narchdsl render resnet152 --view layers -o r152.svg: {secs:.2f} s (median of "
              f"{args.repeat}, end to end)")

        anchor = torchview_seconds(args.repeat)
        print("torchview draw_graph(resnet152) to SVG, the same run: "
              + (f"{anchor:.2f} s" if anchor is not None else "torchview is not installed "
                 "(pip install torchview)"))

        spec = Path(tmp) / "densenet121_dense.yaml"
        spec.write_text(dense_dag_yaml(), encoding="utf-8")
        model = archdsl.load(str(spec))
        d = build_diagram(model, Options(view="layers"))
        dot = render_figure(model, "dot", layers).decode()
        secs = timed(lambda: run_dot(dot, "svg"), args.repeat)
        print(f"stress: DenseNet-121 wired as torchvision ({len(d.boxes())} boxes, "
              f"{len(d.edges)} edges): dot with archdsl's caps {secs:.2f} s")
        if args.defaults:
            t = time.perf_counter()
            run_dot(CAPS.sub("", dot), "svg")
            print(f"stress: the same with dot's default settings {time.perf_counter() - t:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
