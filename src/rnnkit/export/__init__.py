"""Export rnnkit layers and language models to ONNX or TorchScript, and check the result.

>>> import tempfile, pathlib, rnnkit
>>> layer = rnnkit.GRU(4, 8, batch_first=True, reset_after=False)
>>> path = export(layer, pathlib.Path(tempfile.mkdtemp()) / "gru.onnx", "onnx")
>>> verify_export(path, "onnx", exported_form(layer)).max_abs_difference < 1e-5
True
"""

from __future__ import annotations

import copy
from pathlib import Path

from torch import nn

from rnnkit.atomic import atomic_write_bytes
from rnnkit.export.signature import ExportedLanguageModel, ExportedLayer, exported_form
from rnnkit.export.verify import Verification, verify_export
from rnnkit.validation import check_choice

FORMATS = ("onnx", "torchscript")

__all__ = ["FORMATS", "ExportedLanguageModel", "ExportedLayer", "Verification", "export",
           "exported_form", "verify_export"]


def export(module: nn.Module, path: str | Path, file_format: str) -> Path:
    """Write ``module`` (a rnnkit layer or :class:`LanguageModel`) to ``path`` atomically.

    The file has the flat signature of :mod:`rnnkit.export.signature` with free batch and
    time axes and per-row lengths. Raises ``ValueError`` naming the option a format cannot
    express (``layer_norm`` in either; ``proj_size`` in ONNX; rnnkit's own kernels in
    TorchScript).
    """
    check_choice("export", "format", file_format, FORMATS)
    # A copy: the caller's module keeps its device, dtype and training mode.
    exported = exported_form(copy.deepcopy(module)).cpu().float().eval()
    if file_format == "onnx":
        from rnnkit.export.onnx_graph import build_onnx_model

        data = build_onnx_model(exported).SerializeToString()
    else:
        from rnnkit.export.torchscript import build_torchscript

        data = build_torchscript(exported)
    return atomic_write_bytes(path, data)
