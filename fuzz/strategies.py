"""Hypothesis strategies for hostile and for valid archdsl input (shared by the tests and the
long fuzz run, `fuzz/run.py`).

- `token_soups()`: text made of the language's own tokens (names, brackets, settings, numbers
  from the edges: 0, -1, huge, 1e999), look-alike and invisible Unicode, tabs and comments, and
  some arbitrary characters: input that gets deep into the parser and elaboration.
- `mutations(text)`: a spec with a few random edits (delete, duplicate, insert a token, swap
  lines, replace a number with an edge value, replace a character with a look-alike).
- `valid_chains()`: `(layer string, input shape)` pairs that are valid by construction (the
  strategy tracks the shape while it draws layers), for checking archdsl against torch.
- `check_outcome(fn)`: run `fn` and classify: "ok", "arch-error" (with every diagnostic's span
  verified to lie inside its source), or re-raise anything else (that is a bug).
"""

from __future__ import annotations

from hypothesis import strategies as st

NAMES = ["Conv", "ReLU", "Pool", "MPool", "APool", "FC", "SM", "BN", "LRN", "Norm", "Dropout",
         "GAP", "Flatten", "Add", "Concat", "Id", "Shortcut", "Aux", "Slice", "Incept", "GN",
         "DWConv", "PWConv", "Tanh", "SPool", "conv3-64", "FC-4096", "soft-max", "maxpool",
         "Poool", "relu", "Input", "x", "as", "i", "c", "same", "valid", "true", "false",
         "classes", "in_channels", "self", "forward", "class", "__import__", "nn", "torch", "main"]
SYMBOLS = ["-", "-", "-", ",", "[", "]", "(", ")", "{", "}", ":", "=", "+", "*", "/", "//", "%",
           " x ", " × ", "'", '"', "#", ".", ";", "->", "@",
           # the expression language: comparisons, `**`, keywords, calls
           "<", "<=", "==", "!=", ">", "**", " if ", " else ", " and ", " or ", "not ",
           "max(", "round(", "ceil(", "log(", "pow(", "mx("]
NUMBERS = ["0", "1", "2", "3", "64", "-1", "0.5", "1.0", "1e999", "99999999999",
           "9" * 70, "2.5", "1e-300", "007", "0x10", "3e", "1.2.3", "10 ** 10 ** 9",
           "1e308 * 10"]
KEYWORDS = ["model Net {", "block B(c, s=1) {", "}", "use \"blocks/resnet.yaml\"",
            "use \"missing.arch\"", "use \"/etc/passwd.arch\"", "input: 3x32x32", "input: 0x1x1",
            "classes: 10", "freeze: [conv1]", "head: FC(2)", "init: kaiming", "layer1:",
            "seed: -1", "outputs: [main]", "transform_input: true", "x 10000", "x 99999",
            "as \"b{i}\"", "as \"{i\"", "Conv:\"{x}\"", "Aux:a[", "B(", "B(64, s=2)"]
ODD = ["\t", "\n", "\n\n", "  ", "\r\n", "# comment\n", "\u2013", "\uff0d", "\u00d7", "\u200b",
       "\ufeff", "\u00e9", "\u0000", "\\", "\u3000", "\U0001F600"]

TOKENS = st.sampled_from(NAMES + SYMBOLS + NUMBERS + KEYWORDS + ODD)


@st.composite
def token_soups(draw, max_tokens: int = 40) -> str:
    parts = draw(st.lists(st.one_of(TOKENS, TOKENS, TOKENS, st.text(max_size=3)),
                          max_size=max_tokens))
    glue = draw(st.sampled_from(["", " ", "-"]))
    return glue.join(parts)


LOOKALIKES = {"-": "\u2013", "x": "\u00d7", "(": "\uff08", ",": "\uff0c", '"': "\u201c",
              " ": "\u00a0", ":": "\uff1a"}


@st.composite
def mutations(draw, text: str, max_edits: int = 3) -> str:
    for _ in range(draw(st.integers(1, max_edits))):
        n = len(text)
        pos = draw(st.integers(0, n))
        kind = draw(st.sampled_from(["delete", "insert", "duplicate", "number", "lookalike",
                                     "swap-lines", "truncate"]))
        if kind == "delete" and n:
            end = min(n, pos + draw(st.integers(1, 20)))
            text = text[:pos] + text[end:]
        elif kind == "insert":
            text = text[:pos] + draw(TOKENS) + text[pos:]
        elif kind == "duplicate" and n:
            end = min(n, pos + draw(st.integers(1, 40)))
            text = text[:end] + text[pos:end] + text[end:]
        elif kind == "number":
            digits = [i for i, ch in enumerate(text) if ch.isdigit()]
            if digits:
                i = draw(st.sampled_from(digits))
                j = i
                while j < n and text[j].isdigit():
                    j += 1
                text = text[:i] + draw(st.sampled_from(NUMBERS)) + text[j:]
        elif kind == "lookalike":
            spots = [i for i, ch in enumerate(text) if ch in LOOKALIKES]
            if spots:
                i = draw(st.sampled_from(spots))
                text = text[:i] + LOOKALIKES[text[i]] + text[i + 1:]
        elif kind == "swap-lines":
            lines = text.split("\n")
            if len(lines) > 1:
                a = draw(st.integers(0, len(lines) - 1))
                b = draw(st.integers(0, len(lines) - 1))
                lines[a], lines[b] = lines[b], lines[a]
                text = "\n".join(lines)
        elif kind == "truncate":
            text = text[:pos]
    return text


# --- valid by construction -------------------------------------------------------------------


@st.composite
def _spatial_layer(draw, shape: list[int], index: int) -> str:
    """One layer valid on (C, H, W); updates `shape` in place."""
    c, h, _ = shape
    options = ["conv", "conv1", "bn", "act", "act", "dropout", "add", "concat", "gn", "repeat",
               "dw", "label"]
    if h >= 2:
        options += ["pool", "apool", "strided"]
    kind = draw(st.sampled_from(options))
    if kind == "conv":
        out = draw(st.integers(1, 8))
        shape[0] = out
        return f"Conv({out}, 3, p=1)"
    if kind == "conv1":
        out = draw(st.integers(1, 8))
        shape[0] = out
        return f"Conv({out}, 1, bias=false)"
    if kind == "label":
        out = draw(st.integers(1, 8))
        shape[0] = out
        return f"Conv:c{index}x({out}, 3, p=same)"
    if kind == "dw":
        return "DWConv(3, p=1)"
    if kind == "strided":
        out = draw(st.integers(1, 8))
        shape[0], shape[1], shape[2] = out, (h + 1) // 2, (h + 1) // 2
        return f"Conv({out}, 3, s=2, p=1)"
    if kind == "bn":
        return "BN"
    if kind == "gn":
        groups = draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0]))
        return f"GN({groups})"
    if kind == "act":
        return draw(st.sampled_from(["ReLU", "Tanh", "Sigmoid", "GELU", "LeakyReLU(0.1)"]))
    if kind == "dropout":
        return f"Dropout({draw(st.sampled_from(['0', '0.1', '0.5', '0.9']))})"
    if kind == "pool":
        shape[1], shape[2] = h // 2, h // 2
        return "MPool(2)"
    if kind == "apool":
        shape[1], shape[2] = h // 2, h // 2
        return "APool(2)"
    if kind == "add":
        out = draw(st.integers(1, 8))
        stride = 2 if h >= 2 and draw(st.booleans()) else 1
        shape[0] = out
        if stride == 2:
            shape[1], shape[2] = (h + 1) // 2, (h + 1) // 2
        return f"Add[Conv({out}, 3, s={stride}, p=1) - BN, Shortcut]"
    if kind == "concat":
        a, b = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        shape[0] = c + a + b
        return f"Concat[Id, Conv({a}, 1), Conv({b}, 3, p=1) - ReLU]"
    count = draw(st.integers(1, 3))
    return f"[Conv({c}, 3, p=1) - ReLU] x {count}"


@st.composite
def valid_chains(draw) -> tuple[str, tuple[int, ...]]:
    c = draw(st.integers(1, 4))
    h = draw(st.sampled_from([4, 5, 8, 9, 16]))
    shape = [c, h, h]
    layers = [draw(_spatial_layer(shape, i)) for i in range(draw(st.integers(1, 6)))]
    if draw(st.booleans()):
        layers.append(draw(st.sampled_from(["GAP", "Flatten"])))
        for _ in range(draw(st.integers(0, 3))):
            layers.append(draw(st.sampled_from([f"FC({draw(st.integers(1, 16))})", "ReLU",
                                                "Dropout(0.5)", "BN", "SM"])))
    return " - ".join(layers), (c, h, h)


# --- outcomes ----------------------------------------------------------------------------------


def check_outcome(fn) -> str:
    """'ok' or 'arch-error' (spans checked); any other exception propagates (a bug)."""
    import archdsl
    from archdsl.diagnostics import render_text

    try:
        fn()
    except archdsl.ArchError as err:
        assert err.diagnostics, "an ArchError without diagnostics"
        for diag in err.diagnostics:
            assert diag.code and diag.code == diag.code.lower() and " " not in diag.code
            for span in [diag.span, *(n.span for n in diag.notes)]:
                if span is None:
                    continue
                assert 0 <= span.start <= span.end <= len(span.file.text), diag
                file, line, col, width = span.located()
                assert 1 <= line <= file.line_count and col >= 1 and width >= 1, diag
            diag.to_json()
        render_text(err.diagnostics, color=True)
        return "arch-error"
    return "ok"


# --- edge values in arguments: what `check` accepts must build (issue 16) --------------------

# Numbers at the edges of what a parameter may hold: zero, negatives, floats beyond the range,
# integers beyond 64 bits, and ordinary values so that most specs are accepted.
EDGE_INTS = ["0", "1", "2", "3", "-1", "-2", "-99", "9223372036854775807",
             "9223372036854775808", "100000000000000000000000", "2 ** 62", "4", "8"]
EDGE_FLOATS = ["0.5", "1e999", "-1e999", "1e308 * 10", "1e-300", "1e300", "0.0", "-0.5",
               "0.999999", "1.0", "2.5"]
EDGE_LAYERS = ["ELU({f})", "LeakyReLU({f})", "SM(dim={i})", "Dropout({f})", "BN(eps={f})",
               "BN(momentum={f})", "LN(eps={f})", "LN(dims={i})", "GN({i})", "PReLU({i})",
               "PReLU(init={f})", "Conv({i}, {i})", "Conv(4, 3, s={i})", "Conv(4, 3, p={i})",
               "Conv(4, {i}, d={i})", "Conv(4, 3, g={i})", "MPool({i})", "APool({i}, s={i})",
               "MPool(2, p={i})", "DWConv({i}, s={i})", "PWConv({i})", "FC({i})",
               "Slice(0, {i})", "LRN({i})", "Dropout({i})", "ReLU", "BN", "Tanh"]


@st.composite
def edge_specs(draw) -> tuple[str, tuple[int, ...]]:
    """(layer string, input shape): a short chain of layers whose arguments are edge values;
    many are refused by `check`, and whatever it accepts must build and run."""
    c = draw(st.integers(1, 4))
    h = draw(st.sampled_from([1, 4, 8]))
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        template = draw(st.sampled_from(EDGE_LAYERS))
        while "{i}" in template or "{f}" in template:
            if "{i}" in template:
                template = template.replace("{i}", draw(st.sampled_from(EDGE_INTS)), 1)
            else:
                template = template.replace("{f}", draw(st.sampled_from(EDGE_FLOATS)), 1)
        layers.append(template)
    return " - ".join(layers), (c, h, h)


# Accepted specs larger than this are not built (the property is about values, not sizes; the
# limits bound sizes and are tested in test_limits.py)
MAX_BUILD_ELEMENTS = 2_000_000


def accepted_spec_builds(spec: tuple[str, tuple[int, ...]], tmp_path) -> str:
    """'refused', 'built' or 'too big to build here' for an `edge_specs()` draw: what `check`
    accepts must build, run a forward pass, and compile to `.py` source that builds the same
    module; anything else raises (the property fails; issue 16)."""
    import importlib.util

    import torch

    import archdsl

    text, shape = spec
    try:
        model = archdsl.load(text, input=shape, classes=3)
    except archdsl.ArchError:
        return "refused"
    if model.totals.params > MAX_BUILD_ELEMENTS or \
            model.totals.activations > MAX_BUILD_ELEMENTS:
        return "too big to build here"
    net = model.build().eval()
    x = torch.randn(2, *shape)
    with torch.no_grad():
        out = net(x)
    assert tuple(out.shape[1:]) == model.output_shape, text
    path = tmp_path / "compiled.py"
    path.write_text(model.source(), encoding="utf-8")
    module_spec = importlib.util.spec_from_file_location("compiled_for_property", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    again = getattr(module, type(net).__name__)().eval()
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in again.state_dict().items()} == shapes, text
    with torch.no_grad():
        assert tuple(again(x).shape) == tuple(out.shape), text
    return "built"
