"""Rendering: diagram views of the annotated IR, as Graphviz DOT and laid out into SVG, PNG or
PDF, and the feature-map figure. Imports neither `codegen`, `runtime` nor `report`.
"""
