"""Code generation: the annotated IR as standalone, readable PyTorch source (imports torch only).

Reads the IR, never the text, and imports neither `runtime`, `render` nor `report`.
"""
