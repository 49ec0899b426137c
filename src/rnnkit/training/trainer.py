"""The one training loop: ``fit(model, task, settings)``, for every task.

The loop reads like the algorithm: batch → detach state → forward → loss → backward →
clip → step (→ average) → log, with a validation every ``eval_every`` steps or
``eval_every_epochs`` epochs and once more where the run stops. What varies by task (its
batches, loss, figures, tables) comes from a :class:`~rnnkit.training.task.Task`; the loop
knows none. Everything a resumed run needs (optimizer, schedule, RNG, place in the epoch,
carried state, weight average, the task's own generators) is saved with each checkpoint
(:mod:`rnnkit.training.resume`), so N steps in one go and N/2 + resume N/2 end with
identical parameters on CPU.

The caller claims the run folder (:mod:`rnnkit.training.run_folder`). A resume must keep
the settings the saved state depends on (:mod:`rnnkit.training.resume_check`); Ctrl-C saves
``latest`` at the next step boundary (:mod:`rnnkit.training.interrupt`). Under ``torchrun``
the same loop runs in every process on the task's share of each batch
(:mod:`rnnkit.training.distributed`); rank 0 alone writes checkpoints, logs and progress,
and every decision (stop, divergence, best checkpoint) is taken from figures all ranks share.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

from torch import nn

from rnnkit.engine.denormals import flushed_denormals
from rnnkit.layers.state import detach_state
from rnnkit.training.clipping import clip_gradients
from rnnkit.training.config import TrainConfig
from rnnkit.training.distributed import start_distributed
from rnnkit.training.environment import run_environment
from rnnkit.training.interrupt import InterruptRequest, TrainingInterrupted, deferred_interrupt
from rnnkit.training.precision import carried_state
from rnnkit.training.prepare import prepare_run
from rnnkit.training.progress import Progress
from rnnkit.training.records import QuietRecords, RunRecords, records_for
from rnnkit.training.resume import save_run
from rnnkit.training.run import Run
from rnnkit.training.state import capture_rng_state, restore_rng_state
from rnnkit.training.stopping import (
    TrainingDivergedError,
    check_finite,
    stop_reason,
)
from rnnkit.training.task import Task

log = logging.getLogger(__name__)

# fit raises it; tasks and callers catch it here.
__all__ = ["FitResult", "StepFigures", "TrainingDivergedError", "fit", "train_step",
           "training_loop"]

Records = RunRecords | QuietRecords  # rank 0 records; the other ranks stay quiet


class StepFigures(NamedTuple):
    """What one training step measured: this rank's loss, the count over all ranks it
    averages (tokens, examples), the gradient norm before and after clipping."""

    loss: float
    count: int
    grad_norm: float
    clipped_norm: float


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit` returns: where the run stopped, why, and its figures."""

    steps: int
    epochs: int
    tokens: int
    elapsed_s: float
    stop_reason: str
    figures: dict[str, float]  # the last validation's (the closing one, for a task with one)
    history: list[dict[str, Any]]  # every validation: epoch, trained_s, lr and the figures
    environment: dict[str, Any]  # threads, precision, versions, commit (run_environment)


def fit(model: nn.Module, task: Task, settings: TrainConfig) -> FitResult:
    """Train ``model`` on ``task`` as ``settings`` says; returns its figures.

    Call inside :func:`~rnnkit.training.run_folder.claim_run_folder` of ``settings.out_dir``
    after :func:`~rnnkit.training.prepare.start_training`. Checkpoints ``latest`` at every
    validation and ``best`` whenever ``task.error`` of the figures is the lowest yet; with
    ``average_decay`` the averaged weights are validated and saved, and copied into
    ``model`` at the end. Raises :class:`TrainingDivergedError` if the loss or gradients
    stop being finite (the last good checkpoint stays);
    :class:`~rnnkit.training.interrupt.TrainingInterrupted` after Ctrl-C,
    once ``latest`` is saved. Under torchrun the process group is joined at the first run
    and left when the process exits, so several runs can follow one another. With
    ``settings.flush_denormals`` every CPU thread flushes denormal floats from the first
    measurement to the closing validation, and treats them as before afterwards.
    """
    with flushed_denormals(settings.flush_denormals):
        return _fit(model, task, settings)


def _fit(model: nn.Module, task: Task, settings: TrainConfig) -> FitResult:
    distributed, _ = start_distributed(next(model.parameters()).device)
    run = prepare_run(model, task, settings, distributed)
    records = records_for(run)
    try:
        stop_reason = training_loop(run, records)
        figures = closing_validation(run, records)
        report = task.closing_report(run.judged) if run.distributed.is_main else ""
        if report:
            records.write(report)
    finally:
        records.close()
    if run.averaged is not None:
        model.load_state_dict(run.judged.state_dict())
    run.distributed.barrier()  # end together: rank 0 may still be writing its report
    progress = run.progress
    return FitResult(progress.step, progress.epoch, progress.tokens, progress.elapsed_s,
                     stop_reason, figures, run.history,
                     run_environment(run.precision.precision, run.device))


def training_loop(run: Run, records: Records) -> str:
    """Train until a bound is reached; returns why it stopped. Ctrl-C stops at the next
    step boundary, after saving ``latest`` (:class:`TrainingInterrupted`). Denormals are
    flushed as ``run.settings.flush_denormals`` says (:func:`fit` does it already)."""
    with (flushed_denormals(run.settings.flush_denormals),
          deferred_interrupt(enabled=not run.distributed.enabled) as interrupt):
        return _train_until_stop(run, records, interrupt)


def _train_until_stop(run: Run, records: Records, interrupt: InterruptRequest) -> str:
    settings, progress = run.settings, run.progress
    batches = run.task.batches(progress.epoch)
    interval_tokens, interval_seconds = 0, 0.0
    while (reason := stop_reason(settings, progress)) is None:
        _stop_if_interrupted(run, interrupt)
        if progress.batch == len(batches):
            _end_epoch(run, records)
            batches = run.task.batches(progress.epoch)
            continue
        step_start = time.perf_counter()
        figures = train_step(run, batches[progress.batch])
        run.step_lr = run.schedule.lr
        run.schedule.after_step()
        if run.averaged is not None:
            run.averaged.update_parameters(run.model)
        step_seconds = time.perf_counter() - step_start
        # Every rank must see the same clock, or max_time stops them at different steps.
        loss, step_seconds = run.distributed.mean([figures.loss, step_seconds], run.device)
        progress.step, progress.batch = progress.step + 1, progress.batch + 1
        progress.tokens += figures.count
        progress.elapsed_s += step_seconds
        interval_tokens += figures.count
        interval_seconds += step_seconds
        records.advance()
        if progress.step % settings.log_every == 0:
            records.log_train(_train_row(run, figures._replace(loss=loss),
                                         interval_tokens / interval_seconds))
            interval_tokens, interval_seconds = 0, 0.0
        if settings.eval_every is not None and progress.step % settings.eval_every == 0:
            scheduled_validation(run, records)
    return reason


def _end_epoch(run: Run, records: Records) -> None:
    """Start the next epoch from a fresh state; validate when the epoch count says so."""
    progress = run.progress
    progress.epoch, progress.batch, run.state = progress.epoch + 1, 0, None
    every = run.settings.eval_every_epochs
    if every is not None and progress.epoch % every == 0:
        scheduled_validation(run, records)


def _stop_if_interrupted(run: Run, interrupt: InterruptRequest) -> None:
    """After Ctrl-C, save ``latest`` at this step boundary and stop."""
    if not interrupt.requested:
        return
    save_run(run, "latest")
    out_dir = run.settings.out_dir
    message = (f"interrupted at step {run.progress.step}: saved latest in {out_dir}; "
               f"continue with --resume --out-dir {out_dir}")
    log.warning(message)
    raise TrainingInterrupted(message)


def train_step(run: Run, batch: Any) -> StepFigures:
    """One batch; returns what it measured (the gradient norms are the same on every rank:
    the gradients are averaged by then)."""
    run.model.train()
    with run.precision.autocast():
        step = run.task.loss(run.trained, batch, detach_state(run.state))
    run.state = carried_state(step.state, next(run.model.parameters()).dtype)
    loss, total = step.loss, step.count
    if run.distributed.enabled:
        # DDP averages the ranks' gradients; weighting each rank's mean by its share of the
        # count makes that the gradient of the mean over the whole batch.
        total = int(run.distributed.sum([step.count], run.device)[0])
        loss = loss * (step.count * run.distributed.world_size / total)
    run.optimizer.zero_grad(set_to_none=True)
    run.precision.backward(loss)
    if run.distributed.enabled and not run.task.forward_only:
        run.distributed.average_gradients(run.model)  # what DDP would have done
    run.precision.unscale(run.optimizer)
    grad_norm, clipped_norm = clip_gradients(run.model.parameters(),
                                             clip_norm=run.settings.clip_norm,
                                             clip_value=run.settings.clip_value)
    loss_value = float(step.loss.detach())
    check_finite(run, loss_value, grad_norm, clipped_norm)
    run.precision.step(run.optimizer)
    return StepFigures(loss_value, total, grad_norm, clipped_norm)


def scheduled_validation(run: Run, records: Records, *, final: bool = False,
                         steer: bool = True) -> dict[str, float]:
    """Validate, feed the schedule and early stopping, checkpoint best (if it is) and
    latest; returns the figures. Not ``steer`` (a validation off the schedule): the rate
    is left alone and the generators are given back what the validation drew."""
    progress = run.progress
    generators = None if steer else capture_rng_state()
    figures = run.task.validate(run.judged, final=final)
    if generators is not None:  # what a validation off the schedule draws is given back
        restore_rng_state(*generators)
    progress.validated_step = progress.step
    run.history.append({"epoch": progress.epoch + (progress.batch > 0),
                        "trained_s": round(progress.elapsed_s, 1),
                        "lr": run.schedule.lr if run.step_lr is None else run.step_lr,
                        **figures})
    records.log_validation(_validation_row(progress, figures),
                           run.task.describe(figures, final=final))
    error = run.task.error(figures)
    if steer:
        run.schedule.after_validation(error)
    improved = error < progress.best_error
    if improved:
        progress.best_error, progress.evals_since_best = error, 0
        save_run(run, "best")
    else:
        progress.evals_since_best += 1
    save_run(run, "latest")  # last, so that the newest save is always the one to resume
    return figures


def closing_validation(run: Run, records: Records) -> dict[str, float]:
    """The figures a run ends with. Where the run stopped between scheduled validations,
    it is validated there like on the schedule (final, for a task that measures more
    thoroughly at the end: ``task.validates_at_end``). Where it stopped on one, such a task
    measures once more and logs it; any other task ends with that validation's figures."""
    if run.progress.validated_step != run.progress.step:
        # Not on the schedule: a run stopped here and resumed later must take the same
        # steps as one that never stopped, so this validation leaves the rate alone.
        return scheduled_validation(run, records, final=run.task.validates_at_end,
                                    steer=False)
    if not run.task.validates_at_end:
        return {key: value for key, value in run.history[-1].items()
                if key in run.task.figure_names}
    figures = run.task.validate(run.judged, final=True)
    records.log_validation(_validation_row(run.progress, figures),
                           run.task.describe(figures, final=True))
    return figures


def _train_row(run: Run, figures: StepFigures, tokens_per_s: float) -> dict[str, Any]:
    progress = run.progress
    return {"step": progress.step, "epoch": progress.epoch, "tokens": progress.tokens,
            "elapsed_s": progress.elapsed_s, "lr": run.schedule.lr,
            "train_loss": figures.loss, "grad_norm": figures.grad_norm,
            "clipped_norm": figures.clipped_norm, "tokens_per_s": tokens_per_s}


def _validation_row(progress: Progress, figures: dict[str, float]) -> dict[str, Any]:
    return {"step": progress.step, "epoch": progress.epoch, "tokens": progress.tokens,
            "elapsed_s": progress.elapsed_s,
            **{f"val_{name}": value for name, value in figures.items()}}
