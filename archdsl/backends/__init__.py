"""Backends: each reads the annotated IR (never the text) and produces an output."""
