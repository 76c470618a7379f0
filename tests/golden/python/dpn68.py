"""DPN68, compiled by archdsl 0.1.0 from the zoo spec dpn68.

Generated code: regenerate it with `archdsl compile` rather than editing it.
"""

from collections import OrderedDict

import torch
from torch import nn


class ConvBnAct(nn.Module):
    """Block ConvBnAct(c, k, s=1), specs/blocks/common.arch:10:7."""

    def __init__(self, in_channels: int, c: int, k: int, s: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, c, k, stride=s, padding=(k - 1) // 2, bias=False)  # specs/blocks/common.arch:11:3
        self.bn = nn.BatchNorm2d(c, eps=0.001)  # specs/blocks/common.arch:11:42
        self.relu1 = nn.ReLU(inplace=True)  # specs/blocks/common.arch:11:61

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        x = self.bn(x)
        x = self.relu1(x)
        return x


class BnActConv(nn.Module):
    """Block BnActConv(c, k, s=1, g=1), specs/blocks/common.arch:16:7."""

    def __init__(self, in_channels: int, c: int, k: int, s: int = 1, g: int = 1) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(in_channels, eps=0.001)  # specs/blocks/common.arch:17:3
        self.relu1 = nn.ReLU(inplace=True)  # specs/blocks/common.arch:17:22
        self.conv = nn.Conv2d(in_channels, c, k, stride=s, padding=(k + s - 2) // 2, groups=g, bias=False)  # specs/blocks/common.arch:17:29

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(x)
        x = self.relu1(x)
        x = self.conv(x)
        return x


class DualPathProj(nn.Module):
    """Block DualPathProj(r, bw, inc, groups, s), specs/blocks/dpn.yaml:23:3."""

    def __init__(self, in_channels: int, r: int, bw: int, inc: int, groups: int, s: int) -> None:
        super().__init__()
        self.bw = bw
        self.c1x1_w_s1 = BnActConv(in_channels, bw + 2 * inc, 1, s=s)  # specs/blocks/dpn.yaml:26:27
        self.c1x1_a = BnActConv(in_channels, r, 1)  # specs/blocks/dpn.yaml:27:30
        self.c3x3_b = BnActConv(r, r, 3, s=s, g=groups)  # specs/blocks/dpn.yaml:28:30
        self.c1x1_c = BnActConv(r, bw + inc, 1)  # specs/blocks/dpn.yaml:29:30

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1x1_w_s1 = self.c1x1_w_s1(x)
        x = self.c1x1_a(x)
        x = self.c3x3_b(x)
        x = self.c1x1_c(x)
        out = c1x1_w_s1[:, :self.bw]
        out_1 = c1x1_w_s1[:, self.bw:]
        out_2 = x[:, :self.bw]
        x = x[:, self.bw:]
        out = out + out_2
        out = torch.cat([out, out_1, x], 1)
        return out


class DualPath(nn.Module):
    """Block DualPath(r, bw, inc, groups), specs/blocks/dpn.yaml:8:3."""

    def __init__(self, in_channels: int, r: int, bw: int, inc: int, groups: int) -> None:
        super().__init__()
        self.bw = bw
        self.c1x1_a = BnActConv(in_channels, r, 1)  # specs/blocks/dpn.yaml:11:30
        self.c3x3_b = BnActConv(r, r, 3, g=groups)  # specs/blocks/dpn.yaml:12:30
        self.c1x1_c = BnActConv(r, bw + inc, 1)  # specs/blocks/dpn.yaml:13:30

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1x1_a = self.c1x1_a(x)
        c3x3_b = self.c3x3_b(c1x1_a)
        c1x1_c = self.c1x1_c(c3x3_b)
        out = x[:, :self.bw]
        x = x[:, self.bw:]
        out_1 = c1x1_c[:, :self.bw]
        out_2 = c1x1_c[:, self.bw:]
        out = out + out_1
        out = torch.cat([out, x, out_2], 1)
        return out


class DualPathProj2(nn.Module):
    """Block DualPathProj(r, bw, inc, groups, s), specs/blocks/dpn.yaml:23:3."""

    def __init__(self, in_channels: int, r: int, bw: int, inc: int, groups: int, s: int) -> None:
        super().__init__()
        self.bw = bw
        self.c1x1_w_s2 = BnActConv(in_channels, bw + 2 * inc, 1, s=s)  # specs/blocks/dpn.yaml:26:27
        self.c1x1_a = BnActConv(in_channels, r, 1)  # specs/blocks/dpn.yaml:27:30
        self.c3x3_b = BnActConv(r, r, 3, s=s, g=groups)  # specs/blocks/dpn.yaml:28:30
        self.c1x1_c = BnActConv(r, bw + inc, 1)  # specs/blocks/dpn.yaml:29:30

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1x1_w_s2 = self.c1x1_w_s2(x)
        x = self.c1x1_a(x)
        x = self.c3x3_b(x)
        x = self.c1x1_c(x)
        out = c1x1_w_s2[:, :self.bw]
        out_1 = c1x1_w_s2[:, self.bw:]
        out_2 = x[:, :self.bw]
        x = x[:, self.bw:]
        out = out + out_2
        out = torch.cat([out, out_1, x], 1)
        return out


class BnAct(nn.Module):
    """Block BnAct(), specs/blocks/common.arch:21:7."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(in_channels, eps=0.001)  # specs/blocks/common.arch:22:3
        self.relu1 = nn.ReLU(inplace=True)  # specs/blocks/common.arch:22:22

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(x)
        x = self.relu1(x)
        return x


class DPN68(nn.Module):
    """DPN68: 3x224x224 -> 1000, 12,611,602 parameters, 2,326,163,456 MACs."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
                ("conv1_1", ConvBnAct(3, 10, 3, s=2)),
                ("conv1_pool", nn.MaxPool2d(3, stride=2, padding=1)),
                ("conv2_1", DualPathProj(10, 128, 64, 16, 32, 1)),
                ("conv2_2", DualPath(112, 128, 64, 16, 32)),
                ("conv2_3", DualPath(128, 128, 64, 16, 32)),
                ("conv3_1", DualPathProj2(144, 256, 128, 32, 32, 2)),
                ("conv3_2", DualPath(224, 256, 128, 32, 32)),
                ("conv3_3", DualPath(256, 256, 128, 32, 32)),
                ("conv3_4", DualPath(288, 256, 128, 32, 32)),
                ("conv4_1", DualPathProj2(320, 512, 256, 32, 32, 2)),
                ("conv4_2", DualPath(352, 512, 256, 32, 32)),
                ("conv4_3", DualPath(384, 512, 256, 32, 32)),
                ("conv4_4", DualPath(416, 512, 256, 32, 32)),
                ("conv4_5", DualPath(448, 512, 256, 32, 32)),
                ("conv4_6", DualPath(480, 512, 256, 32, 32)),
                ("conv4_7", DualPath(512, 512, 256, 32, 32)),
                ("conv4_8", DualPath(544, 512, 256, 32, 32)),
                ("conv4_9", DualPath(576, 512, 256, 32, 32)),
                ("conv4_10", DualPath(608, 512, 256, 32, 32)),
                ("conv4_11", DualPath(640, 512, 256, 32, 32)),
                ("conv4_12", DualPath(672, 512, 256, 32, 32)),
                ("conv5_1", DualPathProj2(704, 1024, 512, 64, 32, 2)),
                ("conv5_2", DualPath(704, 1024, 512, 64, 32)),
                ("conv5_3", DualPath(768, 1024, 512, 64, 32)),
                ("conv5_bn_ac", BnAct(832)),
            ]))
        self.global_pool = nn.AdaptiveAvgPool2d((1, 1))  # specs/dpn68.arch:23:3
        self.classifier = nn.Conv2d(832, 1000, 1)  # specs/dpn68.arch:23:21
        self.flatten1 = nn.Flatten()  # specs/dpn68.arch:23:51

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # 832x7x7
        x = self.global_pool(x)  # 832x1x1
        x = self.classifier(x)  # 1000x1x1
        x = self.flatten1(x)  # 1000
        return x
