"""YAML specs: the same models and blocks as .arch files, as structured data.

Contract: `parse_yaml(text, name)` returns a `Program` (the same AST as `.arch` text) or raises
`ArchError` whose diagnostics carry line and column in the YAML file. The YAML is composed with a
safe loader and constructed by us, so: only plain YAML types (no Python object tags), duplicate
keys are errors, alias/anchor expansion is counted and bounded, and every value keeps its mark.
The shape of the document is validated by pydantic models (unknown keys are errors). Layer
strings inside the YAML are parsed by the .arch grammar and their positions map back into the
YAML file.

    name: DenseNet121            # a model (omit name/layers for a block library)
    input: 3x224x224
    classes: 1000
    use: [blocks/densenet.yaml]  # block libraries, .yaml or .arch, relative to this file
    blocks:
      DenseLayer:
        params: [growth, bn_size=4]
        body: "Concat[Id, BN:norm1 - ReLU:relu1 - Conv:conv1(bn_size*growth, 1) - ...]"
      Fork:                      # an explicit graph: `from` names earlier nodes or `input`
        params: [c]
        nodes:
          - {id: a, layer: "Conv(c, 1)"}
          - {id: b, layer: "Conv(c, 3, p=1)", from: input}
          - {id: out, layer: Add, from: [a, b]}
    layers: |
      Conv:conv0(64, 7, s=2, p=3) - BN:norm0 - ReLU - MPool(3, s=2, p=1)
      ...
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from archdsl.diagnostics import ArchError, Diagnostic, Note, suggest
from archdsl.expr_functions import MAX_INT_DIGITS
from archdsl.identifiers import check_model_name
from archdsl.limits import DEFAULT_LIMITS, Limits
from archdsl.settings import SETTINGS
from archdsl.source import Origin, SourceFile, Span
from archdsl.syntax import ast
from archdsl.syntax.budget import check_tokens
from archdsl.syntax.parser import parse_source

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_KINDS = {bool: "true/false", int: "a number", float: "a number", type(None): "null",
          list: "a list", dict: "a mapping"}
_PLAIN_TAGS = {"tag:yaml.org,2002:" + t for t in
               ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NodeSpec(_Strict):
    id: str
    layer: str
    from_: str | list[str] | None = Field(default=None, alias="from")


class BlockSpec(_Strict):
    params: list[str] | dict[str, int | float | str | bool | None] = []
    body: str | list[str] | None = None
    nodes: list[NodeSpec] | None = None


# A spec file: its name, the settings (from archdsl/settings.py's table), imports, blocks, layers.
SpecFile = create_model(
    "SpecFile", __base__=_Strict, name=(str | None, None),
    **{s.key: (s.yaml | None, None) for s in SETTINGS},
    use=(str | list[str] | None, None), blocks=(dict[str, BlockSpec], {}),
    layers=(str | list[str] | None, None), nodes=(list[NodeSpec] | None, None))


class _Marks:
    """Maps a path in the document (keys and indices) to the YAML node at it."""

    def __init__(self) -> None:
        self.nodes: dict[tuple, yaml.Node] = {}
        self.key_nodes: dict[tuple, yaml.Node] = {}


class _Composer:
    def __init__(self, src: SourceFile, limits: Limits):
        self.src, self.limits = src, limits
        self.count = 0
        self.tokens = 0  # tokens of every string, aliases expanded (Limits.max_tokens)
        self.marks = _Marks()
        self._scalar = yaml.SafeLoader("")

    def span(self, node: yaml.Node) -> Span:
        return _node_span(self.src, node)

    def build(self, node: yaml.Node, path: tuple = (), depth: int = 0) -> Any:
        self.count += 1
        if self.count > self.limits.max_yaml_nodes or depth > 100:
            raise ArchError([Diagnostic(
                "limit-exceeded", f"the YAML expands to more than {self.limits.max_yaml_nodes:,} "
                "values (aliases are expanded)" if depth <= 100 else "the YAML nests too deeply",
                self.span(node), "remove the anchors and aliases that repeat each other "
                "(limit max_yaml_nodes)")])
        self.marks.nodes.setdefault(path, node)
        if node.tag not in _PLAIN_TAGS:
            raise ArchError([Diagnostic("yaml-tag", f"the YAML tag '{node.tag}' is not allowed",
                                        self.span(node), "specs hold plain data: strings, "
                                        "numbers, lists and mappings")])
        if isinstance(node, yaml.MappingNode):
            out: dict = {}
            first: dict = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, (*path, "<key>"), depth + 1)
                if not isinstance(key, str):  # `true:`, `3.5:`, `[a]:` are not names
                    raise ArchError([_key_diagnostic(key, key_node, self.span(key_node))])
                if key in first:
                    raise ArchError([Diagnostic(
                        "duplicate-key", f"the key '{key}' appears twice",
                        self.span(key_node), "remove one of them",
                        (Note("first given here", self.span(first[key])),))])
                first[key] = key_node
                self.marks.key_nodes[(*path, key)] = key_node
                out[key] = self.build(value_node, (*path, key), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if node.tag.endswith(":int") and sum(ch.isdigit() for ch in node.value) > \
                MAX_INT_DIGITS:  # Python refuses to read more than 4,300 digits; no size needs 60
            raise ArchError([Diagnostic("bad-number", f"a number of more than {MAX_INT_DIGITS} "
                                        "digits", self.span(node),
                                        "no size or count needs so many digits")])
        value = self._scalar.construct_object(node)
        if isinstance(value, str):
            self.tokens = check_tokens(SourceFile(self.src.name, value, _node_origin(
                self.src, node)), self.limits.max_tokens, self.tokens,
                "the YAML's text (every string, aliases expanded)")
        return value


def _key_diagnostic(key: Any, node: yaml.Node, span: Span) -> Diagnostic:
    """A key that YAML reads as something other than text (`true:`, `3.5:`, `[a]:`)."""
    kind = _KINDS.get(type(key), "a value")
    if not isinstance(node, yaml.ScalarNode):
        return Diagnostic("yaml-key", f"mapping keys must be plain words, not {kind}", span,
                          "keys are names such as layers or blocks")
    return Diagnostic("yaml-key", f"mapping keys must be plain words; YAML reads "
                      f"{node.value} as {kind}", span,
                      f"quote it to make it a word: \"{node.value}\": ...")


def _node_origin(src: SourceFile, node: yaml.Node) -> Origin | None:
    """Where a scalar's first line sits in the file (for the token-limit diagnostic)."""
    mark = node.start_mark
    if mark is None:
        return None
    quote = 1 if node.style in ('"', "'") else 0
    return Origin(src, ((mark.line + 1, mark.column + quote),))


def _node_span(src: SourceFile, node: yaml.Node) -> Span:
    start = node.start_mark.index if node.start_mark else 0
    end = node.end_mark.index if node.end_mark else start + 1
    if node.end_mark and node.start_mark and node.end_mark.line != node.start_mark.line:
        end = src.text.find("\n", start)
        end = len(src.text) if end == -1 else end
    return src.span(start, max(end, start + 1))


def parse_yaml(text: str, name: str = "<yaml>", limits: Limits = DEFAULT_LIMITS) -> ast.Program:
    return parse_yaml_source(SourceFile(name, text), limits)


def parse_yaml_source(src: SourceFile, limits: Limits = DEFAULT_LIMITS) -> ast.Program:
    text = src.text
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        offset = mark.index if mark is not None else 0
        problem = (err.problem or "invalid YAML").strip()
        raise ArchError([Diagnostic("yaml-syntax", f"invalid YAML: {problem}",
                                    src.span(offset, offset + 1),
                                    "check the indentation and quoting around here")]) from None
    except yaml.YAMLError as err:
        raise ArchError([Diagnostic("yaml-syntax", f"invalid YAML: {err}", src.span(0, 1))]) \
            from None
    if root is None:
        raise ArchError([Diagnostic("empty-spec", "the YAML file is empty", src.span(0, 0),
                                    "give at least `layers:` or `blocks:`")])
    composer = _Composer(src, limits)
    data = composer.build(root)
    if not isinstance(data, dict):
        raise ArchError([Diagnostic("yaml-shape", "a YAML spec is a mapping of keys such as "
                                    "name, input, blocks and layers", _node_span(src, root))])
    try:
        spec = SpecFile.model_validate(data)
    except ValidationError as err:
        raise ArchError(_pydantic_diagnostics(err, composer, src, data)) from None
    return _Lower(src, composer.marks).program(spec)


def _pydantic_diagnostics(err: ValidationError, composer: _Composer, src: SourceFile,
                          data: dict):
    diags, seen = [], set()
    groups: dict[tuple, list[tuple[tuple, dict]]] = {}
    for e in err.errors():
        loc = tuple("from" if p == "from_" else p for p in e["loc"])
        path = _data_path(data, loc)
        key = path[:2] if path and path[0] == "blocks" else path[:1]
        if e["type"] != "extra_forbidden":
            groups.setdefault(key, []).append((path, e))
            continue
        if (key, True) in seen:
            continue
        seen.add((key, True))
        node = composer.marks.key_nodes.get(path) or composer.marks.nodes.get(path)
        allowed = _allowed_keys(path)
        guess = suggest(str(path[-1]), allowed)
        diags.append(Diagnostic("unknown-key", f"unknown key '{path[-1]}'"
                                + (f" in {'/'.join(map(str, path[:-1]))}" if path[:-1]
                                   else ""), _node_span(src, node) if node else
                                src.span(0, 1), f"did you mean '{guess}'?" if guess else
                                f"known keys: {', '.join(allowed)}"))
    for errors in groups.values():
        # a union reports one error per member: the deepest path is where the value went wrong
        depth = max(len(path) for path, _ in errors)
        deepest = [(path, e) for path, e in errors if len(path) == depth]
        path, first = deepest[0]
        node = _deepest(composer.marks.nodes, path)
        where = "/".join(str(p) for p in path) or "the document"
        message = _plain_message(first) if len(deepest) == 1 else \
            _union_message([e for _, e in deepest])
        diags.append(Diagnostic("bad-value", f"{where}: {message}", _node_span(src, node)
                                if node else src.span(0, 1)))
    return diags


_EXPECTED_WORDS = {"int_type": "a number", "int_parsing": "a number", "float_type": "a number",
                   "float_parsing": "a number", "string_type": "text", "bool_type": "true/false",
                   "bool_parsing": "true/false", "list_type": "a list", "dict_type": "a mapping",
                   "none_type": "null"}


def _union_message(errors: list[dict]) -> str:
    words: list[str] = []
    for e in errors:
        word = _EXPECTED_WORDS.get(e["type"], e["type"])
        if word not in words:
            words.append(word)
    said = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    return f"expected {said}, got {_shown(errors[0].get('input'))}"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _data_path(data: Any, loc: tuple) -> tuple:
    """The part of pydantic's error location that is keys and indices of the document: its
    union-member tags ('str', 'list[str]') are dropped by walking the data itself, so a key
    that looks like a tag (`"a[b"`) is still a key."""
    path, current = [], data
    for part in loc:
        if isinstance(current, dict) and part in current:
            path.append(part)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
    return tuple(path)


def _deepest(nodes: dict, path: tuple):
    for i in range(len(path), -1, -1):
        if path[:i] in nodes:
            return nodes[path[:i]]
    return None


def _allowed_keys(path: tuple) -> list[str]:
    if path and path[0] == "blocks" and len(path) == 3:
        return list(BlockSpec.model_fields)
    if path and path[0] in ("nodes",) or (len(path) >= 4 and path[2] == "nodes"):
        return ["id", "layer", "from"]
    return list(SpecFile.model_fields)


def _plain_message(e: dict) -> str:
    kind = e["type"]
    if kind in ("string_type",):
        return "expected text"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {e.get('input')!r}"
    if kind in ("list_type",):
        return "expected a list"
    if kind in ("dict_type", "model_type"):
        return "expected a mapping of keys"
    if kind == "bool_type" or kind == "bool_parsing":
        return f"expected true or false, got {e.get('input')!r}"
    if kind == "missing":
        return f"'{e['loc'][-1]}' is required"
    return e["msg"]


class _Lower:
    """The validated document to AST nodes, parsing embedded layer strings."""

    def __init__(self, src: SourceFile, marks: _Marks):
        self.src, self.marks = src, marks

    def node(self, *path) -> yaml.Node | None:
        return self.marks.nodes.get(path)

    def span(self, *path) -> Span:
        node = self.node(*path)
        return _node_span(self.src, node) if node else self.src.span(0, 0)

    def embedded(self, text: str, *path) -> SourceFile:
        """A layer string as its own source, with its lines mapped into the YAML file."""
        node = self.node(*path)
        lines: list[tuple[int, int]] = []
        if node is not None and node.start_mark is not None:
            m = node.start_mark
            file_lines = self.src.text.split("\n")
            if node.style in ("|", ">"):
                row = m.line + 1
                for line_text in text.split("\n"):
                    while row < len(file_lines) and line_text.strip() and \
                            line_text.strip() not in file_lines[row]:
                        row += 1
                    src_line = file_lines[row] if row < len(file_lines) else ""
                    indent = src_line.find(line_text) if line_text and line_text in src_line \
                        else len(src_line) - len(src_line.lstrip())
                    lines.append((row + 1, max(indent, 0)))
                    row += 1
            else:
                quote = 1 if node.style in ('"', "'") else 0
                lines = [(m.line + 1, m.column + quote)] + [
                    (m.line + 1 + i, 0) for i in range(1, text.count("\n") + 1)]
        origin = Origin(self.src, tuple(lines)) if lines else None
        return SourceFile(self.src.name, text, origin)

    def statements(self, text: str, *path) -> tuple[ast.Statement, ...]:
        program = parse_source(self.embedded(text, *path))
        if program.uses or program.blocks or any(not m.implicit for m in program.models):
            raise ArchError([Diagnostic("yaml-layers", "a YAML layer string holds layers only",
                                        self.span(*path), "put blocks under `blocks:` and "
                                        "imports under `use:`")])
        body: list[ast.Statement] = []
        for model in program.models:
            if model.settings:
                raise ArchError([Diagnostic(
                    "yaml-layers", f"'{model.settings[0].key}:' is a YAML key here, not part of "
                    "a layer string", model.settings[0].key_span,
                    f"write `{model.settings[0].key}: ...` as a key of the document")])
            body.extend(model.body)
        return tuple(body)

    def chain(self, text: str, *path) -> ast.Chain:
        body = self.statements(text, *path)
        if len(body) != 1 or not isinstance(body[0], ast.Chain):
            raise ArchError([Diagnostic("yaml-layers", "expected a single chain of layers here",
                                        self.span(*path))])
        return body[0]

    def lines(self, value: str | list[str], *path) -> tuple[ast.Statement, ...]:
        if isinstance(value, str):
            return self.statements(value, *path)
        out: list[ast.Statement] = []
        for i, item in enumerate(value):
            out.extend(self.statements(item, *path, i))
        return tuple(out)

    def dag(self, nodes: list[NodeSpec], *path) -> ast.Dag:
        out = []
        for i, n in enumerate(nodes):
            chain = self.chain(n.layer, *path, i, "layer")
            sources = None if n.from_ is None else (
                (n.from_,) if isinstance(n.from_, str) else tuple(n.from_))
            source_spans = ()
            if sources is not None:
                from_node = self.node(*path, i, "from")
                if from_node is not None and isinstance(from_node, yaml.SequenceNode):
                    source_spans = tuple(_node_span(self.src, s) for s in from_node.value)
                else:
                    source_spans = (self.span(*path, i, "from"),) * len(sources)
            out.append(ast.DagNode(n.id, chain, sources, self.span(*path, i),
                                   self.span(*path, i, "id"), source_spans))
        return ast.Dag(tuple(out), self.span(*path))

    def params(self, name: str, spec: BlockSpec) -> tuple[ast.Param, ...]:
        out = []
        if isinstance(spec.params, dict):
            for key, default in spec.params.items():
                key_node = self.marks.key_nodes.get(("blocks", name, "params", key))
                span = _node_span(self.src, key_node) if key_node else \
                    self.span("blocks", name, "params", key)
                # a word that is a name refers to a parameter (or is a bare word such as
                # `same`); any other text is a string literal, never code
                out.append(ast.Param(key, None if default is None else
                                     (ast.Name(default, span) if isinstance(default, str) and
                                      default.isascii() and default.isidentifier() else
                                      ast.Str(default, span) if isinstance(default, str)
                                      else ast.Literal(default, span)), span))
            return tuple(out)
        for i, item in enumerate(spec.params):
            # `name` or `name=expr`: parsed as the argument list of a call for full expressions
            text = f"_({item})"
            src = self.embedded(text, "blocks", name, "params", i)
            shifted = SourceFile(src.name, text, Origin(src.origin.outer, tuple(
                (line, col - 2) for line, col in src.origin.lines)) if src.origin else None)
            chain = self.chain_of(shifted)
            layer = chain.elements[0].unit
            arg = layer.args[0] if isinstance(layer, ast.Layer) and layer.args and \
                len(layer.args) == 1 else None
            if arg is None:
                raise ArchError([Diagnostic("bad-value", f"'{item}' is not a parameter; write "
                                            "`name` or `name=default`",
                                            self.span("blocks", name, "params", i))])
            if arg.key is None:
                if not isinstance(arg.value, ast.Name):
                    raise ArchError([Diagnostic("bad-value", f"'{item}' is not a parameter "
                                                "name", arg.span)])
                out.append(ast.Param(arg.value.id, None, arg.span))
            else:
                out.append(ast.Param(arg.key, arg.value, arg.span))
        return tuple(out)

    def chain_of(self, src: SourceFile) -> ast.Chain:
        program = parse_source(src)
        return program.models[0].body[0]

    def program(self, spec: SpecFile) -> ast.Program:
        uses = []
        if spec.use is not None:
            paths = [spec.use] if isinstance(spec.use, str) else spec.use
            for i, p in enumerate(paths):
                uses.append(ast.Use(p, self.span("use", i) if isinstance(spec.use, list)
                                    else self.span("use")))
        blocks = []
        for name, b in spec.blocks.items():
            name_node = self.marks.key_nodes.get(("blocks", name))
            name_span = _node_span(self.src, name_node) if name_node else self.span("blocks")
            if not name.isidentifier():
                raise ArchError([Diagnostic("bad-name", f"'{name}' is not a valid block name",
                                            name_span, "use letters, digits and '_'")])
            if (b.body is None) == (b.nodes is None):
                raise ArchError([Diagnostic("yaml-block", f"block {name} needs exactly one of "
                                            "`body:` (a layer string) or `nodes:` (a graph)",
                                            name_span)])
            body = self.lines(b.body, "blocks", name, "body") if b.body is not None else \
                (self.dag(b.nodes, "blocks", name, "nodes"),)
            blocks.append(ast.BlockDef(name, self.params(name, b), body,
                                       self.span("blocks", name), name_span))
        models = []
        if spec.layers is not None or spec.nodes is not None:
            if spec.layers is not None and spec.nodes is not None:
                raise ArchError([Diagnostic("yaml-model", "give `layers:` or `nodes:`, not both",
                                            self.span("nodes"))])
            body = self.lines(spec.layers, "layers") if spec.layers is not None else \
                (self.dag(spec.nodes, "nodes"),)
            if spec.name is not None:
                check_model_name(spec.name, self.span("name"))
            models.append(ast.ModelDef(spec.name or _stem(self.src.name), self.settings(spec),
                                       body, self.src.whole(), self.span("name")))
        elif spec.name is not None:
            raise ArchError([Diagnostic("yaml-model", f"model {spec.name} has no `layers:`",
                                        self.span("name"), "add `layers:` with a layer string")])
        return ast.Program(self.src, tuple(uses), tuple(blocks), tuple(models))

    def settings(self, spec: SpecFile) -> tuple[ast.Setting, ...]:
        out = []
        for setting in SETTINGS:
            key, kind = setting.key, setting.kind
            value = getattr(spec, key)
            if value is None:
                continue
            span = self.span(key)
            key_node = self.marks.key_nodes.get((key,))
            key_span = _node_span(self.src, key_node) if key_node else span
            if kind == "chain":
                setting_value: Any = self.chain(value, key)
            elif kind == "shape" and isinstance(value, list):
                setting_value = ast.Shape(tuple(value), span)
            elif kind == "number" or (kind == "shape" and isinstance(value, int)):
                setting_value = ast.Num(value, span)
            elif kind == "names":
                setting_value = ast.Literal(tuple(value) if isinstance(value, list) else value,
                                            span)
            else:
                setting_value = ast.Literal(value, span)
            out.append(ast.Setting(key, setting_value, span, key_span))
        return tuple(out)


def _stem(name: str) -> str:
    import pathlib

    stem = pathlib.Path(name).stem
    return "".join(c if c.isalnum() or c == "_" else "_" for c in stem) or "Net"
