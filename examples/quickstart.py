"""Load a spec, read its figures, print the table, build a module and run it: public API only.

    python examples/quickstart.py
"""

import torch

import archdsl

# A bare string from the lecture notes, with the two settings it needs.
model = archdsl.load("Conv-ReLU-Pool-Conv-ReLU-Pool-FC-SM", input="1x28x28", classes=10)
print(model)  # one line: shapes, parameters, layers
print(f"parameters: {model.totals.params:,}, MACs: {model.totals.macs:,}")

# The per-layer table, as `archdsl summary` prints it; `depth=` and `columns=` as torchinfo's.
model.print_summary(columns=["layer", "kind", "kernel", "output", "params", "macs"])

net = model.build()  # a torch.nn.Module; the same weights every time (fixed default seed)
probabilities = net.eval()(torch.randn(4, 1, 28, 28))
print("output", tuple(probabilities.shape), "rows sum to", probabilities.sum(1).tolist())

# A file from the zoo works the same way, by path or by name; the figures as a dict too.
alexnet = archdsl.load("specs/alexnet.arch")
print(f"AlexNet: {alexnet.summary()['activations']:,} activations (the notes' 781,736)")

# The names timm and torchvision users type work: a ResNet-18 for 10 classes.
resnet = archdsl.load("resnet18", num_classes=10)
resnet.print_summary(depth=1, columns="layer,output,params")
print("zoo:", ", ".join(archdsl.zoo("resnet*")))
