"""Reports: the per-layer table and totals (terminal, Markdown, LaTeX, CSV, JSON, HTML), the
side-by-side comparison of two models, and text dumps of the pipeline's stages. Imports neither
`codegen`, `runtime` nor `render`.
"""
