"""LeNet5, compiled by archdsl 0.1.0 from the zoo spec lenet5.

Generated code: regenerate it with `archdsl compile` rather than editing it.
"""

import torch
from torch import nn


class LeNet5(nn.Module):
    """LeNet5: 1x32x32 -> 10, 61,706 parameters, 416,520 MACs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)  # specs/lenet5.arch:9:3
        self.tanh1 = nn.Tanh()  # specs/lenet5.arch:9:18
        self.apool1 = nn.AvgPool2d(2, stride=2)  # specs/lenet5.arch:9:25
        self.conv2 = nn.Conv2d(6, 16, 5)  # specs/lenet5.arch:10:3
        self.tanh2 = nn.Tanh()  # specs/lenet5.arch:10:19
        self.apool2 = nn.AvgPool2d(2, stride=2)  # specs/lenet5.arch:10:26
        self.conv3 = nn.Conv2d(16, 120, 5)  # specs/lenet5.arch:11:3
        self.tanh3 = nn.Tanh()  # specs/lenet5.arch:11:20
        self.fc4 = nn.Linear(120, 84)  # specs/lenet5.arch:12:3
        self.tanh4 = nn.Tanh()  # specs/lenet5.arch:12:14
        self.fc5 = nn.Linear(84, 10)  # specs/lenet5.arch:13:3
        self.softmax1 = nn.Softmax(dim=1)  # specs/lenet5.arch:13:19

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)  # 6x28x28
        x = self.tanh1(x)  # 6x28x28
        x = self.apool1(x)  # 6x14x14
        x = self.conv2(x)  # 16x10x10
        x = self.tanh2(x)  # 16x10x10
        x = self.apool2(x)  # 16x5x5
        x = self.conv3(x)  # 120x1x1
        x = self.tanh3(x)  # 120x1x1
        x = self.fc4(torch.flatten(x, 1))  # 84
        x = self.tanh4(x)  # 84
        x = self.fc5(x)  # 10
        x = self.softmax1(x)  # 10
        return x
