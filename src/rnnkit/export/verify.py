"""Run an exported file and compare it with the eager model it came from."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnnkit.export.signature import Exported, require

# (batch, time, lengths): ragged and full batches, a single step, and shapes other than
# the example a TorchScript trace saw.
CASES = ((3, 7, (7, 2, 5)), (1, 1, (1,)), (4, 12, (12, 12, 12, 12)), (5, 4, (4, 1, 3, 2, 4)))


@dataclass(frozen=True)
class Verification:
    """Largest absolute difference between the exported file's outputs and eager's."""

    max_abs_difference: float
    cases: int

    def to_dict(self) -> dict[str, float | int]:
        return {"max_abs_difference": self.max_abs_difference, "cases": self.cases}


def verify_export(path: str | Path, file_format: str, exported: Exported) -> Verification:
    """Run ``path`` (ONNX through onnxruntime, TorchScript through ``torch.jit.load``) on
    every case in :data:`CASES` and compare each output with ``exported`` in eager mode."""
    run = _onnx_runner(path) if file_format == "onnx" else _torchscript_runner(path)
    exported = copy.deepcopy(exported).cpu().float().eval()  # what export wrote: float32
    generator = torch.Generator().manual_seed(1)
    worst = 0.0
    for batch, time, lengths in CASES:
        inputs = exported.example_inputs(batch, time, list(lengths), generator)
        with torch.no_grad():
            expected = exported(*inputs)
        produced = run(exported.input_names(), inputs)
        for want, got in zip(expected, produced, strict=True):
            if tuple(got.shape) != tuple(want.shape):
                raise RuntimeError(f"exported {path} returned shape {tuple(got.shape)} where "
                                   f"the model returns {tuple(want.shape)}")
            worst = max(worst, float(np.abs(got - want.numpy()).max()))
    return Verification(worst, len(CASES))


def _onnx_runner(path: str | Path):
    onnxruntime = require("onnxruntime")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(names: list[str], inputs: tuple[torch.Tensor, ...]) -> list[np.ndarray]:
        return session.run(None, {name: value.numpy() for name, value in
                                  zip(names, inputs, strict=True)})

    return run


def _torchscript_runner(path: str | Path):
    module = torch.jit.load(str(path), map_location="cpu")

    def run(names: list[str], inputs: tuple[torch.Tensor, ...]) -> list[np.ndarray]:
        with torch.no_grad():
            return [output.numpy() for output in module(*inputs)]

    return run
