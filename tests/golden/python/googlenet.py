"""GoogLeNet, compiled by archdsl 0.1.0 from the zoo spec googlenet.

Generated code: regenerate it with `archdsl compile` rather than editing it.
"""

from typing import NamedTuple

import torch
from torch import nn


class BasicConv(nn.Module):
    """Block BasicConv(c, k, s=1, p=0), specs/blocks/common.arch:5:7."""

    def __init__(self, in_channels: int, c: int, k: int, s: int = 1, p: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, c, k, stride=s, padding=p, bias=False)  # specs/blocks/common.arch:6:3
        self.bn = nn.BatchNorm2d(c, eps=0.001)  # specs/blocks/common.arch:6:31
        self.relu1 = nn.ReLU(inplace=True)  # specs/blocks/common.arch:6:50

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        x = self.bn(x)
        x = self.relu1(x)
        return x


class Inception(nn.Module):
    """Block Inception(c1, c3r, c3, c5r, c5, pp), specs/blocks/inception.arch:8:7."""

    def __init__(
        self,
        in_channels: int,
        c1: int,
        c3r: int,
        c3: int,
        c5r: int,
        c5: int,
        pp: int,
    ) -> None:
        super().__init__()
        self.branch1 = BasicConv(in_channels, c1, 1)  # specs/blocks/inception.arch:9:11
        self.branch2 = nn.Sequential(
            BasicConv(in_channels, c3r, 1),
            BasicConv(c3r, c3, 3, p=1),
        )
        self.branch3 = nn.Sequential(
            BasicConv(in_channels, c5r, 1),
            BasicConv(c5r, c5, 3, p=1),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
            BasicConv(in_channels, pp, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch1 = self.branch1(x)
        branch2 = self.branch2(x)
        branch3 = self.branch3(x)
        branch4 = self.branch4(x)
        out = torch.cat([branch1, branch2, branch3, branch4], 1)
        return out


class InceptionAux(nn.Module):
    """Block InceptionAux(classes, dropout=0.7), specs/blocks/inception.arch:17:7."""

    def __init__(self, in_channels: int, classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        self.avgpool1 = nn.AdaptiveAvgPool2d((4, 4))  # specs/blocks/inception.arch:18:3
        self.conv = BasicConv(in_channels, 128, 1)  # specs/blocks/inception.arch:18:27
        self.fc1 = nn.Linear(2048, 1024)  # specs/blocks/inception.arch:19:3
        self.relu1 = nn.ReLU(inplace=True)  # specs/blocks/inception.arch:19:18
        self.dropout1 = nn.Dropout(dropout)  # specs/blocks/inception.arch:19:25
        self.fc2 = nn.Linear(1024, classes)  # specs/blocks/inception.arch:19:44

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool1(x)
        x = self.conv(x)
        x = self.fc1(torch.flatten(x, 1))
        x = self.relu1(x)
        x = self.dropout1(x)
        x = self.fc2(x)
        return x


class GoogLeNetOutputs(NamedTuple):
    """The outputs of GoogLeNet, main first."""

    main: torch.Tensor
    aux2: torch.Tensor | None
    aux1: torch.Tensor | None


class GoogLeNet(nn.Module):
    """GoogLeNet: 3x224x224 -> 1000, 13,004,888 parameters, 1,506,748,416 MACs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = BasicConv(3, 64, 7, s=2, p=3)  # specs/googlenet.arch:14:3
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # specs/googlenet.arch:14:38
        self.conv2 = BasicConv(64, 64, 1)  # specs/googlenet.arch:15:3
        self.conv3 = BasicConv(64, 192, 3, p=1)  # specs/googlenet.arch:15:28
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # specs/googlenet.arch:15:59
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)  # specs/googlenet.arch:17:3
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)  # specs/googlenet.arch:18:3
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # specs/googlenet.arch:19:3
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)  # specs/googlenet.arch:20:3
        self.aux1 = InceptionAux(512, 1000)  # specs/googlenet.arch:21:13
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)  # specs/googlenet.arch:22:3
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)  # specs/googlenet.arch:23:3
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)  # specs/googlenet.arch:24:3
        self.aux2 = InceptionAux(528, 1000)  # specs/googlenet.arch:25:13
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)  # specs/googlenet.arch:26:3
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)  # specs/googlenet.arch:27:3
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)  # specs/googlenet.arch:28:3
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)  # specs/googlenet.arch:29:3
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))  # specs/googlenet.arch:30:3
        self.dropout = nn.Dropout(0.2)  # specs/googlenet.arch:30:17
        self.fc = nn.Linear(1024, 1000)  # specs/googlenet.arch:30:40
        self.all_outputs = False  # eval returns every output too when True

    def forward(self, x: torch.Tensor) -> GoogLeNetOutputs:
        aux2: torch.Tensor | None = None
        aux1: torch.Tensor | None = None
        x = self.conv1(x)  # 64x112x112
        x = self.maxpool1(x)  # 64x56x56
        x = self.conv2(x)  # 64x56x56
        x = self.conv3(x)  # 192x56x56
        x = self.maxpool2(x)  # 192x28x28
        x = self.inception3a(x)  # 256x28x28
        x = self.inception3b(x)  # 480x28x28
        x = self.maxpool3(x)  # 480x14x14
        x = self.inception4a(x)  # 512x14x14
        if self.training or self.all_outputs:
            aux1 = self.aux1(x)  # 1000
        x = self.inception4b(x)  # 512x14x14
        x = self.inception4c(x)  # 512x14x14
        x = self.inception4d(x)  # 528x14x14
        if self.training or self.all_outputs:
            aux2 = self.aux2(x)  # 1000
        x = self.inception4e(x)  # 832x14x14
        x = self.maxpool4(x)  # 832x7x7
        x = self.inception5a(x)  # 832x7x7
        x = self.inception5b(x)  # 1024x7x7
        x = self.avgpool(x)  # 1024x1x1
        x = self.dropout(x)  # 1024x1x1
        x = self.fc(torch.flatten(x, 1))  # 1000
        if torch.jit.is_scripting():
            return GoogLeNetOutputs(x, aux2, aux1)
        return self._eager_outputs(x, aux2, aux1)

    @torch.jit.unused
    def _eager_outputs(self, main, aux2, aux1) -> GoogLeNetOutputs:
        # torchvision's convention: eval mode returns the main output only
        if self.training or self.all_outputs:
            return GoogLeNetOutputs(main, aux2, aux1)
        return main  # type: ignore[return-value]
