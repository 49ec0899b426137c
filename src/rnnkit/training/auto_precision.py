"""``precision = "auto"``: the precision a run trains in, chosen by measuring it.

Whether bf16 autocast pays depends on the CPU (AVX-512 with bf16 instructions or not), the
model's shapes and the batch, so the run measures rather than guesses. Before the first
step, :func:`choose_precision` times a few training steps (forward, loss and backward; no
optimizer step, so the weights do not move) of the run's own model on its first batch in
fp32 and in each candidate (bf16, and fp16 on CUDA), and keeps the fastest candidate

- whose loss on that batch agrees with fp32's within ``LOSS_TOLERANCE`` (relative), and
- that is at least ``MIN_SPEEDUP`` times as fast as fp32 (a closer race is noise);

otherwise fp32. Every precision sees the same dropout masks (each probe starts from the
same generator states, and the run gets them back afterwards, so it draws what it would
have drawn without the probe). The carried recurrent state stays float32 whatever is chosen
(:func:`~rnnkit.training.precision.carried_state`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from rnnkit.layers.fused import cpu_bf16_unavailable
from rnnkit.training.precision import MixedPrecision
from rnnkit.training.task import Task

#: A candidate's first-batch loss may differ from fp32's by this fraction of it.
LOSS_TOLERANCE = 0.01
#: A candidate must be this many times as fast as fp32 to be chosen.
MIN_SPEEDUP = 1.05
#: Timed steps per precision, after one untimed warm-up step.
PROBE_STEPS = 3


@dataclass(frozen=True)
class PrecisionChoice:
    """What the probe measured and chose: seconds per step (median) and the first
    batch's loss per precision tried, and why a candidate was passed over."""

    chosen: str
    step_seconds: dict[str, float] = field(default_factory=dict)
    losses: dict[str, float] = field(default_factory=dict)
    passed_over: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for the run's log."""
        tried = ", ".join(f"{name} {seconds * 1e3:.1f} ms/step (loss {self.losses[name]:.4f})"
                          for name, seconds in self.step_seconds.items())
        reasons = "".join(f"; {name} not chosen: {why}" for name, why in
                          self.passed_over.items())
        return f"precision auto: {tried}; chose {self.chosen}{reasons}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, as saved with the run's checkpoints."""
        return asdict(self)


def candidates(device: torch.device) -> list[str]:
    """The low precisions worth timing on ``device``: bf16 where it runs natively (CUDA
    with bf16 support, or a CPU whose oneDNN recurrent kernels take bf16), fp16 on CUDA."""
    if device.type == "cuda":
        return [*(["bf16"] if torch.cuda.is_bf16_supported() else []), "fp16"]
    return [] if cpu_bf16_unavailable() else ["bf16"]


def choose_precision(
    loss_of: Callable[[], torch.Tensor],
    model: nn.Module,
    device: torch.device,
    *,
    tried: list[str] | None = None,
    steps: int = PROBE_STEPS,
) -> PrecisionChoice:
    """Time ``loss_of()`` (the run's loss on its first batch, a scalar tensor) and its
    backward under fp32 and each of ``tried`` (default: :func:`candidates`), and choose
    as the module docs say. Gradients of ``model`` are cleared after every step."""
    tried = candidates(device) if tried is None else tried
    step_seconds, losses = {}, {}
    for precision in ["fp32", *tried]:
        step_seconds[precision], losses[precision] = _probe(loss_of, model, device,
                                                            precision, steps)
    passed_over = {}
    for precision in tried:
        passed_over[precision] = _why_not(precision, step_seconds, losses)
    usable = [name for name in tried if not passed_over[name]]
    chosen = min(usable, key=step_seconds.__getitem__, default="fp32")
    return PrecisionChoice(chosen, step_seconds, losses,
                           {name: why for name, why in passed_over.items() if why})


def choose_task_precision(model: nn.Module, task: Task, device: torch.device
                          ) -> PrecisionChoice:
    """:func:`choose_precision` on ``task``'s loss of its first batch from a zero state,
    ``model`` in training mode (what a run measures before its first step)."""
    model.train()
    batch = task.batches(0)[0]
    return choose_precision(lambda: task.loss(model, batch, None).loss, model, device)


def _why_not(precision: str, step_seconds: dict[str, float], losses: dict[str, float]) -> str:
    """Why ``precision`` cannot be chosen, or "" when it can."""
    reference, loss = losses["fp32"], losses[precision]
    if not abs(loss - reference) <= LOSS_TOLERANCE * abs(reference):
        return (f"its loss {loss:.4f} differs from fp32's {reference:.4f} by more than "
                f"{LOSS_TOLERANCE:.0%}")
    speedup = step_seconds["fp32"] / step_seconds[precision]
    if speedup < MIN_SPEEDUP:
        return f"{speedup:.2f}x fp32's speed, below {MIN_SPEEDUP}x"
    return ""


def _probe(loss_of: Callable[[], torch.Tensor], model: nn.Module, device: torch.device,
           precision: str, steps: int) -> tuple[float, float]:
    """Median seconds of a forward and backward under ``precision``, and the last loss.
    The generators are forked: every precision draws the same dropout masks, and the run
    gets its generators back as they were."""
    mixed = MixedPrecision(precision, device)
    devices = [device] if device.type == "cuda" else []
    seconds, loss = [], float("nan")
    with torch.random.fork_rng(devices=devices):
        for step in range(steps + 1):  # the first step warms caches and kernels up
            start = time.perf_counter()
            with mixed.autocast():
                value = loss_of()
            value.backward()
            _synchronize(device)
            if step > 0:
                seconds.append(time.perf_counter() - start)
            loss = float(value.detach())
            model.zero_grad(set_to_none=True)
    return statistics.median(seconds), loss


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
