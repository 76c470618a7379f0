"""What `archdsl compile` and `Model.export()` can write: the one list of export formats.

Contract: constants only, importing nothing, so the CLI builds its argument parser from them
without importing torch or an exporter.
"""

FORMATS = ("py", "torchscript", "onnx", "export")
FORMAT_NAMES = {"py": "Python source", "torchscript": "TorchScript", "onnx": "ONNX",
                "export": "a torch.export program"}
SUFFIXES = {".py": "py", ".ts": "torchscript", ".torchscript": "torchscript",
            ".onnx": "onnx", ".pt2": "export"}
