"""The built module under the wrappers people train and serve with: torch.compile (whole graph,
no breaks, also with side outputs in training mode) and DistributedDataParallel (gloo, CPU,
world size 1 in this process)."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import archdsl

pytestmark = pytest.mark.slow  # torch.compile and DDP each take seconds

AUX = """
model AuxNet {
  input: 3x32x32
  classes: 10
  Conv(8, 3, p=1) - BN - ReLU - MPool(2)
  Aux:aux1[ GAP - FC(classes) ]
  Add[ Conv(16, 3, s=2, p=1) - BN - ReLU - Conv(16, 3, p=1) - BN, Shortcut ] - ReLU
  GAP - Dropout(0.2) - FC(classes)
}
"""


def test_torch_compile_captures_the_whole_forward():
    # fullgraph=True fails on any graph break; aot_eager runs dynamo and AOTAutograd without
    # inductor's C++ build, which takes minutes on a CI machine (the benchmark times inductor)
    net = archdsl.build("lenet5").eval()
    compiled = torch.compile(net, fullgraph=True, backend="aot_eager")
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), net(x))


def test_torch_compile_trains_a_model_with_side_outputs():
    eager, net = archdsl.build(AUX), archdsl.build(AUX)
    compiled = torch.compile(net, fullgraph=True, backend="aot_eager")
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    for model in (eager, compiled):
        torch.manual_seed(0)  # the same dropout mask
        out = model(x)
        loss = torch.nn.functional.cross_entropy(out.main, y) + \
            0.3 * torch.nn.functional.cross_entropy(out.aux1, y)
        loss.backward()
    for (name, a), b in zip(eager.named_parameters(), net.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, atol=1e-5, rtol=1e-4, msg=name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_wraps_and_trains_like_the_plain_module():
    plain, net = archdsl.build(AUX), archdsl.build(AUX)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0,
                            world_size=1)
    try:
        ddp = DistributedDataParallel(net)
        x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
        for model in (plain, ddp):
            torch.manual_seed(0)
            out = model(x)  # a NamedTuple (main, aux1) in training mode, through DDP too
            loss = torch.nn.functional.cross_entropy(out.main, y) + \
                0.3 * torch.nn.functional.cross_entropy(out.aux1, y)
            loss.backward()
        for (name, a), b in zip(plain.named_parameters(), net.parameters(), strict=True):
            torch.testing.assert_close(b.grad, a.grad, msg=name)
        ddp.eval()
        with torch.no_grad():
            torch.testing.assert_close(ddp(x), plain.eval()(x))
    finally:
        dist.destroy_process_group()
