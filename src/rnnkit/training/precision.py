"""Mixed precision for training: autocast, the fp16 gradient scaler, and the carried state.

``fp32`` trains in float32 throughout. ``bf16`` and ``fp16`` run the forward pass and the
loss under ``torch.autocast``: matrix products (the embedding lookup excepted) run in the
low-precision type and the loss in float32, while the weights and the optimizer stay in
float32. ``fp16`` has five fewer exponent bits than float32, so small gradients underflow;
its gradients are scaled with ``torch.amp.GradScaler`` (a step whose gradients overflow is
skipped and the scale lowered), and the scale is saved with every checkpoint.

The recurrent state that truncated BPTT carries from one window to the next is stored in
float32 (the parameters' dtype): the next window's layer checks that its state matches its
input, and rnnkit's own scan kernels (peephole, layer norm, reset-before GRU), which turn
autocast off and compute in float32 (:meth:`rnnkit.layers.RecurrentLayer.forward`), carry
it from window to window without rounding. torch's fused kernels under autocast return
``(h, c)`` already rounded to bf16/fp16, once per window; benchmarks/carried_state_precision.py
measures what that rounding costs (docs/scaling.md).

Supported: ``bf16`` on every CPU and on CUDA devices with bfloat16 support; ``fp16`` on
CUDA only (torch's CPU LSTM kernel, oneDNN, has no float16 path). oneDNN's bfloat16
recurrent kernels need AVX-512; on a CPU without it the recurrent layers run on rnnkit's
own kernels in float32 under bf16 autocast (:func:`rnnkit.layers.fused.autocast_blocker`),
and only the other matrix products (embedding to output head, attention) run in bf16.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from rnnkit.layers.fused import cpu_bf16_unavailable
from rnnkit.layers.state import map_state

PRECISIONS = ("fp32", "bf16", "fp16")
#: What a config may ask for: a precision, or ``auto`` (measured at the start of the run:
#: :mod:`rnnkit.training.auto_precision`).
PRECISION_SETTINGS = ("auto", *PRECISIONS)
AUTOCAST_TYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision_supported(precision: str, device: torch.device) -> None:
    """Raise a ``ValueError`` naming the precision and device when they do not go together."""
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(
            f"precision='fp16' is not supported on {device.type}: torch's CPU recurrent "
            "kernels have no float16 path; use precision='bf16' on CPU, or fp16 on a CUDA "
            "device")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(
            f"precision='bf16' is not supported on {torch.cuda.get_device_name(device)} "
            "(bfloat16 needs compute capability 8.0 or newer); use precision='fp16'")


def precision_note(precision: str, device: torch.device) -> str | None:
    """A line for the run's log where ``precision`` runs but slower than fp32, or None."""
    if precision == "bf16" and device.type == "cpu" and (reason := cpu_bf16_unavailable()):
        return (f"precision='bf16': {reason}, so the recurrent layers run on rnnkit's "
                "kernels in float32 and only the other matrix products in bf16; here that is "
                "slower than precision='fp32' (about 0.5x on an AVX2 CPU, docs/scaling.md)")
    return None


class MixedPrecision:
    """Autocast and (for fp16) gradient scaling for one training run.

    The training step reads::

        with precision.autocast():
            loss = ...
        precision.backward(loss)
        precision.unscale(optimizer)   # before clipping, so the clip sees true gradients
        ...clip...
        precision.step(optimizer)      # skipped by the scaler when gradients overflowed
    """

    def __init__(self, precision: str, device: torch.device,
                 auto: dict[str, Any] | None = None) -> None:
        # Whether the device supports it is check_precision_supported's job (the trainer
        # calls it first); the scaler itself works on any device.
        self.precision = precision
        self.auto = auto  # what precision = "auto" measured, saved with the run
        self.device_type = device.type
        self.scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")

    @property
    def enabled(self) -> bool:
        """True for bf16 and fp16."""
        return self.precision in AUTOCAST_TYPES

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """The forward pass's context: autocast to bf16/fp16, or nothing for fp32."""
        if not self.enabled:
            yield
            return
        with torch.autocast(self.device_type, dtype=AUTOCAST_TYPES[self.precision]):
            yield

    def backward(self, loss: Tensor) -> None:
        """``loss.backward()``, with the loss scaled first under fp16."""
        self.scaler.scale(loss).backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Divide the gradients by the fp16 loss scale (no-op otherwise)."""
        if self.scaler.is_enabled():
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        """Take the optimizer step; returns False when fp16 overflow made the scaler skip it."""
        if not self.scaler.is_enabled():
            optimizer.step()
            return True
        scale_before = self.scaler.get_scale()
        self.scaler.step(optimizer)
        self.scaler.update()
        return self.scaler.get_scale() >= scale_before

    @property
    def tolerates_overflow(self) -> bool:
        """True when a non-finite gradient is a skipped step, not a diverged run (fp16)."""
        return self.scaler.is_enabled()

    def state_dict(self) -> dict[str, Any]:
        """The scaler's scale and growth counter (fp16), and what ``precision = "auto"``
        measured and chose (empty for a plain fp32 or bf16 run)."""
        saved: dict[str, Any] = {} if self.auto is None else {"auto": self.auto}
        if not self.scaler.is_enabled():
            return saved
        state = self.scaler.state_dict()
        return {**saved, "scale": float(state["scale"]),
                "growth_tracker": int(state["_growth_tracker"])}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        if self.scaler.is_enabled() and "scale" in state:
            full = self.scaler.state_dict()
            full.update(scale=state["scale"], _growth_tracker=state["growth_tracker"])
            self.scaler.load_state_dict(full)


def carried_state(state: Tensor | tuple[Tensor, ...] | None, dtype: torch.dtype) -> Any:
    """The carried recurrent state in the model's parameter ``dtype`` (see module docs)."""
    return map_state(state, lambda part: part.to(dtype))
