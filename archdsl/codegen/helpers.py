"""Sources that generated code carries as written: helper classes and the input transform.

Contract: `HELPERS` maps a helper class name to its source: the classes ops declare in their
`helper_sources` (the catalog's `StochasticPool2d`) and code generation's own `DenseStack`, which
runs a run of dense layers. A module defines a helper once, before its other classes, when a
constructor names it (`TorchModule.helper`) or a labelled group is a dense stack.
`TRANSFORM_INPUT` is the model's `_transform_input` method (`transform_input: true`). Helper
names are reserved: no block or model class takes them.
"""

from __future__ import annotations

from archdsl.ops import all_ops

DENSE_STACK_SOURCE = '''
class DenseStack(nn.Sequential):
    """Layers that each append channels to their input, `cat([x, layer.new_features(x)], 1)`,
    run as torchvision runs a dense block: the new features are kept in a list and each layer
    reads their concatenation. The result is the same as calling the layers in turn; backward
    is faster, as each layer's gradient arrives whole, not as a slice of the next layer's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self:
            features.append(layer.new_features(torch.cat(features, 1)))
        return torch.cat(features, 1)
'''
HELPERS: dict[str, str] = {**{name: source for op in all_ops()
                              for name, source in op.helper_sources.items()},
                           "DenseStack": DENSE_STACK_SOURCE}


def uses_functional(helpers: set[str]) -> bool:
    """Whether these helpers call `torch.nn.functional` (imported as `F`)."""
    return any("F." in HELPERS[h] for h in helpers)


TRANSFORM_INPUT = '''    def _transform_input(self, x: torch.Tensor) -> torch.Tensor:
        # transform_input: ImageNet statistics to the [-1, 1] scaling (torchvision's GoogLeNet)
        x_ch0 = torch.unsqueeze(x[:, 0], 1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
        x_ch1 = torch.unsqueeze(x[:, 1], 1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
        x_ch2 = torch.unsqueeze(x[:, 2], 1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
        return torch.cat((x_ch0, x_ch1, x_ch2), 1)'''
