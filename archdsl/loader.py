"""Finding and reading specs: files, zoo names, text, and the files they `use`.

Contract: `read_spec(spec)` takes a path, a zoo name (`resnet50`) or spec text (a program or a
bare layer string) and returns a `LoadedSpec`: the main program plus every block visible to it
(its own, those of the files it uses, transitively). Imports resolve relative to the importing
file (text specs: the working directory), then among the shipped specs (`import_candidates`),
must be `.arch` or `.yaml` files, may not form cycles, and nest at most
`limits.max_import_depth` deep; with `roots` given, every imported file must lie under one of
them or among the shipped specs. Parsed files are cached by path, size and modification time, parsed texts
by content (`archdsl.clear_caches()` empties both).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from archdsl.caches import register
from archdsl.diagnostics import ArchError, Diagnostic, Note, suggest
from archdsl.identifiers import check_block_def
from archdsl.limits import DEFAULT_LIMITS, Limits
from archdsl.paths import PathProblem, probe, read_bytes, reason, resolved
from archdsl.source import SourceFile
from archdsl.syntax import ast, cache
from archdsl.syntax.budget import check_tokens
from archdsl.syntax.parser import parse_text

SPEC_SUFFIXES = (".arch", ".yaml", ".yml")


@dataclass
class LoadedSpec:
    program: ast.Program
    blocks: dict[str, ast.BlockDef] = field(default_factory=dict)
    kind: str = "text"  # "file" | "zoo" | "text"
    path: Path | None = None


def zoo_dir() -> Path:
    """The shipped specs: inside the installed package, or `specs/` of a source checkout."""
    try:
        path = Path(str(resources.files("archdsl.specs")))
        if path.is_dir():
            return path
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[1] / "specs"


def natural_key(name: str) -> list:
    """Sort key that orders the numbers in names by value: resnet18 before resnet101."""
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def zoo_names(pattern: str | None = None) -> list[str]:
    """The zoo's names in natural order; `pattern` keeps those matching a glob (`resnet*`) or,
    without glob characters, containing it (`resnet`), case-insensitively."""
    from fnmatch import fnmatch

    root = zoo_dir()
    names = [p.stem for p in root.iterdir()
             if p.suffix in SPEC_SUFFIXES and not p.stem.startswith("_")]
    if pattern:
        pat = pattern.lower()
        if not any(ch in pat for ch in "*?["):
            pat = f"*{pat}*"
        names = [n for n in names if fnmatch(n.lower(), pat)]
    return sorted(set(names), key=natural_key)


def zoo_path(name: str) -> Path | None:
    root = zoo_dir()
    for suffix in SPEC_SUFFIXES:
        path = root / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def classify(spec: str | os.PathLike) -> tuple[str, Path | None]:
    """Whether a CLI/API spec argument is a file, a zoo name or spec text."""
    if isinstance(spec, os.PathLike):
        return "file", Path(spec)
    text = str(spec)
    if "\n" not in text and len(text) < 4096:
        candidate = Path(text)
        if candidate.suffix in SPEC_SUFFIXES or os.sep in text:
            try:
                found = probe(candidate)
            except PathProblem:
                return "unreadable", candidate
            if found == "file":
                return "file", candidate
            if found != "missing":
                return "not-a-file", candidate
            if candidate.suffix in SPEC_SUFFIXES or _looks_like_path(text):
                return "missing", candidate
        if text.isidentifier():
            zoo = zoo_path(text)
            if zoo is not None:
                return "zoo", zoo
    return "text", None


def _looks_like_path(text: str) -> bool:
    """`specs/alexnet.ach`: a path with a typo, not a layer string (which has no '/' or '.')."""
    return bool(text) and not any(ch in text for ch in " \t-[]()") and \
        (text.startswith((".", "/", "~")) or "." in Path(text).name)


def read_spec(spec: str | os.PathLike, limits: Limits = DEFAULT_LIMITS,
              roots: list[Path] | None = None) -> LoadedSpec:
    kind, path = classify(spec)
    if kind == "unreadable":
        try:
            probe(path)
            why = "it cannot be read"
        except PathProblem as err:
            why = str(err)
        raise ArchError([Diagnostic("no-such-file", f"cannot read the spec file "
                                    f"'{_display_path(str(path))}': {why}", None)])
    if kind == "missing":
        suffix = "" if path.suffix in SPEC_SUFFIXES else \
            "; spec files end in .arch, .yaml or .yml"
        raise ArchError([Diagnostic("no-such-file", f"no spec file '{spec}'{suffix}", None,
                                    _file_hint(path))])
    if kind == "not-a-file":
        raise ArchError([Diagnostic("no-such-file", f"'{spec}' is not a spec file (it is a "
                                    f"{'directory' if path.is_dir() else 'special file'})",
                                    None, "give a .arch or .yaml file, a zoo name or a layer "
                                    "string")])
    if kind == "text":
        text = str(spec)
        _zoo_typo(text)
        if len(text.encode("utf-8", "replace")) > limits.max_file_bytes:
            raise ArchError([Diagnostic("limit-exceeded", f"the spec is larger than "
                                        f"{limits.max_file_bytes} bytes", None,
                                        "raise the limit max_file_bytes if this is intended")])
        program = _parse_cached("<string>", text, ".arch", limits)
        base = Path.cwd()
    else:
        program = _load_file(path, limits)
        base = path.parent
    loaded = LoadedSpec(program, {}, kind, path)
    try:
        stack = [resolved(path)] if path else []
    except PathProblem as err:
        raise ArchError([Diagnostic("no-such-file", f"cannot read the spec file "
                                    f"'{_display_path(str(path))}': {err}", None)]) from None
    _collect(loaded, program, base, stack, limits, roots, {}, 0)
    return loaded


def _file_hint(path: Path) -> str:
    try:
        parent = path.parent if str(path.parent) else Path(".")
        names = [p.name for p in parent.iterdir() if p.suffix in SPEC_SUFFIXES]
    except OSError:
        names = []
    guess = suggest(path.name, names)
    if guess is not None:
        return f"did you mean '{path.parent / guess}'?"
    return f"check the path; zoo names are: {', '.join(zoo_names())}"


def _zoo_typo(text: str) -> None:
    """A lone word that is no layer or block but a directory or close to a zoo name."""
    from archdsl.ops import lookup, vgg_token

    if not text.isidentifier() or lookup(text) is not None or vgg_token(text) is not None or \
            text in prelude_blocks() or any(b.lower() == text.lower() for b in prelude_blocks()):
        return
    if Path(text).is_dir():
        raise ArchError([Diagnostic("no-such-file", f"'{text}' is a directory, not a spec",
                                    None, "give a .arch or .yaml file, a zoo name or a layer "
                                    "string")])
    guess = suggest(text, zoo_names())
    if guess is not None:
        raise ArchError([Diagnostic("no-such-file", f"'{text}' is neither a zoo spec nor a "
                                    "layer", None, f"did you mean the zoo spec '{guess}'?")])


def _load_file(path: Path, limits: Limits, code: str = "no-such-file",
               span=None) -> ast.Program:
    """A spec file parsed; `code` and `span` place a failure to read it (an import's own)."""
    try:
        if probe(path) != "file":
            raise PathProblem("it is not a regular file")
        stat = path.stat()
        return _parse_file_cached(str(path), stat.st_size, stat.st_mtime_ns, limits)
    except PathProblem as err:
        raise ArchError([Diagnostic(code, f"cannot read '{_display_path(str(path))}': {err}",
                                    span)]) from None
    except OSError as err:  # the file changed between probe and stat
        raise ArchError([Diagnostic(code, f"cannot read '{_display_path(str(path))}': "
                                    f"{reason(err)}", span)]) from None


@register
@functools.lru_cache(maxsize=256)
def _parse_file_cached(path: str, size: int, mtime: int, limits: Limits) -> ast.Program:
    if size > limits.max_file_bytes:
        raise ArchError([Diagnostic("limit-exceeded", f"'{path}' is {size} bytes, more "
                                    f"than the limit of {limits.max_file_bytes}", None,
                                    "raise the limit max_file_bytes if this is intended")])
    try:
        raw = read_bytes(path, limits.max_file_bytes)  # bounded: it may have grown since stat()
        if len(raw) > limits.max_file_bytes:
            raise ArchError([Diagnostic("limit-exceeded", f"'{path}' is more than "
                                        f"{limits.max_file_bytes} bytes", None,
                                        "raise the limit max_file_bytes if this is intended")])
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        text = raw.decode("utf-8", "replace")
        at = len(raw[:err.start].decode("utf-8", "replace"))
        source = SourceFile(_display_path(path), text)
        raise ArchError([Diagnostic("bad-encoding", f"the file is not UTF-8 text: byte "
                                    f"0x{raw[err.start]:02X} cannot be decoded",
                                    source.span(at, at + 1), "save the file as UTF-8")]) \
            from None
    return _parse_cached(_display_path(path), text, Path(path).suffix, limits)


def _display_path(path: str) -> str:
    try:
        rel = os.path.relpath(path)
        return rel if not rel.startswith("..") else path
    except ValueError:
        return path


@register
@functools.lru_cache(maxsize=64)
def _parse_cached(name: str, text: str, suffix: str, limits: Limits) -> ast.Program:
    if "\x00" in text:
        raise ArchError([Diagnostic("bad-encoding", "the spec contains a NUL character",
                                    SourceFile(name, text).span(text.index("\x00"),
                                                                text.index("\x00") + 1))])
    if suffix in (".yaml", ".yml"):  # the limits bound what the YAML may expand to
        return cache.cached("yaml", SourceFile(name, text),
                            functools.partial(_parse_yaml, limits=limits), repr(limits))
    check_tokens(SourceFile(name, text), limits.max_tokens)
    return parse_text(text, name)


def _parse_yaml(source: SourceFile, limits: Limits) -> ast.Program:
    # imported here: PyYAML and the YAML schema's pydantic models cost an .arch spec ~40 ms
    from archdsl.syntax.yaml_spec import parse_yaml_source

    return parse_yaml_source(source, limits)


def _collect(loaded: LoadedSpec, program: ast.Program, base: Path, stack: list[Path],
             limits: Limits, roots: list[Path] | None, seen: dict[Path, ast.Program],
             depth: int) -> None:
    for block in program.blocks:
        _add_block(loaded, block)
    for use in program.uses:
        try:
            searched = import_candidates(use.path, base)
            target = next((c for c in searched if probe(c) == "file"), searched[0])
        except PathProblem as err:
            raise ArchError([Diagnostic("bad-import", f"cannot read '{use.path}': {err}",
                                        use.span, "check the path in the `use` line")]) \
                from None
        if target.suffix not in SPEC_SUFFIXES:
            raise ArchError([Diagnostic("bad-import", f"'{use.path}' is not a spec file",
                                        use.span, "`use` imports .arch and .yaml files only")])
        from_library = len(searched) > 1 and target == searched[-1]  # shipped: trusted
        if roots is not None and not from_library and not any(_inside(target, r) for r in roots):
            raise ArchError([Diagnostic("import-escape", f"'{use.path}' is outside the allowed "
                                        "directories", use.span, "--no-escape allows only "
                                        "files under " + ", ".join(
                                            _display_path(str(r)) for r in roots))])
        if target in stack:
            chain = " -> ".join(p.name for p in stack[stack.index(target):]) + f" -> {target.name}"
            raise ArchError([Diagnostic("import-cycle", f"import cycle: {chain}", use.span,
                                        "remove one of the `use` lines in the cycle")])
        if depth + 1 > limits.max_import_depth:
            raise ArchError([Diagnostic("limit-exceeded", "imports nest more than "
                                        f"{limits.max_import_depth} deep", use.span,
                                        "raise the limit max_import_depth if this is intended")])
        if target in seen:
            continue
        if probe(target) != "file":
            raise ArchError([Diagnostic("missing-import", f"cannot find '{use.path}'", use.span,
                                        "looked for " + " and ".join(
                                            _display_path(str(c)) for c in searched))])
        sub = _load_file(target, limits, "bad-import", use.span)  # a library may define models: only its blocks count
        seen[target] = sub
        _collect(loaded, sub, target.parent, [*stack, target], limits, roots, seen, depth + 1)


def import_candidates(path: str, base: Path) -> list[Path]:
    """Where `use "path"` may find its file, in order: beside the importing file (`base`: its
    folder; a command-line string's is the working directory), then, for a relative path, among
    the specs shipped with archdsl (`use "blocks/resnet.yaml"` works from any folder). A file
    beside the spec wins, so a spec can shadow a shipped library with its own copy."""
    local = resolved(base / path)
    shipped = resolved(zoo_dir() / path)
    if Path(path).is_absolute() or shipped == local or not _inside(shipped, zoo_dir()):
        return [local]
    return [local, shipped]


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _add_block(loaded: LoadedSpec, block: ast.BlockDef) -> None:
    from archdsl.ops import lookup

    problems = check_block_def(block)
    if problems:
        raise ArchError(problems)
    if lookup(block.name) is not None:
        raise ArchError([Diagnostic("block-shadows-layer", f"block {block.name} has the name of "
                                    "a layer kind", block.name_span, "choose another name")])
    old = loaded.blocks.get(block.name)
    if old is not None and old is not block:
        if old.span.file.name == block.span.file.name and old.span.start == block.span.start:
            return
        raise ArchError([Diagnostic("duplicate-block", f"block {block.name} is defined twice",
                                    block.name_span, "rename one of them",
                                    (Note("first defined here", old.name_span),))])
    loaded.blocks[block.name] = block


@functools.lru_cache(maxsize=1)
def prelude_blocks() -> dict[str, ast.BlockDef]:
    """Blocks every spec can use without importing (e.g. `Incept`, GoogLeNet's module)."""
    text = resources.files("archdsl").joinpath("prelude.arch").read_text("utf-8")
    program = parse_text(text, "<prelude>")
    return {b.name: b for b in program.blocks}
