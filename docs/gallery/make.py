"""Make the gallery's PNGs (docs/gallery.md): `python docs/gallery/make.py` from the repository
root, with Graphviz and CairoSVG installed. Every figure is what `archdsl render` draws with the
options in FIGURES, unedited; rerun after a change to the renderer and look at each image."""

from __future__ import annotations

import sys
from pathlib import Path

import archdsl

HERE = Path(__file__).resolve().parent
DPI = 96  # small files; the docs show them scaled to the page

# file name, spec, options (as `Model.render` takes them, i.e. `archdsl render`'s flags)
FIGURES = [
    ("lenet5_featuremaps", "specs/lenet5.arch", {"style": "featuremaps"}),
    ("alexnet_featuremaps", "specs/alexnet.arch", {"style": "featuremaps"}),
    ("vgg16_featuremaps", "vgg16", {"style": "featuremaps"}),
    ("resnet18_layer1_featuremaps", "resnet18", {"style": "featuremaps", "expand": ("layer1",)}),
    ("resnet18_layers_featuremaps", "resnet18", {"style": "featuremaps", "view": "layers"}),
    ("googlenet_inception3a_featuremaps", "googlenet",
     {"style": "featuremaps", "expand": ("inception3a",)}),
    ("unet_featuremaps", "specs/unet.arch", {"style": "featuremaps"}),
    ("vgg16_layers", "vgg16", {}),
    ("resnet18_blocks", "resnet18", {"view": "blocks"}),
    ("resnet18_stages", "resnet18", {"view": "stages"}),
    ("resnet50_blocks", "resnet50", {}),
    ("resnet50_stages", "resnet50", {"view": "stages", "shapes": True}),
    ("resnet50_expand_layer2", "resnet50", {"expand": ("layer2",)}),
    ("resnet50_layers", "resnet50", {"view": "layers"}),
    ("googlenet_blocks", "googlenet", {}),
    ("densenet121_stages", "densenet121", {}),
    ("resnet50_stages_dark", "resnet50", {"view": "stages", "theme": "dark"}),
    ("resnet50_stages_print", "resnet50", {"view": "stages", "theme": "print"}),
]


def main() -> int:
    for name, spec, options in FIGURES:
        model = archdsl.load(spec)
        path = HERE / f"{name}.png"
        model.render(str(path), dpi=DPI, **options)
        print(f"{path.relative_to(HERE.parent.parent)}  ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
