"""DenseNet121, compiled by archdsl 0.1.0 from the zoo spec densenet121.

Generated code: regenerate it with `archdsl compile` rather than editing it.
"""

from collections import OrderedDict

import torch
from torch import nn


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


class DenseLayer(nn.Module):
    """Block DenseLayer(growth, bn_size=4), specs/blocks/densenet.yaml:5:3."""

    def __init__(self, in_channels: int, growth: int, bn_size: int = 4) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)  # specs/blocks/densenet.yaml:9:15
        self.relu1 = nn.ReLU(inplace=True)  # specs/blocks/densenet.yaml:9:26
        self.conv1 = nn.Conv2d(in_channels, growth * bn_size, 1, bias=False)  # specs/blocks/densenet.yaml:9:39
        self.norm2 = nn.BatchNorm2d(growth * bn_size)  # specs/blocks/densenet.yaml:10:19
        self.relu2 = nn.ReLU(inplace=True)  # specs/blocks/densenet.yaml:10:30
        self.conv2 = nn.Conv2d(growth * bn_size, growth, 3, padding=1, bias=False)  # specs/blocks/densenet.yaml:10:43

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.new_features(x)], 1)

    def new_features(self, x: torch.Tensor) -> torch.Tensor:
        """The channels this layer appends to its input."""
        x = self.norm1(x)
        x = self.relu1(x)
        x = self.conv1(x)
        x = self.norm2(x)
        x = self.relu2(x)
        x = self.conv2(x)
        return x


class Transition(nn.Module):
    """Block Transition(c), specs/blocks/densenet.yaml:13:3."""

    def __init__(self, in_channels: int, c: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)  # specs/blocks/densenet.yaml:15:12
        self.relu = nn.ReLU(inplace=True)  # specs/blocks/densenet.yaml:15:22
        self.conv = nn.Conv2d(in_channels, c, 1, bias=False)  # specs/blocks/densenet.yaml:15:34
        self.pool = nn.AvgPool2d(2, stride=2)  # specs/blocks/densenet.yaml:15:64

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        x = self.relu(x)
        x = self.conv(x)
        x = self.pool(x)
        return x


class DenseNet121(nn.Module):
    """DenseNet121: 3x224x224 -> 1000, 7,978,856 parameters, 2,834,161,664 MACs."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
                ("conv0", nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)),
                ("norm0", nn.BatchNorm2d(64)),
                ("relu0", nn.ReLU(inplace=True)),
                ("pool0", nn.MaxPool2d(3, stride=2, padding=1)),
                ("denseblock1", DenseStack(OrderedDict([
                        ("denselayer1", DenseLayer(64, 32)),
                        ("denselayer2", DenseLayer(96, 32)),
                        ("denselayer3", DenseLayer(128, 32)),
                        ("denselayer4", DenseLayer(160, 32)),
                        ("denselayer5", DenseLayer(192, 32)),
                        ("denselayer6", DenseLayer(224, 32)),
                    ]))),
                ("transition1", Transition(256, 128)),
                ("denseblock2", DenseStack(OrderedDict([
                        ("denselayer1", DenseLayer(128, 32)),
                        ("denselayer2", DenseLayer(160, 32)),
                        ("denselayer3", DenseLayer(192, 32)),
                        ("denselayer4", DenseLayer(224, 32)),
                        ("denselayer5", DenseLayer(256, 32)),
                        ("denselayer6", DenseLayer(288, 32)),
                        ("denselayer7", DenseLayer(320, 32)),
                        ("denselayer8", DenseLayer(352, 32)),
                        ("denselayer9", DenseLayer(384, 32)),
                        ("denselayer10", DenseLayer(416, 32)),
                        ("denselayer11", DenseLayer(448, 32)),
                        ("denselayer12", DenseLayer(480, 32)),
                    ]))),
                ("transition2", Transition(512, 256)),
                ("denseblock3", DenseStack(OrderedDict([
                        ("denselayer1", DenseLayer(256, 32)),
                        ("denselayer2", DenseLayer(288, 32)),
                        ("denselayer3", DenseLayer(320, 32)),
                        ("denselayer4", DenseLayer(352, 32)),
                        ("denselayer5", DenseLayer(384, 32)),
                        ("denselayer6", DenseLayer(416, 32)),
                        ("denselayer7", DenseLayer(448, 32)),
                        ("denselayer8", DenseLayer(480, 32)),
                        ("denselayer9", DenseLayer(512, 32)),
                        ("denselayer10", DenseLayer(544, 32)),
                        ("denselayer11", DenseLayer(576, 32)),
                        ("denselayer12", DenseLayer(608, 32)),
                        ("denselayer13", DenseLayer(640, 32)),
                        ("denselayer14", DenseLayer(672, 32)),
                        ("denselayer15", DenseLayer(704, 32)),
                        ("denselayer16", DenseLayer(736, 32)),
                        ("denselayer17", DenseLayer(768, 32)),
                        ("denselayer18", DenseLayer(800, 32)),
                        ("denselayer19", DenseLayer(832, 32)),
                        ("denselayer20", DenseLayer(864, 32)),
                        ("denselayer21", DenseLayer(896, 32)),
                        ("denselayer22", DenseLayer(928, 32)),
                        ("denselayer23", DenseLayer(960, 32)),
                        ("denselayer24", DenseLayer(992, 32)),
                    ]))),
                ("transition3", Transition(1024, 512)),
                ("denseblock4", DenseStack(OrderedDict([
                        ("denselayer1", DenseLayer(512, 32)),
                        ("denselayer2", DenseLayer(544, 32)),
                        ("denselayer3", DenseLayer(576, 32)),
                        ("denselayer4", DenseLayer(608, 32)),
                        ("denselayer5", DenseLayer(640, 32)),
                        ("denselayer6", DenseLayer(672, 32)),
                        ("denselayer7", DenseLayer(704, 32)),
                        ("denselayer8", DenseLayer(736, 32)),
                        ("denselayer9", DenseLayer(768, 32)),
                        ("denselayer10", DenseLayer(800, 32)),
                        ("denselayer11", DenseLayer(832, 32)),
                        ("denselayer12", DenseLayer(864, 32)),
                        ("denselayer13", DenseLayer(896, 32)),
                        ("denselayer14", DenseLayer(928, 32)),
                        ("denselayer15", DenseLayer(960, 32)),
                        ("denselayer16", DenseLayer(992, 32)),
                    ]))),
                ("norm5", nn.BatchNorm2d(1024)),
            ]))
        self.relu1 = nn.ReLU(inplace=True)  # specs/densenet121.yaml:19:3
        self.avgpool1 = nn.AdaptiveAvgPool2d((1, 1))  # specs/densenet121.yaml:19:10
        self.classifier = nn.Linear(1024, 1000)  # specs/densenet121.yaml:19:16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # 1024x7x7
        x = self.relu1(x)  # 1024x7x7
        x = self.avgpool1(x)  # 1024x1x1
        x = self.classifier(torch.flatten(x, 1))  # 1000
        return x
