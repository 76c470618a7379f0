"""Receptive fields: which part of the input each layer's output sees.

Contract: `receptive_fields(ir)` walks the graph once in topological order and sets `ann.rf` to a
`Field` for every node of a model whose input is a feature map (C x H x W); a model with a vector
input gets none. It reads only shapes and the op catalog's `rf()` rule, so it needs the shape
pass first and allocates nothing. `largest_field(nodes)` picks the model's headline figure.

Conventions, per spatial dimension (height, width), in input pixels (pixel i spans [i, i+1)):

- `size`: the extent of the input that one output unit depends on; `jump`: the distance between
  the fields of adjacent output units (the product of strides); `start`: the centre of the first
  unit's field. The input has size 1, jump 1, start 0.5. A window of kernel k (dilated to
  k' = d(k-1)+1), stride s and padding p gives
  `size + (k'-1) jump`, `jump s`, `start + ((k'-1)/2 - p) jump` (Araujo et al., "Computing
  Receptive Fields of Convolutional Neural Networks", Distill 2019). Fields are not clipped to
  the image: padding counts, so a field may be larger than the input (ResNet-50's last
  feature map sees 427x427 of a 224x224 image; VGG-16's 212x212, AlexNet's 195x195).
- Three stacked 3x3 convolutions (stride 1) see 7x7; two see 5x5: the lecture notes' point.
- Branches: where paths merge (Add, Concat) the field is the union of the fields of all paths
  into it: from the leftmost left edge to the rightmost right edge (for branches centred alike,
  as in ResNet and Inception, the largest field over paths). Paths that stride differently keep
  the largest jump.
- Layers whose window is the whole feature map (global average pooling, a 1x1 adaptive
  pooling, an FC or Flatten over a feature map) see the union of every position's field and are
  marked `global_`; so is everything after them. Adaptive pooling to a larger size uses its
  largest window and, where the output size does not divide the input, the mean stride
  (input / output), so the jump and later figures are then averages.
- `covers_input`: every output unit's field contains the whole input image.

Elementwise and channel-wise layers (activations, normalisation, dropout, slices) keep their
input's field. Upsampling layers (transposed convolution, `Upsample`: `ends_receptive_field`)
give none, nor does anything after them: a fractional jump is not modelled, and a blank is
better than a wrong figure (U-Net's decoder).
"""

from __future__ import annotations

from collections.abc import Iterable

# `Field`, the annotation this pass writes, is defined with the other annotations in the IR.
from archdsl.ir import Field, ModelIR, Node
from archdsl.ops.base import RF

INPUT_FIELD = Field((1, 1), (1, 1), (0.5, 0.5))


def receptive_fields(ir: ModelIR) -> None:
    graph = ir.graph
    image = tuple(ir.settings.input)
    if len(image) != 3:
        return
    for node in graph.order():
        ann = node.ann
        ann.rf = None
        if node.key == ir.input_key:
            ann.rf = INPUT_FIELD
            continue
        inputs = graph.inputs(node.key)
        fields = [i.ann.rf for i in inputs]
        if ann.failed or ann.out_shape is None or not fields or any(f is None for f in fields) \
                or node.op.ends_receptive_field:
            continue
        field = merge(fields) if len(fields) > 1 else fields[0]
        effect = node.op.rf(ann.params, list(ann.in_shapes), ann.out_shape)
        if effect is not None:
            field = apply(field, effect)
        ann.rf = _with_cover(field, ann.out_shape, image)


def merge(fields: list[Field]) -> Field:
    """The union of the fields of several paths into one layer (per dimension)."""
    size, jump, start = [], [], []
    for d in range(2):
        left = min(f.start[d] - f.size[d] / 2 for f in fields)
        right = max(f.start[d] + f.size[d] / 2 for f in fields)
        size.append(_tidy(right - left))
        start.append((left + right) / 2)
        jump.append(max(f.jump[d] for f in fields))
    return Field(tuple(size), tuple(jump), tuple(start), any(f.global_ for f in fields))


def apply(field: Field, rf: RF) -> Field:
    """The field after a window with kernel, stride, padding and dilation `rf`."""
    size, jump, start = [], [], []
    for d in range(2):
        reach = rf.dilation[d] * (rf.kernel[d] - 1)  # k' - 1
        size.append(_tidy(field.size[d] + reach * field.jump[d]))
        start.append(field.start[d] + (reach / 2 - rf.padding[d]) * field.jump[d])
        jump.append(_tidy(field.jump[d] * rf.stride[d]))
    return Field(tuple(size), tuple(jump), tuple(start), field.global_ or rf.whole)


def largest_field(nodes: Iterable[Node]) -> Node | None:
    """The layer with the largest field made by local windows (global ones excluded: they see
    everything by construction); the first such layer in the given order."""
    best: Node | None = None
    for node in nodes:
        rf = node.ann.rf
        if rf is None or rf.global_:
            continue
        if best is None or rf.area() > best.ann.rf.area():
            best = node
    return best


def _with_cover(field: Field, out_shape: tuple[int, ...], image: tuple[int, ...]) -> Field:
    cover = True
    for d in range(2):
        units = out_shape[1 + d] if len(out_shape) == 3 else 1
        first_right = field.start[d] + field.size[d] / 2
        last_left = field.start[d] + (units - 1) * field.jump[d] - field.size[d] / 2
        cover = cover and first_right >= image[1 + d] and last_left <= 0
    return Field(field.size, field.jump, field.start, field.global_, cover)


def _tidy(value: float) -> float:
    """Integers stay integers (sizes and jumps are whole pixels unless adaptive pooling made a
    mean stride)."""
    return int(value) if float(value).is_integer() else value
