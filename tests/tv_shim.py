"""Make the registry's CUDA build of torchvision importable with CPU torch.

That torchvision registers kernels for `torchvision::nms`/`qnms` whose schemas its missing C++
extension would define; defining the two schemas first lets `import torchvision` succeed. The
models (all this project uses) work. Imported by tests/conftest.py and the benchmarks.
"""

import torch

try:
    _LIB = torch.library.Library("torchvision", "DEF")
    _LIB.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIB.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
except RuntimeError:  # already defined (a real torchvision build, or imported twice)
    pass
