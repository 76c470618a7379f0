"""What `archdsl render` and `Model.render()` can be asked for: the one list of each choice.

Contract: constants only, importing nothing, so the CLI builds its argument parser from them
without importing a renderer (start-up time of every command).
"""

VIEWS = ("auto", "layers", "blocks", "stages")  # auto: the finest view that fits a slide
STYLES = ("graph", "featuremaps")
SCALES = ("log", "sqrt", "linear")  # feature maps: how sizes map to drawn lengths
THEMES = ("light", "dark", "print")
RANKDIRS = ("auto", "TB", "LR")
FORMATS = ("svg", "png", "pdf")  # laid out by Graphviz's `dot`; "dot" itself needs none
DEFAULT_DPI = 150
