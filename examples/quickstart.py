"""Load a spec, read its figures, print the table, build a module and run it.

    python examples/quickstart.py
"""

import torch

import archdsl

# A bare string from the lecture notes, with the two settings it needs.
model = archdsl.load("Conv-ReLU-Pool-Conv-ReLU-Pool-FC-SM", input="1x28x28", classes=10)
print(model)  # one line: shapes, parameters, layers
print(f"parameters: {model.totals.params:,}, MACs: {model.totals.macs:,}")

for layer in model.layers():  # the per-layer figures
    print(f"  {layer.display:10} {layer.op.label(layer.ann.params, list(layer.ann.in_shapes), layer.ann.out_shape):22}"
          f" -> {'x'.join(map(str, layer.ann.out_shape)):10} params {layer.ann.param_count:>7,}")

net = model.build()  # a torch.nn.Module; the same weights every time (fixed default seed)
probabilities = net.eval()(torch.randn(4, 1, 28, 28))
print("output", tuple(probabilities.shape), "rows sum to", probabilities.sum(1).tolist())

# A file from the zoo works the same way, by path or by name.
alexnet = archdsl.load("specs/alexnet.arch")
print(f"AlexNet: {alexnet.summary()['activations']:,} activations (the notes' 781,736)")
