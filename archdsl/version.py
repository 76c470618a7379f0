"""archdsl's version: the one place it is written.

Contract: `__version__` is the package's version. `pyproject.toml` reads it from here (setuptools'
`attr:`, parsed without importing), `archdsl.__version__` re-exports it, and generated source
quotes it. A module of its own, importing nothing, so a stage can name the version without
importing the package's public API (which imports the stages: an import cycle).
"""

__version__ = "0.1.0"
