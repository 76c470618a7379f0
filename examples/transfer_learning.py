"""Transfer learning as the notes describe it: take a trained backbone, freeze it, train a new
head on your classes.

    python examples/transfer_learning.py [--steps 3]

With torchvision installed you would save its weights once:
    torch.save(torchvision.models.resnet18(weights="DEFAULT").state_dict(), "resnet18.pt")
This example has no network access, so it stands in a freshly built ResNet-18's weights for the
pretrained file; the names are the same, so the code is what you would run.
"""

import argparse
import tempfile
from pathlib import Path

import torch

import archdsl

BACKBONE = ["conv1", "bn1", "layer1", "layer2", "layer3", "layer4"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()

    weights = Path(tempfile.mkdtemp()) / "resnet18.pt"
    torch.save(archdsl.build("resnet18").state_dict(), weights)  # stands in for the real file

    model = archdsl.load("resnet18", freeze=BACKBONE, head="FC(2)", input="3x112x112")
    t = model.totals
    print(f"{t.params:,} parameters: {t.trainable:,} trainable, {t.frozen:,} frozen")

    net = model.build()
    skipped = archdsl.load_pretrained(net, weights)
    print("loaded all but", skipped)  # the new head keeps its fresh weights

    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.01)
    net.train()
    for step in range(args.steps):
        images, labels = torch.randn(8, 3, 112, 112), torch.randint(0, 2, (8,))
        loss = torch.nn.functional.cross_entropy(net(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        print(f"step {step}  loss {loss.item():.3f}")


if __name__ == "__main__":
    main()
