"""Data-parallel training over processes that ``torchrun`` starts (``torch.distributed``).

Each process (rank) trains a replica of the model on its own share of the batch's streams;
``DistributedDataParallel`` averages the gradients, so every replica takes the same step.
The streams are cut exactly as in one process (``batch_size`` rows of the text) and rank
``r`` of ``world`` takes the contiguous rows ``[r * batch / world, (r + 1) * batch / world)``:
truncated BPTT carries each row's state from window to window inside its rank, and the
gradient of the mean loss over all rows equals the single-process one, because every rank
holds the same number of tokens. Backends: gloo on CPU, NCCL on CUDA.

Launch with ``torchrun --nproc_per_node N -m rnnkit train ...`` (or ``rnnkit train --nproc
N``); without torchrun's environment everything here is a no-op for one process.
"""

from __future__ import annotations

import atexit
import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

log = logging.getLogger(__name__)

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class Distributed:
    """This process's place among the training processes (rank 0 of 1 when alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints, logs and the progress bar."""
        return self.rank == 0

    # --- collectives: every rank must call them at the same point ------------------------
    def mean(self, values: list[float], device: torch.device) -> list[float]:
        """The mean of ``values`` over ranks (elementwise); ``values`` when alone."""
        return [v / self.world_size for v in self.sum(values, device)]

    def sum(self, values: list[float], device: torch.device) -> list[float]:
        """The sum of ``values`` over ranks (elementwise), in float64."""
        if not self.enabled:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def main_values(self, values: list[float], device: torch.device) -> list[float]:
        """Rank 0's ``values`` on every rank (the others' count for nothing): one decision,
        such as a plan or a choice that each rank measured for itself, taken by all."""
        return self.sum(values if self.is_main else [0.0] * len(values), device)

    def gather_rows(self, tensor: Tensor, dim: int) -> Tensor:
        """Every rank's ``tensor`` joined along ``dim`` in rank order (the whole batch)."""
        if not self.enabled:
            return tensor
        parts = [torch.empty_like(tensor) for _ in range(self.world_size)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts, dim=dim)

    def gather_objects(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (a small picklable object made by rnnkit itself)."""
        if not self.enabled:
            return [value]
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return gathered

    def average_gradients(self, model: torch.nn.Module) -> None:
        """Replace every parameter's gradient by its mean over ranks, as DDP does, for a
        loss that calls more of the model than its forward (DDP only sees gradients of what
        went through its forward). Every rank runs the same code, so the parameters left
        without a gradient (unused this step) are the same everywhere and stay so: an
        optimizer skips them, as it does in one process."""
        for parameter in model.parameters():
            if parameter.grad is None:
                continue
            dist.all_reduce(parameter.grad)
            parameter.grad.div_(self.world_size)

    def barrier(self) -> None:
        """Wait until every rank gets here."""
        if self.enabled:
            dist.barrier()

    # --- this rank's share ---------------------------------------------------------------
    def row_slice(self, rows: int) -> slice:
        """This rank's contiguous block of ``rows`` rows (``rows`` divisible by the world)."""
        share = rows // self.world_size
        return slice(self.rank * share, (self.rank + 1) * share)


def launched_by_torchrun() -> bool:
    """True when torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK) is set."""
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def process_rank() -> int:
    """This process's rank as torchrun set it (0 without torchrun), before any group is
    joined: to know early whether this process is the one that writes."""
    return int(os.environ["RANK"]) if launched_by_torchrun() else 0


def start_distributed(device: torch.device) -> tuple[Distributed, torch.device]:
    """Join the process group torchrun set up; returns this rank and its device.

    On CUDA each rank takes the GPU of its local rank and the NCCL backend; on CPU, gloo.
    Without torchrun's environment: one process, ``device`` unchanged.
    """
    if not launched_by_torchrun():
        return Distributed(), device
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ["LOCAL_RANK"])
    if world == 1:
        return Distributed(), device
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
        # Joined once per process, left at exit: torchrun's rendezvous store keeps the
        # first group's addresses, so a group left and joined again under the same ranks
        # connects to them and fails. A second run in the process (train, then fine-tune)
        # reuses this one.
        atexit.register(_leave_process_group)
    log.debug("rank %d of %d on %s (%s)", rank, world, device, backend)
    return Distributed(rank, world, local_rank), device


EXIT_BARRIER_TIMEOUT = timedelta(seconds=30)


def _leave_process_group() -> None:
    if not dist.is_initialized():
        return
    # Every rank arrives before any tears the group down: one that closes its connections
    # while a peer is still at work (rank 0 saving the last checkpoint) can make Gloo abort
    # a process on its way out (seen once under CI load: "terminate called without an
    # active exception"). A peer that is gone must not keep this one from exiting, hence
    # gloo's barrier with a timeout.
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=EXIT_BARRIER_TIMEOUT)
        else:
            dist.barrier()
    except RuntimeError as error:
        log.warning("leaving the process group without every rank: %s", error)
    dist.destroy_process_group()


def check_divides(name: str, value: int, distributed: Distributed) -> None:
    """Raise unless ``value`` (a batch size) splits evenly over the processes."""
    if value % distributed.world_size:
        raise ValueError(
            f"{name}={value} does not divide over {distributed.world_size} processes: "
            f"every process needs the same number of streams; use a {name} that is a "
            f"multiple of {distributed.world_size}")
