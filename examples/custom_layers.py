"""A small CNN with a layer archdsl cannot express, to import (docs/import.md):

    archdsl import examples/custom_layers.py:gated_net --input 3x32x32 -o gated.arch
    python examples/custom_layers.py      # the same through the Python API

`Gate` decides with a Python `if` on its input's values, which no trace can follow: it becomes
an Opaque layer. The spec still checks, summarises and draws; compiling it refuses the gate.
"""

import torch
from torch import nn


class Gate(nn.Module):
    """Passes its input on, or its negation, by the sign of the input's mean."""

    def forward(self, x):
        if x.mean() > 0:
            return x
        return -x


class GatedNet(nn.Module):
    def __init__(self, width: int = 16, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.gate = Gate()
        self.conv2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, num_classes)

    def forward(self, x):
        x = self.gate(self.relu(self.bn1(self.conv1(x))))
        x = self.relu(self.conv2(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def gated_net(width: int = 16, num_classes: int = 10) -> GatedNet:
    return GatedNet(width, num_classes)


if __name__ == "__main__":
    import archdsl

    model = archdsl.from_torch(gated_net(), input="3x32x32")
    print(model)
    for layer in model.opaque:
        print(f"opaque: {layer.name} ({layer.type}): {layer.why}")
    model.print_summary(columns=["layer", "kind", "output", "params", "macs"])
    try:
        model.build()
    except archdsl.ArchError as err:
        print(err)
