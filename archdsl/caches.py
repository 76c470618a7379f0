"""One registry of the caches that hold what this process learned from spec texts.

Contract: a module that caches something derived from spec text registers the cache where it
defines it: `register(cache)` takes an `functools.lru_cache`'d function or a dict (anything with
`cache_clear()` or `clear()`) and returns it unchanged, so it works as a decorator. `clear_caches()`
empties every cache registered so far, so the next load pays what a new command pays (for
benchmarks of a cold load, and for tests that count allocations). A cache of a module not yet
imported is empty and not registered yet. What ships with archdsl (grammar, op catalog, prelude,
schema introspection) is not registered and stays.

This module imports nothing from archdsl, so any module can register without an import cycle
(the loader used to import the walker only to clear its caches).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

C = TypeVar("C")

_CLEARERS: list[Callable[[], Any]] = []


def register(cache: C) -> C:
    """Add a cache to the registry: an lru_cache'd function or a dict; returns it."""
    clear = getattr(cache, "cache_clear", None) or getattr(cache, "clear", None)
    if not callable(clear):
        raise TypeError(f"{cache!r} has neither cache_clear() nor clear()")
    _CLEARERS.append(clear)
    return cache


def clear_caches() -> None:
    """Empty every registered cache (parsed files and texts, name templates, checked names,
    validated params)."""
    for clear in _CLEARERS:
        clear()
