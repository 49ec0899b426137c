"""Saving a run so that it resumes exactly, and putting it back.

A checkpoint holds the judged weights (the weight average when one is kept) as the model,
the task's configuration and tables, and, as trainer state: the optimizer, the schedule,
the precision's loss scale, every rank's RNG, the progress counters, the validation
history, the carried recurrent state of every row, the raw weights and the average (when
averaging) and the task's own state.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from torch import Tensor

from rnnkit.layers.state import RecurrentState, map_state
from rnnkit.training.checkpoint import (
    model_state_for_saving,
    restore_model_state,
    save_checkpoint,
)
from rnnkit.training.environment import run_environment, seed_everything
from rnnkit.training.progress import Progress
from rnnkit.training.run import Run
from rnnkit.training.state import (
    capture_rng_state,
    optimizer_state_from_safe,
    optimizer_state_to_safe,
    restore_rng_state,
    state_from_safe,
    state_to_safe,
)

log = logging.getLogger(__name__)


def save_run(run: Run, tag: str) -> None:
    """Write model, config, tables and everything needed to resume.

    Under torchrun every rank takes part (the carried state and the RNG states are gathered
    from all of them) and rank 0 writes; the replicas' weights and optimizer states are
    identical, so rank 0's stand for all.
    """
    state = _gathered_state(run)
    rng_states = run.distributed.gather_objects(capture_rng_state())
    if not run.distributed.is_main:
        return
    tensors, _ = model_state_for_saving(run.judged)  # the config says which weights are tied
    trainer_tensors, trainer_state = _trainer_state(run, rng_states)
    trainer_tensors.update(_prefixed("hidden.", _state_tensors(state)))
    save_checkpoint(Path(run.settings.out_dir), model_state=tensors,
                    config=run.task.saved_config(), vocab=run.task.saved_tables(),
                    trainer_tensors=trainer_tensors, trainer_state=trainer_state, tag=tag)


def _trainer_state(run: Run, rng_states: list[Any]) -> tuple[dict[str, Tensor], dict]:
    optimizer_tensors, optimizer_meta = optimizer_state_to_safe(run.optimizer.state_dict())
    task_tensors, task_meta = state_to_safe(run.task.state_dict())
    tensors = _prefixed("optimizer.", optimizer_tensors)
    tensors.update(_prefixed("task.", task_tensors))
    rng_tensors, rng_meta = rng_states[0]
    tensors.update(_prefixed("rng.", rng_tensors))
    for rank, (rank_tensors, _) in enumerate(rng_states[1:], start=1):
        tensors.update(_prefixed(f"rng_rank{rank}.", rank_tensors))
    if run.averaged is not None:
        tensors.update(_prefixed("weights.", model_state_for_saving(run.model)[0]))
        tensors.update(_prefixed("average.", {"n_averaged": run.averaged.n_averaged}))
    state = {"progress": asdict(run.progress), "optimizer": optimizer_meta,
             "rng": rng_meta, "rng_ranks": [meta for _, meta in rng_states[1:]],
             "schedule": run.schedule.state_dict(), "precision": run.precision.state_dict(),
             "history": run.history, "task": task_meta, "resumes": run.resumes,
             "environment": run_environment(run.precision.precision, run.device)}
    return tensors, state


def restore_run(run: Run, checkpoint: Any) -> None:
    """Put a run back exactly where ``checkpoint`` left it."""
    state = checkpoint.trainer_state
    tensors = checkpoint.trainer_tensors
    weights = _with_prefix(tensors, "weights.")
    restore_model_state(run.model, weights or checkpoint.model_state)
    if run.averaged is not None:
        _restore_average(run, checkpoint)
    run.optimizer.load_state_dict(optimizer_state_from_safe(_with_prefix(tensors, "optimizer."),
                                                            state["optimizer"]))
    run.schedule.load_state_dict(state["schedule"])
    run.precision.load_state_dict(state.get("precision", {}))
    run.progress = Progress.from_saved(state["progress"])
    run.history = list(state.get("history", []))
    run.resumes = list(state.get("resumes", []))
    if "task" in state:
        run.task.load_state_dict(state_from_safe(_with_prefix(tensors, "task."), state["task"]))
    carried = _state_from_tensors(_with_prefix(tensors, "hidden."), run.device)
    run.state = _rank_rows(run, carried)
    _restore_rank_rng(run, tensors, state)


def _restore_average(run: Run, checkpoint: Any) -> None:
    """The average's weights are the checkpoint's model; its count is trainer state. A
    checkpoint saved without averaging starts the average from the restored weights."""
    count = _with_prefix(checkpoint.trainer_tensors, "average.").get("n_averaged")
    if count is None:
        log.warning("checkpoint kept no weight average; the average starts afresh here")
        return
    restore_model_state(run.averaged.module, checkpoint.model_state)
    run.averaged.n_averaged.copy_(count)


def _gathered_state(run: Run) -> RecurrentState | None:
    """The carried state of every row, all ranks' rows joined (batch is dim 1)."""
    if not run.distributed.enabled:
        return run.state
    return map_state(run.state, lambda part: run.distributed.gather_rows(part, dim=1))


def _rank_rows(run: Run, state: RecurrentState | None) -> RecurrentState | None:
    """This rank's rows of a saved whole-batch state."""
    return map_state(state, lambda part: part[:, run.distributed.row_slice(part.shape[1])]
                     .contiguous())


def _restore_rank_rng(run: Run, tensors: dict[str, Tensor], state: dict[str, Any]) -> None:
    """Each rank takes back its own generators; a rank the checkpoint did not have (more
    processes than the saving run) starts from the run's seed plus its rank."""
    rank = run.distributed.rank
    if rank == 0:
        restore_rng_state(_with_prefix(tensors, "rng."), state["rng"])
        return
    metas = state.get("rng_ranks", [])
    if rank <= len(metas):
        restore_rng_state(_with_prefix(tensors, f"rng_rank{rank}."), metas[rank - 1])
        return
    log.warning("checkpoint has no RNG state for rank %d; seeding it afresh", rank)
    seed_everything(run.settings.seed + rank)


def _state_tensors(state: RecurrentState | None) -> dict[str, Tensor]:
    if state is None:
        return {}
    parts = state if isinstance(state, tuple) else (state,)
    return {str(i): part.detach().contiguous() for i, part in enumerate(parts)}


def _state_from_tensors(tensors: dict[str, Tensor], device: Any) -> Any:
    if not tensors:
        return None
    parts = tuple(tensors[str(i)].to(device) for i in range(len(tensors)))
    return parts if len(parts) > 1 else parts[0]


def _prefixed(prefix: str, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    return {f"{prefix}{key}": value for key, value in tensors.items()}


def _with_prefix(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
