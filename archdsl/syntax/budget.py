"""A token budget: refuse a spec too long to parse quickly, before parsing it.

Contract: `check_tokens(src, limit, used=0)` counts the tokens of a spec text (names, numbers,
strings and symbols; comments and whitespace are free) with one regular expression and raises
`ArchError` (`limit-exceeded`, pointing at the first token over the limit) when `used` plus the
count exceeds `limit`; otherwise it returns the new total. Parsing costs time per token, so this
bounds it: the limit (`Limits.max_tokens`) is far above any real architecture (the largest zoo
spec has a few hundred tokens). YAML specs count the tokens of all their strings together, after
alias expansion, so an alias bomb of layer strings is refused too.
"""

from __future__ import annotations

import re

from archdsl.diagnostics import ArchError, Diagnostic
from archdsl.source import SourceFile

_TOKEN = re.compile(r"#[^\n]*|\"[^\"\n]*\"|'[^'\n]*'|[A-Za-z0-9_.]+|[^\s#]")


def count_tokens(text: str, stop: int | None = None) -> tuple[int, int]:
    """(tokens, offset of token number `stop`); stops counting at `stop` when given."""
    n = 0
    for match in _TOKEN.finditer(text):
        if match.group().startswith("#"):
            continue
        n += 1
        if stop is not None and n > stop:
            return n, match.start()
    return n, len(text)


def check_tokens(src: SourceFile, limit: int, used: int = 0, what: str = "the spec") -> int:
    """`used` plus the tokens of `src`; raises when that is over `limit`."""
    n, pos = count_tokens(src.text, stop=max(limit - used, 0))
    if n + used <= limit:
        return used + n
    raise ArchError([Diagnostic(
        "limit-exceeded", f"{what} has more than {limit:,} tokens (names, numbers and "
        "symbols), the limit max_tokens", src.span(pos, pos + 1),
        "use repeats (`x N`) and blocks instead of writing layers out, or raise the limit "
        "max_tokens")])
