"""Compile a spec to a Python file, import it, and train it for a few steps on synthetic data.

    python examples/train_synthetic.py [--steps 20]

The data are random images whose label is which quadrant is brightest, so the loss can fall.
"""

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

import torch

import archdsl

SPEC = """
model Small {
  input: 1x32x32
  classes: 4
  Conv(16, 3, p=1) - BN - ReLU - MPool
  Conv(32, 3, p=1) - BN - ReLU - MPool
  GAP - FC(classes)
}
"""


def synthetic_batch(n: int, generator: torch.Generator):
    images = torch.rand(n, 1, 32, 32, generator=generator) * 0.2
    labels = torch.randint(0, 4, (n,), generator=generator)
    for i, label in enumerate(labels.tolist()):
        row, col = divmod(label, 2)
        images[i, 0, row * 16:(row + 1) * 16, col * 16:(col + 1) * 16] += 0.8
    return images, labels


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()

    out = Path(tempfile.mkdtemp()) / "small.py"
    out.write_text(archdsl.compile(SPEC))  # standalone source: imports torch only
    spec = importlib.util.spec_from_file_location("small", out)
    module = importlib.util.module_from_spec(spec)
    sys.modules["small"] = module
    spec.loader.exec_module(module)

    torch.manual_seed(0)
    net = module.Small()
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for step in range(args.steps):
        images, labels = synthetic_batch(32, generator)
        loss = torch.nn.functional.cross_entropy(net(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % 10 == 0:
            print(f"step {step:3d}  loss {loss.item():.3f}")
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    print(f"mean loss of the first 5 steps {first:.3f}, of the last 5 {last:.3f}")


if __name__ == "__main__":
    main()
