"""The op catalog's contract: what every layer kind declares, once.

An op is a subclass of `Op`, registered with `@register`. It declares:

- `name`, `aliases` (matched case-insensitively when unambiguous) and `family` (diagram colour);
- `Params`: a pydantic model, its fields in positional order, with defaults and validation;
  `keywords` maps short keyword names (`s=`, `p=`) to fields;
- `bare`: the arguments a layer written without parentheses gets (textbook defaults);
- `resolve()`: fill `auto` fields once the input shape is known (conv width, classifier size;
  an op whose rule asks `ctx.is_classifier` says so with `reads_is_classifier`);
- `infer()`: the shape rule, per sample (`(C, H, W)` or `(F,)`), raising `ShapeError`;
- `param_count()`, `buffer_count()`, `macs()`, `activations()`: the counting conventions below;
- `rf()`: the receptive-field effect (kernel, stride, padding, dilation) of spatial ops; given
  the input shapes it also covers windows sized by the input (global and adaptive pooling, an FC
  over a feature map: `RF.whole`) and the projection shortcut's stride;
- `saved()` and `is_view()`: what autograd keeps for the layer's backward (inputs, output,
  tensors of its own) and whether its output shares its input's storage, for the memory
  estimate (`archdsl.passes.memory`; the figures are torch's, measured on CPU);
- `torch()`: the PyTorch constructor call (or functional expression) as data, from which both the
  generated source and the in-memory module come, so they cannot drift apart;
- `inplace_slots()` and `torch_inplace()`: which inputs the layer may overwrite with its result
  and its in-place form (`nn.ReLU(inplace=True)`, `out += identity`); whether it does is
  `archdsl.passes.inplace`'s decision, which code generation and the memory estimate share;
- `label()` and `cells()`: the diagram label and the table's kernel/stride/padding cells;
  `glyph` (a merge drawn as a small symbol, Add's `+`) and `passes_through()` (an identity the
  diagram draws as a plain edge) say the rest of what a diagram needs;
- `eval_identity`, `absorbs_affine`, `eval_affine()` and `inner_folds()`: what inference
  optimisation (`--optimize inference`) may drop or fold (Dropout; Conv/FC take in a BatchNorm);
- what the rest of the pipeline asks instead of naming an op (no module outside `archdsl/ops/`
  compares an op's name with a string; `tests/test_op_boundary.py` checks it): `is_input` (the
  model's input, a setting and not a layer; `archdsl.ops.input_op()` finds it), `listed`
  (`archdsl ops` shows it), `is_identity` (a bare branch of only this layer is the merge's input
  itself), `is_skip_branch` (only a whole branch of a merge, shaped by the other branches:
  Shortcut), `weighted` (a learned map over all its input, Conv and FC: what "the classifier"
  and "a weighted layer after it" mean), `absorbs_preceding_bias` (a convolution right before it
  needs no bias: BatchNorm); and for a skip branch, `projects()` (whether, for these shapes, it
  is a module rather than the identity) and `projection()` (that module's constructor, for any
  channels and stride, as generated block classes need it).
- `concatenates`, `weight_init` and `helper_sources`: what code generation asks of an op beyond
  `torch()` (one group in `Op`).

Rules are written with plain arithmetic so they also run on `Sym` integers, which is how block
classes in generated code get symbolic constructor arguments.

Counting conventions (the README's "Figures" section says the same):
- shapes are per sample, without the batch dimension;
- MACs are multiply-accumulates of convolutions and fully connected layers (fvcore's unit),
  bias additions excluded; every other layer counts 0 MACs; FLOPs, where shown, are 2 x MACs;
- activations are output elements of layers that make a new feature map; elementwise layers
  (activations, normalisation, dropout, softmax) are part of the layer before them and add 0,
  as the lecture notes count "nodes";
- parameters are trainable tensors; BatchNorm running statistics are buffers, counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

Shape = tuple[int, ...]

PositiveInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
Pair = PositiveInt | tuple[PositiveInt, PositiveInt]
NonNegPair = NonNegInt | tuple[NonNegInt, NonNegInt]
Probability = Annotated[float, Field(ge=0.0, lt=1.0)]
# Text that describes (an opaque layer's class and reason), not a word a layer takes: a block
# parameter's bare word is still checked against the words of the catalog (`same`, `kaiming`)
FREE_TEXT = "free text"
FreeText = Annotated[str, FREE_TEXT]


class Params(BaseModel):
    """Base of every op's parameter schema: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, defer_build=True)


class NoParams(Params):
    pass


class ShapeError(Exception):
    """A shape rule's complaint; the shape pass turns it into a diagnostic on the layer."""

    def __init__(self, message: str, hint: str | None = None, arg: str | None = None,
                 code: str = "shape-error"):
        super().__init__(message)
        self.message, self.hint, self.arg, self.code = message, hint, arg, code


@dataclass(frozen=True)
class TorchModule:
    """`cls(*args, **kwargs)` in generated code. `helper` names a class emitted with the model."""

    cls: str
    args: tuple = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    helper: str | None = None
    flatten_input: bool = False  # an FC on a feature map flattens it first


@dataclass(frozen=True)
class Functional:
    """An expression in `forward` instead of a module: `{0}`, `{1}` are the inputs,
    `{all:SEP}` all inputs joined by SEP, `{name}` one of `values` (rendered by the backend, so a
    block parameter becomes an attribute of the block's class)."""

    template: str
    values: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class OwnParameter(Functional):
    """A learnable tensor the enclosing class holds as a parameter, not a module (ConvNeXt's
    `self.layer_scale = nn.Parameter(torch.ones(C, 1, 1) * 1e-6)`): the constructor sets the
    layer's attribute to `nn.Parameter(init)` and `forward` computes `template`, in which
    `{param}` is that attribute (`values` fill both, as for `Functional`)."""

    init: str = ""


@dataclass(frozen=True)
class Update:
    """An in-place update in `forward`, the first input overwritten with the result: one
    `{0} OP= {i}` statement per further input (`out += identity`, as torchvision writes it), or
    the expression `{0}.METHOD({1}).METHOD({2})` when the result takes another variable."""

    operator: str  # "+" for `+=`
    method: str  # "add_"


@dataclass(frozen=True)
class RF:
    """Receptive-field effect of a spatial op, per spatial dimension (H, W). `whole`: the window
    is the whole input map (global pooling, an FC over a feature map). Strides are fractions only
    for adaptive pooling whose output size does not divide the input (the mean stride)."""

    kernel: tuple[int, int]
    stride: tuple[float, float]
    padding: tuple[int, int]
    dilation: tuple[int, int] = (1, 1)
    whole: bool = False


@dataclass(frozen=True)
class Extra:
    """A tensor of a layer's own that autograd keeps: pooling indices, a dropout mask,
    normalisation statistics. `elements` per sample (or per batch when not `per_sample`);
    `itemsize` bytes per element, None for the model's dtype."""

    what: str
    elements: int
    itemsize: int | None = None
    per_sample: bool = True


@dataclass(frozen=True)
class Saved:
    """What autograd keeps for a layer's backward besides parameters and buffers: some of its
    inputs (by slot), its output, and tensors of its own."""

    inputs: tuple[int, ...] = ()
    output: bool = False
    extra: tuple[Extra, ...] = ()
    # an input is kept only for another input's gradient (a product: `a * b` keeps b for a's
    # gradient and a for b's), so only when some other input needs one
    for_other_inputs: bool = False


NOTHING_SAVED = Saved()


@dataclass
class Ctx:
    """What a rule may know beyond its inputs."""

    model_input: Shape = ()
    classes: int | None = None
    is_classifier: bool = False  # no weighted layer after it (set for `reads_is_classifier` ops)
    target: Shape | None = None  # for Shortcut: the shape of the other branches of its Add
    target_stride: Any = None  # for Shortcut: product of strides along the other branch
    extra: dict = field(default_factory=dict)


def pair(value) -> tuple:
    return tuple(value) if isinstance(value, tuple) else (value, value)


def fmt_pair(value, sep: str = "x") -> str:
    a, b = pair(value)
    return f"{a}{sep}{b}" if a != b else f"{a}{sep}{a}" if sep == "x" else str(a)


def fmt_shape(shape: Shape) -> str:
    return "x".join(str(int(d)) for d in shape)


def prod(values) -> int:
    out = 1
    for v in values:
        out = out * v
    return out


class Op:
    """One layer kind. Subclasses override what differs from these defaults."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    family: ClassVar[str] = "other"
    Params: ClassVar[type[Params]] = NoParams
    keywords: ClassVar[dict[str, str]] = {}
    bare: ClassVar[dict[str, Any]] = {}
    arity: ClassVar[int | None] = 1  # None: two or more inputs
    module: ClassVar[bool] = True  # an nn.Module in the built model (else a forward expression)
    elementwise: ClassVar[bool] = False
    # an upsampling layer: its units see a fraction of an input unit's stride, which the
    # receptive-field pass does not model, so no field is given from it on (blank, not wrong)
    ends_receptive_field: ClassVar[bool] = False
    field_ends_after: ClassVar[str] = "upsampling"  # the summary's note says why it ends
    # figures this kind cannot know ("macs", "saved": an imported opaque layer's): its rules
    # return 0 for them, and reports show them as not counted and say totals leave it out
    unknown_figures: ClassVar[tuple[str, ...]] = ()
    output_needed_for_backward: ClassVar[bool] = False  # in-place ReLU must not follow it
    summary: ClassVar[str] = ""
    example: ClassVar[str] = ""
    module_prefix: ClassVar[str] = ""  # auto names: conv1, relu1 ... (default: name lowercased)
    fresh_output: ClassVar[bool] = False  # always writes a new tensor (an in-place op may follow)
    glyph: ClassVar[str | None] = None  # diagrams draw a small circle with this symbol instead
    eval_identity: ClassVar[bool] = False  # the identity in eval mode (Dropout): inference drops it
    # output channel c is weight[c] . x + bias[c], weight's first dimension the output channel
    # (Conv, FC): a per-channel affine right after it (an `eval_affine` layer) folds into it
    absorbs_affine: ClassVar[bool] = False
    # its rules read `ctx.is_classifier` (a bare FC's size); the shape pass works that out
    # (a walk of the whole graph) only when some layer asks
    reads_is_classifier: ClassVar[bool] = False

    # --- traits the pipeline asks instead of naming an op (issue 12: op knowledge lives here) --
    # The model's input tensor (`input: 3x224x224`), a setting and not a layer: the walker makes
    # one per model (`archdsl.ops.input_op()`) and rejects it written as a layer; the input box.
    is_input: ClassVar[bool] = False
    # `archdsl ops` lists it (the input is not written as a layer, so it is not listed)
    listed: ClassVar[bool] = True
    # Always hands its input on unchanged (Id): a merge's branch that is only this layer, bare,
    # adds no node (`Concat[Id, ...]` reads the merge's input itself).
    is_identity: ClassVar[bool] = False
    # Only a whole branch of a merge (Shortcut): its rules read the merge's other branches
    # (`ctx.target`), and it may be a module mapping its input onto them (`projects()`).
    is_skip_branch: ClassVar[bool] = False
    # Multiplies its input by learned weights (Conv and its kinds, FC): the model's classifier
    # is the last one (`head:` replaces it), and a bare FC with none after it sizes itself to
    # the classes (`reads_is_classifier`).
    weighted: ClassVar[bool] = False
    # Shifts each channel by a learned bias of its own (BatchNorm): a convolution whose only
    # consumer it is needs no bias (`bias=auto` settles to off, as the notes write it).
    absorbs_preceding_bias: ClassVar[bool] = False

    # A learnable tensor of the enclosing class rather than a module (`torch()` returns an
    # `OwnParameter`): it lives in the model or a block class, never in a labelled group (an
    # `nn.Sequential` holds modules only); the shape pass says so.
    held_by_class: ClassVar[bool] = False

    def skipped_in_forward(self, p) -> bool:
        """Whether the built module exists but `forward` does not call it, the value passing
        on unchanged (torchvision's MBConv holds a StochasticDepth it never calls in blocks
        without a residual). Default: never."""
        return False

    def compile_refusal(self, p) -> str | None:
        """Why this layer cannot become PyTorch, said after its name (`is opaque: imported from
        ...`: what it was and why archdsl cannot express it); code generation refuses the model
        with it. None: it can."""
        return None

    def projects(self, ins: list[Shape], out: Shape) -> bool:
        """For a skip branch: whether, for these shapes, it is a module mapping its input onto
        the merge's shape (the projection shortcut) rather than the identity. Default: never."""
        return False

    def projection(self, p, in_channels, out_channels, stride) -> TorchModule:
        """For a skip branch: the module `projects()` stands for, for any channels and stride,
        plain or symbolic (a generated block class builds it under a condition on its
        arguments)."""
        raise NotImplementedError(self.name)
    # --- end of the traits of issue 12 ---------------------------------------------------------

    @property
    def positional(self) -> tuple[str, ...]:
        return tuple(self.Params.model_fields)

    def prefix(self) -> str:
        return self.module_prefix or self.name.lower()

    # --- rules (override) ----------------------------------------------------------------------
    def check_params(self, p) -> None:
        """Cross-field checks that do not need shapes; raise ShapeError(arg=...)."""

    def resolve(self, p, ins: list[Shape], ctx: Ctx):
        """Fill `auto` fields from the input shapes; returns params (possibly new)."""
        return p

    def infer(self, p, ins: list[Shape], ctx: Ctx) -> Shape:
        return ins[0]

    def param_count(self, p, ins: list[Shape], out: Shape) -> int:
        return 0

    def buffer_count(self, p, ins: list[Shape], out: Shape) -> int:
        return 0

    def macs(self, p, ins: list[Shape], out: Shape) -> int:
        return 0

    def activations(self, p, ins: list[Shape], out: Shape) -> int:
        return 0 if self.elementwise else prod(out)

    def rf(self, p, ins: list[Shape] | None = None, out: Shape | None = None) -> RF | None:
        """The window this layer slides over its input; None: it keeps the field (elementwise
        and channel-wise layers, merges). Ops whose window depends on the input size need
        `ins`/`out` and return None without them."""
        return None

    def saved(self, p, ins: list[Shape], out: Shape, trainable: bool) -> Saved:
        """What autograd keeps for backward when this layer is recorded (some input or one of
        its parameters needs a gradient); `trainable`: its parameters do. Default: nothing."""
        return NOTHING_SAVED

    def is_view(self, p, ins: list[Shape], out: Shape) -> bool:
        """Whether the output is a view of the first input (no storage of its own)."""
        return False

    def torch(self, p, ins: list[Shape], out: Shape) -> TorchModule | Functional:
        raise NotImplementedError(self.name)

    def inplace_slots(self, p, ins: list[Shape], out: Shape) -> tuple[int, ...]:
        """The input slots this layer may overwrite with its result, in order of preference;
        `archdsl.passes.inplace` picks the first one that is safe. Default: none."""
        return ()

    def torch_inplace(self, p, ins: list[Shape], out: Shape) -> TorchModule | Update:
        """The in-place form of `torch()` (the overwritten input comes first)."""
        raise NotImplementedError(self.name)

    def label(self, p, ins: list[Shape], out: Shape) -> str:
        return self.name

    def passes_through(self, p, ins: list[Shape], out: Shape) -> bool:
        """Whether this layer hands its input on unchanged (an identity shortcut): diagrams
        draw an edge instead of a node, so a residual connection reads as a skip line."""
        return False

    def cells(self, p) -> tuple[str, str, str]:
        """Kernel, stride and padding as the notes' table shows them ('' when not applicable)."""
        return "", "", ""

    def eval_affine(self, module) -> tuple[Any, Any] | None:
        """`(scale, shift)` tensors when this layer's built module computes, in eval mode,
        `x * scale[c] + shift[c]` for each channel c (BatchNorm); None otherwise."""
        return None

    def inner_folds(self, p, ins: list[Shape], out: Shape) -> tuple[tuple[str, str, Op], ...]:
        """Folds inside this layer's own module: (absorbing child, affine child, the affine
        child's op), e.g. the projection shortcut's conv and BatchNorm, `("0", "1", BN)`."""
        return ()

    # --- import from PyTorch (archdsl.importer) ---------------------------------------------------
    # the torch classes this kind stands for, as `module.QualName` (exactly: a subclass may
    # compute something else), and the functions and tensor methods (`.mean`) by name
    torch_types: ClassVar[tuple[str, ...]] = ()
    torch_calls: ClassVar[tuple[str, ...]] = ()
    # makes a map a vector, which an FC does by itself: the importer leaves it out before one
    flattens: ClassVar[bool] = False

    def from_torch(self, module, ins: list[Shape], out: Shape) -> dict[str, Any] | None:
        """This kind's arguments (field name -> value) for a module of one of `torch_types`
        that maps `ins` to `out` (per sample); the importer leaves out those equal to the
        field's default. None: the module has a setting this kind cannot express. Default: no
        arguments."""
        return {}

    def from_torch_call(self, name: str, args: tuple, kwargs: dict, ins: list[Shape],
                        out: Shape) -> dict[str, Any] | None:
        """The same for a call of one of `torch_calls` (`name`): `args` and `kwargs` are the
        call's arguments after its tensor input(s) (whose shapes are `ins`). None: this call is
        not this kind."""
        return None

    # --- what code generation asks of an op (archdsl.codegen) ------------------------------------
    # its output is its inputs joined along the channels, in order: `Concat[Id, f]` is the
    # input with f's channels appended (a dense layer, run as `DenseStack` in a labelled run)
    concatenates: ClassVar[bool] = False

    def joins_unchanged(self, p) -> bool:
        """Whether, with these arguments, its output is its inputs joined along the channels as
        they are (`concatenates`, and no crop): what a dense stack may read as one tensor."""
        return self.concatenates

    # how a model's `init:` setting (any but `default`) sets the weights of the modules it
    # builds: rule -> their nn classes as generated code names them; the rules, written out
    # for each scheme by `archdsl.codegen.weight_init`: "conv" (the scheme's rule for
    # convolutions; kaiming: fan_out, as torchvision's ResNet; bias zero), "linear" (the
    # scheme's rule with fan_in; bias zero), "affine" (weight one, bias zero, when built with
    # `affine=True`); an op that declares none keeps PyTorch's initialisation
    weight_init: ClassVar[dict[str, tuple[str, ...]]] = {}
    # classes its generated code defines beside the model, name -> source (`TorchModule.helper`)
    helper_sources: ClassVar[dict[str, str]] = {}
    # modules generated code imports for it (a plugin kind's own module, whose classes its
    # `torch()` names as `module.Class`), and the distribution that provides it (`archdsl.plugins`
    # fills both for a plugin kind; the header of generated code names the package)
    imports: ClassVar[tuple[str, ...]] = ()
    package: ClassVar[str | None] = None
    plugin: ClassVar[bool] = False  # registered from outside archdsl (`archdsl.plugins`)


def is_default(value: Any, default: Any) -> bool:
    """Whether generated code may omit an argument: equal to PyTorch's default, and not a
    symbolic value (a block parameter must stay visible even when it happens to equal it)."""
    if getattr(value, "symbolic", False):
        return False
    if isinstance(value, tuple):
        if any(getattr(v, "symbolic", False) for v in value):
            return False
        if len(set(value)) == 1:
            value = value[0]
    if isinstance(value, bool) or isinstance(default, bool):
        return isinstance(value, bool) and isinstance(default, bool) and value == default
    return value == default


def kwargs_without_defaults(pairs: list[tuple[str, Any, Any]]) -> tuple[tuple[str, Any], ...]:
    """Keyword arguments for generated code, dropping those equal to PyTorch's defaults."""
    out = []
    for key, value, default in pairs:
        if is_default(value, default):
            continue
        out.append((key, square(value) if isinstance(value, tuple) else value))
    return tuple(out)


def square(value):
    """A square pair renders as one number, as torchvision writes it."""
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1] and \
            str(value[0]) == str(value[1]):
        return value[0]
    return value
