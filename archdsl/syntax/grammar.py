"""The grammar's text, as the parser and the AST cache's key read it.

Contract: `grammar_text()` returns `grammars/archdsl.lark` (shipped inside the package as
`archdsl/grammars/`) with the setting keys of archdsl/settings.py's table in its SETTING_KEY
terminal. A module of its own so that the parser and the cache (whose key includes the grammar)
both read it without importing each other.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

GRAMMAR_FILE = "archdsl.lark"
SETTING_KEYS_SLOT = "@SETTING_KEYS@"  # in the grammar's SETTING_KEY terminal


@functools.lru_cache(maxsize=1)
def grammar_text() -> str:
    """The grammar, from the installed package or, in a source checkout, from `grammars/`, with
    the setting keys of archdsl/settings.py's table in its SETTING_KEY terminal."""
    from archdsl.settings import SETTING_KEYS

    here = Path(__file__).resolve()
    for path in (here.parents[1] / "grammars" / GRAMMAR_FILE,  # installed: archdsl/grammars
                 here.parents[2] / "grammars" / GRAMMAR_FILE):  # a source checkout
        if path.is_file():  # (importlib.resources finds them too, at a few ms per start)
            text = path.read_text("utf-8")
            break
    else:
        text = resources.files("archdsl.grammars").joinpath(GRAMMAR_FILE).read_text("utf-8")
    return text.replace(SETTING_KEYS_SLOT, "|".join(SETTING_KEYS))
