"""AlexNet, compiled by archdsl 0.1.0 from the zoo spec alexnet.

Generated code: regenerate it with `archdsl compile` rather than editing it.
"""

import torch
from torch import nn


class AlexNet(nn.Module):
    """AlexNet: 3x224x224 -> 1000, 62,378,344 parameters, 1,135,256,096 MACs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, stride=4, padding=3)  # specs/alexnet.arch:11:3
        self.relu1 = nn.ReLU(inplace=True)  # specs/alexnet.arch:11:30
        self.pool1 = nn.MaxPool2d(3, stride=2)  # specs/alexnet.arch:11:37
        self.lrn1 = nn.LocalResponseNorm(5, k=2.0)  # specs/alexnet.arch:11:54
        self.conv2 = nn.Conv2d(96, 256, 5, padding=2)  # specs/alexnet.arch:12:3
        self.relu2 = nn.ReLU(inplace=True)  # specs/alexnet.arch:12:25
        self.pool2 = nn.MaxPool2d(3, stride=2)  # specs/alexnet.arch:12:32
        self.lrn2 = nn.LocalResponseNorm(5, k=2.0)  # specs/alexnet.arch:12:49
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)  # specs/alexnet.arch:13:3
        self.relu3 = nn.ReLU(inplace=True)  # specs/alexnet.arch:13:25
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1)  # specs/alexnet.arch:14:3
        self.relu4 = nn.ReLU(inplace=True)  # specs/alexnet.arch:14:25
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1)  # specs/alexnet.arch:15:3
        self.relu5 = nn.ReLU(inplace=True)  # specs/alexnet.arch:15:25
        self.pool5 = nn.MaxPool2d(3, stride=2)  # specs/alexnet.arch:15:32
        self.fc6 = nn.Linear(9216, 4096)  # specs/alexnet.arch:16:3
        self.relu6 = nn.ReLU(inplace=True)  # specs/alexnet.arch:16:16
        self.dropout1 = nn.Dropout()  # specs/alexnet.arch:16:23
        self.fc7 = nn.Linear(4096, 4096)  # specs/alexnet.arch:17:3
        self.relu7 = nn.ReLU(inplace=True)  # specs/alexnet.arch:17:16
        self.dropout2 = nn.Dropout()  # specs/alexnet.arch:17:23
        self.fc8 = nn.Linear(4096, 1000)  # specs/alexnet.arch:18:3
        self.softmax1 = nn.Softmax(dim=1)  # specs/alexnet.arch:18:19

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)  # 96x55x55
        x = self.relu1(x)  # 96x55x55
        x = self.pool1(x)  # 96x27x27
        x = self.lrn1(x)  # 96x27x27
        x = self.conv2(x)  # 256x27x27
        x = self.relu2(x)  # 256x27x27
        x = self.pool2(x)  # 256x13x13
        x = self.lrn2(x)  # 256x13x13
        x = self.conv3(x)  # 384x13x13
        x = self.relu3(x)  # 384x13x13
        x = self.conv4(x)  # 384x13x13
        x = self.relu4(x)  # 384x13x13
        x = self.conv5(x)  # 256x13x13
        x = self.relu5(x)  # 256x13x13
        x = self.pool5(x)  # 256x6x6
        x = self.fc6(torch.flatten(x, 1))  # 4096
        x = self.relu6(x)  # 4096
        x = self.dropout1(x)  # 4096
        x = self.fc7(x)  # 4096
        x = self.relu7(x)  # 4096
        x = self.dropout2(x)  # 4096
        x = self.fc8(x)  # 1000
        x = self.softmax1(x)  # 1000
        return x
