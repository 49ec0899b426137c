"""rnnkit's C++ scan kernels: built on first use, cached, and optional."""

from __future__ import annotations

import torch

from rnnkit.engine.scan import ScanKernel

BACKEND_NATIVE = "rnnkit-fused"


def native_unavailable_reason(device: torch.device) -> str | None:
    """Why the C++ kernels cannot run on ``device``, or None when they can."""
    return "the C++ kernels are not built in this version"


def native_kernel(kernel: ScanKernel) -> ScanKernel:
    """The C++ twin of ``kernel``."""
    return kernel
