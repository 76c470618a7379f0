"""Parsed specs and the parser's tables, kept on disk so that a text is parsed only once.

Contract: `cached(kind, source, build, extra)` returns what `build(source)` returns for a
`SourceFile`: from the AST cache when this text was parsed before (by this process or an earlier
one), else by calling `build` and storing a successful result. An `ArchError` is never stored:
`build` raises it again each time. Entries are content-addressed: the file name is the SHA-256 of the
kind, the source's name and text, `extra` (whatever else the result depends on, such as the
limits of a YAML spec), archdsl's version and a hash of the code and grammar that build the AST
(`code_hash`), so an edited spec or a changed parser simply misses. Lark's own cache of its
analysis of the grammar (parser.py) lives in the same directory, under the same rules (`owned`).

Where: `$XDG_CACHE_HOME/archdsl` or `~/.cache/archdsl` (`directory()`). `ARCHDSL_NO_CACHE=1`
turns the AST cache off (nothing read, nothing written; looked up at every call, so a benchmark
can set it to time cold parses); the grammar's cache stays, as it depends on no input. Any problem (the directory cannot be made, a file is missing, truncated,
corrupt or from another version, the disk is full) is silent and costs only the parse.

Safety: a stored file is a pickle, and unpickling untrusted data can run code, so
- the directory is used only if it belongs to the user and nobody else may write to it (archdsl's
  own directory is made private when it is not), and a file is read only if the user owns it;
- files are written atomically (a private temporary file, then a rename), so a reader never sees
  half a file;
- the AST unpickler constructs only the AST and source classes (`_Unpickler.find_class`), so even
  a planted file cannot run code, and a result that is not a `Program` counts as a miss.
The caller's `SourceFile` is not stored: spans refer to it (and to the files it is embedded in)
by a persistent id, bound again on reading, so diagnostics and `Span.to` see the caller's source.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import io
import os
import pickle
import sys
from collections.abc import Callable
from pathlib import Path

from archdsl.source import Origin, SourceFile, Span
from archdsl.syntax import ast

MAX_ENTRIES = 4000  # AST files kept; beyond this the oldest quarter goes (entries are ~1-50 KB)
# What builds an AST (expr_functions.py: the parser refuses a call of an unknown function).
_CODE = ("syntax/*.py", "source.py", "settings.py", "identifiers.py", "expr_functions.py")


def enabled() -> bool:
    """Whether parsed ASTs are cached (ARCHDSL_NO_CACHE=1: not)."""
    return os.environ.get("ARCHDSL_NO_CACHE", "") in ("", "0")


@functools.lru_cache(maxsize=1)
def directory() -> Path | None:
    """The cache directory, or None when it cannot be made or trusted."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"  # the XDG rule
    path = root / "archdsl"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.stat(path)
        if hasattr(os, "getuid"):
            if st.st_uid != os.getuid():
                return None  # someone else's directory: never read pickles from it
            if st.st_mode & 0o022:  # ours, but others may write to it: make it private
                os.chmod(path, 0o700)
    except (OSError, RuntimeError):  # RuntimeError: no home directory
        return None
    return path


def owned(path: Path) -> bool:
    """Whether `path` may be trusted: a file of the user's (not a link), or nothing yet."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    import stat

    return stat.S_ISREG(st.st_mode) and (not hasattr(os, "getuid") or st.st_uid == os.getuid())


def load_bytes(path: Path) -> bytes | None:
    """The contents of a cache file the user owns, or None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        try:
            if hasattr(os, "getuid") and os.fstat(fd).st_uid != os.getuid():
                return None
            return fh.read()
        except OSError:
            return None


def store_bytes(path: Path, data: bytes) -> None:
    """Write a cache file atomically; failures are ignored (the cache is only a shortcut)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


@functools.lru_cache(maxsize=1)
def code_hash() -> str:
    """What the stored ASTs depend on besides the text: archdsl's version, Python's, the
    grammar as loaded and the source of the modules that build the AST."""
    from archdsl.syntax.grammar import grammar_text
    from archdsl.version import __version__

    h = hashlib.sha256(f"{__version__}\0{sys.version_info[:2]}\0".encode())
    h.update(grammar_text().encode("utf-8"))
    package = Path(__file__).resolve().parents[1]
    for path in sorted(p for pattern in _CODE for p in package.glob(pattern)):
        h.update(path.read_bytes())
    return h.hexdigest()


# --- parsed ASTs -------------------------------------------------------------------------------


def cached(kind: str, source: SourceFile, build: Callable[[SourceFile], ast.Program],
           extra: str = "") -> ast.Program:
    """`build(source)`, from the cache when this text was parsed before."""
    folder = directory() if enabled() else None
    if folder is None:
        return build(source)
    try:
        key = hashlib.sha256(f"{code_hash()}\0{kind}\0{source.name}\0{extra}\0".encode())
    except OSError:  # the package's sources are not readable files (a zip): no caching
        return build(source)
    key.update(source.text.encode("utf-8", "surrogatepass"))
    path = folder / "ast" / f"{key.hexdigest()}.pickle"
    sources = _sources(source)
    data = load_bytes(path)
    if data is not None:
        collecting = gc.isenabled()
        gc.disable()  # thousands of new objects, none garbage: collections would only walk them
        try:
            program = _Unpickler(io.BytesIO(data), sources).load()
            if isinstance(program, ast.Program) and program.file is source:
                return program
        except Exception:  # noqa: BLE001  (corrupt, truncated, another layout: parse again)
            pass
        finally:
            if collecting:
                gc.enable()
    program = build(source)
    try:
        buffer = io.BytesIO()
        _Pickler(buffer, sources).dump(program)
    except Exception:  # noqa: BLE001  (too deep to pickle, say: not cached, still parsed)
        return program
    _prune(path.parent)
    store_bytes(path, buffer.getvalue())
    return program


def _sources(source: SourceFile) -> list[SourceFile]:
    """The source and the files it is embedded in (a YAML layer string's YAML file)."""
    out = [source]
    while out[-1].origin is not None and len(out) < 8:
        out.append(out[-1].origin.outer)
    return out


class _Pickler(pickle.Pickler):
    def __init__(self, fh, sources: list[SourceFile]):
        super().__init__(fh, protocol=pickle.HIGHEST_PROTOCOL)
        self._ids = {id(s): i for i, s in enumerate(sources)}

    def persistent_id(self, obj):
        return self._ids.get(id(obj)) if type(obj) is SourceFile else None


_ALLOWED = {("archdsl.source", "SourceFile"): SourceFile, ("archdsl.source", "Span"): Span,
            ("archdsl.source", "Origin"): Origin}
_ALLOWED.update({("archdsl.syntax.ast", name): cls for name, cls in vars(ast).items()
                 if isinstance(cls, type) and cls.__module__ == ast.__name__})


class _Unpickler(pickle.Unpickler):
    def __init__(self, fh, sources: list[SourceFile]):
        super().__init__(fh)
        self._sources = sources

    def persistent_load(self, pid):
        return self._sources[pid]

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[module, name]
        except KeyError:
            raise pickle.UnpicklingError(f"not an AST class: {module}.{name}") from None


def _prune(folder: Path) -> None:
    """Keep the AST cache bounded: past MAX_ENTRIES files, remove the oldest quarter."""
    try:
        entries = list(os.scandir(folder))
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort(key=lambda e: e.stat().st_mtime)
        for entry in entries[: len(entries) // 4]:
            os.unlink(entry.path)
    except OSError:
        pass
