"""rnnkit's C++ scan kernels (``csrc/``): built on first use, cached, optional.

The extension is compiled with torch's own tooling (``torch.utils.cpp_extension.load``,
which needs a C++ compiler and ninja) into torch's extension cache, once per machine and
torch version. It holds the LSTM (with peepholes), GRU (both resets), RNN and
layer-normalized LSTM and GRU loops for float32/float64 on CPU; other devices and dtypes,
and any machine where the build fails, use the torch-operator kernels, which compute the
same thing. ``RNNKIT_NATIVE=0`` turns it off.

Under CI (the ``CI`` environment variable set, as CI services do) the fallback is not
allowed to hide a broken build: :func:`ci_native_failure` says why the kernels are not
running where a C++ compiler exists, and the test session stops on it (tests/conftest.py).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import os
import platform
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import torch

from rnnkit.atomic import atomic_write_bytes
from rnnkit.engine.gru import GRUKernel
from rnnkit.engine.layernorm import LayerNormGRUKernel, LayerNormLSTMKernel
from rnnkit.engine.lstm import LSTMKernel
from rnnkit.engine.rnn import RNNKernel
from rnnkit.engine.scan import ScanKernel

BACKEND_NATIVE = "rnnkit-fused"
CSRC = Path(__file__).parent / "csrc"  # package data: the wheel carries it (pyproject.toml)
SOURCE_NAMES = ("module.cpp", "scan.cpp", "layernorm.cpp", "linear_scan.cpp", "step.cpp",
                "denormals.cpp")
SOURCES = [CSRC / name for name in SOURCE_NAMES]
NATIVE_DTYPES = (torch.float32, torch.float64)
# Release flags; -march=native is safe because the build happens on the machine that runs it.
# -ffast-math lets GCC call glibc's vector exp/tanh (libmvec, within 4 ulp), hence -lm.
# -fopenmp: where torch runs its intra-op threads on OpenMP, at::parallel_for is a header
# template that runs its body on one thread unless the code including it is built with
# OpenMP; with the flag the kernels' row loops use torch's intra-op threads. On Linux
# torch's own libgomp, already loaded, serves the calls (the same soname as GCC's); other
# platforms' compilers may lack the flag, and keep the serial loops.
OPENMP_FLAGS = (["-fopenmp"] if platform.system() == "Linux"
                and torch.backends.openmp.is_available() else [])
CFLAGS = ["-O3", "-march=native", "-ffast-math", *OPENMP_FLAGS]
LDFLAGS = ["-lm", *OPENMP_FLAGS]

logger = logging.getLogger(__name__)


def _extension_name(csrc: Path = CSRC) -> str:
    """``rnnkit_scan_<hash>``: one name per (CPU flags, sources, compiler flags, torch).

    -march=native code must not be loaded by a different CPU that shares the same extension
    cache (a home directory on a cluster), and two checkouts with different kernel sources
    must not rebuild over each other's build folder in turn: each keeps its own.
    """
    try:
        cpu = next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("flags"))
    except (OSError, StopIteration):
        cpu = platform.processor() or platform.machine()
    digest = hashlib.sha256()
    for part in (cpu, *CFLAGS, *LDFLAGS, torch.__version__):
        digest.update(part.encode() + b"\0")
    for source in sorted([csrc / name for name in SOURCE_NAMES] + _headers(csrc)):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return "rnnkit_scan_" + digest.hexdigest()[:16]


def _headers(csrc: Path = CSRC) -> list[Path]:
    """The headers the sources include: a change to one must rebuild as well."""
    return sorted(csrc.glob("*.h"))


def _build_directory(name: str) -> Path:
    """Where torch builds the extension: its usual cache, one folder per name."""
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or Path.home() / ".cache" / "torch_extensions"
    directory = Path(root) / name
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _stable_sources(build_directory: Path) -> list[str]:
    """Copies of the sources inside the build folder, so that the build commands do not
    depend on where this checkout lies: ninja rebuilds when a command changes, and two
    checkouts (or a wheel install) with the same sources would otherwise rebuild in turn."""
    copies = build_directory / "sources"
    copies.mkdir(exist_ok=True)
    for source in [*SOURCES, *_headers()]:
        copy = copies / source.name
        if not copy.is_file() or copy.read_bytes() != source.read_bytes():
            atomic_write_bytes(copy, source.read_bytes())
    return [str(copies / source.name) for source in SOURCES]


@functools.cache
def _build() -> tuple[ModuleType | None, str | None]:
    """Compile (or load the cached) extension; return it, or None and why not."""
    if os.environ.get("RNNKIT_NATIVE", "1") == "0":
        return None, "RNNKIT_NATIVE=0 turned the C++ kernels off"
    if shutil.which(os.environ.get("CXX", "c++")) is None:
        return None, "no C++ compiler was found to build the C++ kernels"
    try:
        from torch.utils.cpp_extension import load

        name = _extension_name()
        build_directory = _build_directory(name)
        module = load(name=name, sources=_stable_sources(build_directory),
                      build_directory=str(build_directory),
                      extra_cflags=CFLAGS, extra_ldflags=LDFLAGS, verbose=False)
    except (OSError, RuntimeError, ImportError, subprocess.CalledProcessError) as error:
        logger.warning("rnnkit: building the C++ scan kernels failed, using the torch-operator "
                       "kernels instead: %s", error)
        lines = str(error).splitlines() or [repr(error)]
        # The compiler's first error says more than torch's "Error building extension".
        first = next((line for line in lines if "error:" in line), lines[0])
        return None, f"building the C++ kernels failed: {first.strip()[:300]}"
    return module, None


def ci_is_set() -> bool:
    """Whether this runs under CI: ``CI`` set to anything but empty, ``0`` or ``false``."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def ci_native_failure() -> str | None:
    """Under CI with a C++ compiler present, one line saying why the C++ kernels are not
    running (their build failed, or ``RNNKIT_NATIVE=0`` turned them off); None when they
    built, when no compiler exists (the documented fallback) and outside CI. Builds them.

    Without the kernels, 56 of the 73 kernel tests skip and the rest pass on the fallback,
    so a broken kernel source would otherwise leave a run green.
    """
    if not ci_is_set() or shutil.which(os.environ.get("CXX", "c++")) is None:
        return None
    reason = _build()[1]
    if reason is None:
        return None
    return f"CI is set and a C++ compiler exists, but the C++ kernels are not running: {reason}"


def native_unavailable_reason(device: torch.device, dtype: torch.dtype | None = None
                              ) -> str | None:
    """Why the C++ kernels cannot run here, or None when they can. Builds them on first ask."""
    if device.type != "cpu":
        return f"the C++ kernels are CPU-only and the layer is on {device.type}"
    if dtype is not None and dtype not in NATIVE_DTYPES:
        return f"the C++ kernels take float32 and float64, not {dtype}"
    return _build()[1]


def native_kernel(kernel: ScanKernel) -> ScanKernel:
    """The C++ twin of ``kernel``, or ``kernel`` itself where there is none."""
    twin = {LSTMKernel: NativeLSTMKernel, GRUKernel: NativeGRUKernel,
            RNNKernel: NativeRNNKernel, LayerNormLSTMKernel: NativeLayerNormLSTMKernel,
            LayerNormGRUKernel: NativeLayerNormGRUKernel}.get(type(kernel))
    if twin is None:
        return kernel
    return twin(**{field.name: getattr(kernel, field.name) for field in dataclasses.fields(kernel)})


def native_extension() -> ModuleType:
    """The built extension; a ``RuntimeError`` saying why where there is none."""
    module, reason = _build()
    if module is None:
        raise RuntimeError(f"rnnkit's C++ kernels are unavailable: {reason}")
    return module


def lstm_gates_step_for(device: torch.device, dtype: torch.dtype
                        ) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]]:
    """One LSTM step from its summed gate pre-activations, for tensors of ``device`` and
    ``dtype``: a function of ``gates`` (batch, 4 * hidden), in torch's order i, f, g, o,
    and ``c_prev`` (batch, hidden) that gives ``h`` and ``c``.

    Chosen once, since a generation step calls it thousands of times on the same tensors:
    the C++ kernel where the kernels run (CPU, float32/float64), which overwrites ``gates``
    with the activated gates and returns ``[h, c]``, a list; else the torch-operator twin.
    The two agree to float rounding (tests/engine/test_lstm_gates_step.py).
    """
    if native_unavailable_reason(device, dtype) is None:
        return native_extension().lstm_gates_step
    return torch_lstm_gates_step


def torch_lstm_gates_step(gates: torch.Tensor, c_prev: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """The step :func:`lstm_gates_step_for` chooses where the C++ kernels do not run, in torch
    operators (``gates`` left as it was)."""
    input_gate, forget_gate, cell_gate, output_gate = gates.chunk(4, dim=1)
    c = torch.sigmoid(forget_gate) * c_prev + torch.sigmoid(input_gate) * torch.tanh(cell_gate)
    return torch.sigmoid(output_gate) * torch.tanh(c), c


class NativeLSTMKernel(LSTMKernel):
    """:class:`LSTMKernel` with both loops in C++."""

    def forward(self, xproj, state, params, mask, batch_sizes):
        hs, cs, acts = native_extension().lstm_forward(
            xproj.contiguous(), state[0], state[1], params[0], self._peepholes(params), mask,
            batch_sizes or [])
        return hs[1:], (hs[-1].clone(), cs[-1].clone()), (hs, cs, acts)

    def backward_loop(self, grad_output, grad_state, cs, acts, params, mask, batch_sizes):
        return native_extension().lstm_backward(grad_output, grad_state[0], grad_state[1], cs, acts,
                                          params[0], self._peepholes(params), mask,
                                          batch_sizes or [])

    def _peepholes(self, params):
        return torch.cat(params[1:]) if self.peephole else None


class NativeGRUKernel(GRUKernel):
    """:class:`GRUKernel` with both loops in C++."""

    def forward(self, xproj, state, params, mask, batch_sizes):
        bias_n = params[1].contiguous() if self.reset_after else None
        hs, acts, terms = native_extension().gru_forward(xproj.contiguous(), state[0], params[0],
                                                   bias_n, mask, batch_sizes or [])
        return hs[1:], (hs[-1].clone(),), (hs, acts, terms)

    def backward_loop(self, grad_output, grad_state, hs, acts, terms, params, mask,
                      batch_sizes):
        d_pre, d_rec, dh = native_extension().gru_backward(
            grad_output, grad_state[0], hs, acts, terms, params[0], self.reset_after, mask,
            batch_sizes or [])
        return d_pre, (d_rec if self.reset_after else None), dh


class NativeRNNKernel(RNNKernel):
    """:class:`RNNKernel` with the forward loop in C++ (its backward is three operators a
    step, which the torch-operator loop already runs at the speed of the matrix product)."""

    def forward(self, xproj, state, params, mask, batch_sizes):
        (hs,) = native_extension().rnn_forward(xproj.contiguous(), state[0], params[0],
                                         self.nonlinearity == "relu", mask, batch_sizes or [])
        return hs[1:], (hs[-1].clone(),), (hs,)


class NativeLayerNormLSTMKernel(LayerNormLSTMKernel):
    """:class:`LayerNormLSTMKernel` with both loops in C++; it saves the normalized values
    and 1/std instead of the raw products and folds dW_hh a chunk of steps at a time."""

    def forward(self, xproj, state, params, mask, batch_sizes):
        weight, gain_h, shift_h, gain_c, shift_c = params
        hs, cs, acts, rec_hat, cell_hat, rstd = native_extension().layer_norm_lstm_forward(
            xproj.contiguous(), state[0], state[1], weight, torch.stack((gain_h, shift_h)),
            torch.stack((gain_c, shift_c)), mask, batch_sizes or [])
        return hs[1:], (hs[-1].clone(), cs[-1].clone()), (hs, cs, acts, rec_hat, cell_hat,
                                                          rstd)

    def backward(self, grad_output, grad_state, saved, params, mask, batch_sizes):
        hs, cs, acts, rec_hat, cell_hat, rstd = saved
        weight, gain_h, shift_h, gain_c, shift_c = params
        extension = native_extension()
        d_pre, dh, dc, d_weight, d_norm_hh, d_norm_cell = extension.layer_norm_lstm_backward(
            grad_output, grad_state[0], grad_state[1], hs, cs, acts, rec_hat, cell_hat, rstd,
            weight, torch.stack((gain_h, shift_h)), torch.stack((gain_c, shift_c)), mask,
            batch_sizes or [])
        return d_pre, (dh, dc), (d_weight, *d_norm_hh, *d_norm_cell)


class NativeLayerNormGRUKernel(LayerNormGRUKernel):
    """:class:`LayerNormGRUKernel` with both loops in C++; it recomputes the candidate's
    recurrent term in the backward and folds dW_hh in a chunk of steps at a time, so
    neither needs a buffer for the whole sequence."""

    def forward(self, xproj, state, params, mask, batch_sizes):
        weight, gain, shift, bias_n = params
        hs, acts, rec_hat, rstd = native_extension().layer_norm_gru_forward(
            xproj.contiguous(), state[0], weight, torch.stack((gain, shift)),
            bias_n.contiguous(), mask, batch_sizes or [])
        return hs[1:], (hs[-1].clone(),), (hs, acts, rec_hat, rstd)

    def backward(self, grad_output, grad_state, saved, params, mask, batch_sizes):
        hs, acts, rec_hat, rstd = saved
        weight, gain, shift, bias_n = params
        d_pre, dh, d_weight, (d_gain, d_shift) = native_extension().layer_norm_gru_backward(
            grad_output, grad_state[0], hs, acts, rec_hat, rstd, weight,
            torch.stack((gain, shift)), bias_n.contiguous(), mask, batch_sizes or [])
        hidden = hs.shape[-1]
        return d_pre, (dh,), (d_weight, d_gain, d_shift, d_shift[2 * hidden :])
