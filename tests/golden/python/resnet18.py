"""ResNet18, compiled by archdsl 0.1.0 from the zoo spec resnet18.

Generated code: regenerate it with `archdsl compile` rather than editing it.
"""

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Block BasicBlock(planes, stride=1), specs/blocks/resnet.yaml:6:3."""

    def __init__(self, in_channels: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, planes, 3, stride=stride, padding=1, bias=False)  # specs/blocks/resnet.yaml:9:12
        self.bn1 = nn.BatchNorm2d(planes)  # specs/blocks/resnet.yaml:9:51
        self.relu1 = nn.ReLU(inplace=True)  # specs/blocks/resnet.yaml:9:60
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)  # specs/blocks/resnet.yaml:10:16
        self.bn2 = nn.BatchNorm2d(planes)  # specs/blocks/resnet.yaml:10:45
        self.downsample: nn.Module | None = None  # specs/blocks/resnet.yaml:11:12
        if stride != 1 or in_channels != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )
        self.relu2 = nn.ReLU(inplace=True)  # specs/blocks/resnet.yaml:12:9

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu1(out)
        out = self.conv2(out)
        out = self.bn2(out)
        identity = x
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        out = self.relu2(out)
        return out


class ResNet18(nn.Module):
    """ResNet18: 3x224x224 -> 1000, 11,689,512 parameters, 1,814,073,344 MACs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)  # specs/resnet18.arch:10:3
        self.bn1 = nn.BatchNorm2d(64)  # specs/resnet18.arch:10:33
        self.relu = nn.ReLU(inplace=True)  # specs/resnet18.arch:10:42
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)  # specs/resnet18.arch:10:54
        self.layer1 = nn.Sequential(
            BasicBlock(64, 64),
            BasicBlock(64, 64),
        )
        self.layer2 = nn.Sequential(
            BasicBlock(64, 128, stride=2),
            BasicBlock(128, 128),
        )
        self.layer3 = nn.Sequential(
            BasicBlock(128, 256, stride=2),
            BasicBlock(256, 256),
        )
        self.layer4 = nn.Sequential(
            BasicBlock(256, 512, stride=2),
            BasicBlock(512, 512),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))  # specs/resnet18.arch:15:3
        self.fc = nn.Linear(512, 1000)  # specs/resnet18.arch:15:17

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)  # 64x112x112
        x = self.bn1(x)  # 64x112x112
        x = self.relu(x)  # 64x112x112
        x = self.maxpool(x)  # 64x56x56
        x = self.layer1(x)  # 64x56x56
        x = self.layer2(x)  # 128x28x28
        x = self.layer3(x)  # 256x14x14
        x = self.layer4(x)  # 512x7x7
        x = self.avgpool(x)  # 512x1x1
        x = self.fc(torch.flatten(x, 1))  # 1000
        return x
