"""rnnkit's scan engine: fast recurrences for the cells torch's fused kernels do not know.

A layer-direction runs as one autograd node (:func:`rnnkit.engine.scan.scan`) whose kernel
either comes from rnnkit's C++ extension (backend ``rnnkit-fused``: the loop over time and
fused gate math in C++, built on first use with torch's own tooling) or is written in torch
operators (backend ``rnnkit-scan``: any device, and the fallback where no compiler is found).
"""

from rnnkit.engine.native import (
    BACKEND_NATIVE,
    native_kernel,
    native_unavailable_reason,
)

__all__ = ["BACKEND_NATIVE", "native_kernel", "native_unavailable_reason"]
