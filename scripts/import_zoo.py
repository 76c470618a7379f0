"""Import torchvision's 68 convolutional classifiers and check each round trip (issue 18).

For each model: `spec_from_torch` -> spec text -> `archdsl.build(text)`, which must load the
original's state_dict with strict=True and give the same eval outputs (relative difference
< 1e-5 on a random batch, after randomising the original's weights and BatchNorm statistics so
that a wrong network cannot pass by chance). Prints `OK name lines` or `FAIL name: why` per
model and a total; `--out DIR` keeps the specs. Needs torchvision (run from the repository:
`python scripts/import_zoo.py [NAME ...] [--size 128] [--out DIR]`).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
importlib.import_module("tv_shim")  # before torchvision: its op schemas with CPU torch
import torch  # noqa: E402
import torchvision  # noqa: E402
from randomised import KWARGS, randomise  # noqa: E402  (tests/: the zoo tests' randomisation)

import archdsl  # noqa: E402
from archdsl.importer import spec_from_torch  # noqa: E402

MODELS = """alexnet convnext_base convnext_large convnext_small convnext_tiny densenet121
densenet161 densenet169 densenet201 efficientnet_b0 efficientnet_b1 efficientnet_b2 efficientnet_b3
efficientnet_b4 efficientnet_b5 efficientnet_b6 efficientnet_b7 efficientnet_v2_l efficientnet_v2_m
efficientnet_v2_s googlenet inception_v3 mnasnet0_5 mnasnet0_75 mnasnet1_0 mnasnet1_3 mobilenet_v2
mobilenet_v3_large mobilenet_v3_small regnet_x_16gf regnet_x_1_6gf regnet_x_32gf regnet_x_3_2gf
regnet_x_400mf regnet_x_800mf regnet_x_8gf regnet_y_128gf regnet_y_16gf regnet_y_1_6gf
regnet_y_32gf regnet_y_3_2gf regnet_y_400mf regnet_y_800mf regnet_y_8gf resnet101 resnet152
resnet18 resnet34 resnet50 resnext101_32x8d resnext101_64x4d resnext50_32x4d shufflenet_v2_x0_5
shufflenet_v2_x1_0 shufflenet_v2_x1_5 shufflenet_v2_x2_0 squeezenet1_0 squeezenet1_1 vgg11 vgg11_bn
vgg13 vgg13_bn vgg16 vgg16_bn vgg19 vgg19_bn wide_resnet101_2 wide_resnet50_2""".split()
MIN_SIZE = {"inception_v3": 299}
SPECS = Path(__file__).resolve().parents[1] / "specs"
ZOO_NAME = {"alexnet": "alexnet_torchvision"}  # the zoo's `alexnet` is the lecture notes'


def zoo_lines(name: str) -> int | None:
    """Lines of the zoo's hand-written spec and the block files it uses."""
    path = next((p for p in (SPECS / f"{ZOO_NAME.get(name, name)}{ext}" for ext in
                             (".arch", ".yaml")) if p.exists()), None)
    if path is None:
        return None
    text = path.read_text()
    used = re.findall(r'^use "(.+)"', text, re.M) + re.findall(r"^use: \[(.+)\]", text, re.M)
    files = [u.strip() for group in used for u in group.split(",")]
    return len(text.splitlines()) + sum(len((SPECS / f).read_text().splitlines()) for f in files)


def check(name: str, size: int, out: Path | None) -> str:
    size = max(size, MIN_SIZE.get(name, 0))
    torch.manual_seed(0)
    ref = torchvision.models.get_model(name, weights=None, **KWARGS.get(name, {}))
    spec = spec_from_torch(ref, (3, size, size), origin=f"torchvision.models:{name}")
    if out:
        (out / f"{name}.arch").write_text(spec.text)
    net = archdsl.build(spec.text)
    randomise(ref, torch.Generator().manual_seed(1), size)
    net.load_state_dict(ref.state_dict(), strict=True)
    net.eval()
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        a, b = ref(x), net(x)
    a, b = (a[0] if isinstance(a, tuple) else a), (b[0] if isinstance(b, tuple) else b)
    rel = ((a - b).abs().max() / a.abs().max()).item()
    if rel >= 1e-5:
        raise AssertionError(f"outputs differ: {rel:.1e}")
    lines, zoo = len(spec.text.splitlines()), zoo_lines(name)
    return f"{lines} lines" + (f", the zoo's {zoo} with its blocks" if zoo else "") + \
        (f", {len(spec.opaque)} opaque" if spec.opaque else "")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=MODELS)
    parser.add_argument("--size", type=int, default=128, help="input height and width")
    parser.add_argument("--out", type=Path, help="write each spec there")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    ok = 0
    for name in args.names:
        t0 = time.perf_counter()
        try:
            what = check(name, args.size, args.out)
            ok += 1
            print(f"OK   {name} ({what}, {time.perf_counter() - t0:.1f} s)", flush=True)
        except Exception as e:  # noqa: BLE001  (a report per model)
            msg = (str(e).strip().splitlines() or [""])[-1][:200]
            print(f"FAIL {name}: {type(e).__name__}: {msg}", flush=True)
        gc.collect()
    print(f"{ok}/{len(args.names)} round-trip exactly")
    return 0 if ok == len(args.names) else 1


if __name__ == "__main__":
    sys.exit(main())
