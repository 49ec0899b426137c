"""Training a language model with truncated backpropagation through time.

The loop reads like the algorithm: window → detach state → forward → loss → backward →
clip → step → log. Everything a resumed run needs (optimizer, schedule, RNG, data position,
carried hidden state) is saved with each checkpoint, so N steps in one go and N/2 + resume
N/2 end with identical parameters on CPU.

The run folder is claimed for the whole run (:mod:`rnnkit.training.run_folder`: one writer,
no silent overwrite); a resume must keep the settings the saved state depends on
(:mod:`rnnkit.training.resume_check`); Ctrl-C saves ``latest`` at the next step boundary
(:mod:`rnnkit.training.interrupt`).

Under ``torchrun`` the same loop runs in every process on its share of the streams
(:mod:`rnnkit.training.distributed`); rank 0 alone writes checkpoints, logs and progress,
and every decision (stop, divergence, best checkpoint) is taken from figures all ranks share.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from rnnkit.data.batching import get_window, make_streams, num_windows
from rnnkit.data.corpus import Corpus, load_corpus
from rnnkit.metrics.language import loss_report
from rnnkit.models.factory import build_language_model
from rnnkit.models.language_model import (
    RecurrentState,
    WithConditions,
    detach_state,
    map_state,
)
from rnnkit.training.checkpoint import (
    load_checkpoint,
    model_state_for_saving,
    restore_model_state,
    save_checkpoint,
)
from rnnkit.training.clipping import clip_gradients
from rnnkit.training.config import RunConfig, TrainConfig
from rnnkit.training.distributed import (
    Distributed,
    check_divides,
    process_rank,
    start_distributed,
    stop_distributed,
)
from rnnkit.training.interrupt import (
    InterruptRequest,
    TrainingInterrupted,
    deferred_interrupt,
)
from rnnkit.training.precision import (
    MixedPrecision,
    carried_state,
    check_precision_supported,
)
from rnnkit.training.records import QuietRecords, RunRecords
from rnnkit.training.resume_check import check_resumable, resume_record
from rnnkit.training.run_folder import claim_run_folder
from rnnkit.training.schedule import LearningRateSchedule
from rnnkit.training.state import (
    capture_rng_state,
    optimizer_state_from_safe,
    optimizer_state_to_safe,
    restore_rng_state,
)
from rnnkit.training.tasks import (
    LanguageModelingTask,
    evaluation_streams,
    stateful_loss_sums,
    target_tokens,
)

log = logging.getLogger(__name__)

Records = RunRecords | QuietRecords  # rank 0 records; the other ranks stay quiet


class TrainingDivergedError(RuntimeError):
    """Raised when the loss or the gradient stops being finite (or explodes)."""


@dataclass
class Progress:
    """Where a run is; saved in every checkpoint."""

    step: int = 0
    epoch: int = 0
    window: int = 0
    tokens: int = 0
    elapsed_s: float = 0.0
    best_val_loss: float = math.inf
    evals_since_best: int = 0


@dataclass(frozen=True)
class TrainResult:
    """What ``train`` returns: where the run stopped, why, and its last validation figures."""

    steps: int
    epochs: int
    tokens: int
    elapsed_s: float
    stop_reason: str
    val_loss: float
    val_perplexity: float
    val_bits_per_token: float
    checkpoint: str


@dataclass
class Run:
    """The live objects of a run, built by :func:`prepare_run`."""

    config: RunConfig
    corpus: Corpus
    model: nn.Module  # a LanguageModel or TransformerLanguageModel
    optimizer: torch.optim.Optimizer
    schedule: LearningRateSchedule
    streams: Tensor  # (batch / processes, steps): this process's training streams
    progress: Progress
    precision: MixedPrecision
    trained: nn.Module  # what the step calls: the model, or it wrapped by DDP and compile
    distributed: Distributed = field(default_factory=Distributed)
    hidden: RecurrentState | None = None
    resumes: list[dict[str, Any]] = field(default_factory=list)  # when and what changed


def train(config: RunConfig) -> TrainResult:
    """Train the language model ``config`` describes; returns its final figures.

    Raises :class:`TrainingDivergedError` if the loss or gradients stop being finite; the last
    good checkpoint stays in ``config.train.out_dir``. Raises
    :class:`~rnnkit.training.run_folder.RunFolderError` if another process trains in
    ``out_dir``, or if it holds a run and neither ``resume`` nor ``overwrite`` is set;
    :class:`~rnnkit.training.interrupt.TrainingInterrupted` after Ctrl-C, once ``latest``
    is saved.
    """
    settings = config.train
    with claim_run_folder(settings.out_dir, resume=settings.resume,
                          overwrite=settings.overwrite, main_process=process_rank() == 0):
        return _train_claimed(config)


def _train_claimed(config: RunConfig) -> TrainResult:
    """:func:`train` once this process holds the run folder."""
    run = prepare_run(config)
    try:
        records = _records_for(run)
        try:
            stop_reason = training_loop(run, records)
            report = validate(run)
            records.log_validation(_validation_row(run.progress, report), "whole split, final")
            save_run(run, "latest")
            if run.distributed.is_main:
                records.write(sample_after_training(run))
        finally:
            records.close()
        run.distributed.barrier()  # leave the group together: rank 0 may still be sampling
    finally:
        stop_distributed(run.distributed)
    out_dir = Path(run.config.train.out_dir)
    return TrainResult(
        steps=run.progress.step, epochs=run.progress.epoch, tokens=run.progress.tokens,
        elapsed_s=run.progress.elapsed_s, stop_reason=stop_reason, val_loss=report["loss"],
        val_perplexity=report["perplexity"], val_bits_per_token=report["bits_per_token"],
        checkpoint=str(out_dir),
    )


def prepare_run(config: RunConfig) -> Run:
    """Seed, load the data, build model, optimizer and schedule; restore them on resume.

    Under torchrun this also joins the process group, takes this rank's streams and wraps
    the model in ``DistributedDataParallel``.
    """
    settings = config.train
    if settings.threads:
        torch.set_num_threads(settings.threads)
    seed_everything(settings.seed)
    distributed, device = start_distributed(resolve_device(settings.device))
    try:
        return _build_run(config, distributed, device)
    except BaseException:
        stop_distributed(distributed)
        raise


def _build_run(config: RunConfig, distributed: Distributed, device: torch.device) -> Run:
    settings = config.train
    check_divides("batch_size", settings.batch_size, distributed)
    check_precision_supported(settings.precision, device)
    precision = MixedPrecision(settings.precision, device)
    resume_from = load_checkpoint(settings.out_dir) if settings.resume else None
    changes = None if resume_from is None else check_resumable(
        resume_from.config, config.to_dict(), settings.out_dir)
    corpus = load_corpus(config.data, vocab_dict=None if resume_from is None
                         else resume_from.vocab)
    config = replace(config, model=replace(config.model, vocab_size=len(corpus.vocab),
                                           condition_sizes=corpus.condition_sizes))
    model = build_language_model(config.model).to(device)
    if distributed.rank:
        seed_everything(settings.seed + distributed.rank)  # own dropout masks per rank
    optimizer = build_optimizer(model, settings)
    streams = make_streams(corpus.splits["train"], settings.batch_size)
    streams = streams[distributed.row_slice(settings.batch_size)].to(device)
    per_epoch = num_windows(streams, settings.seq_len)
    schedule = LearningRateSchedule(optimizer, settings, per_epoch,
                                    _planned_steps(settings, per_epoch))
    run = Run(config, corpus, model, optimizer, schedule, streams, Progress(), precision,
              trained=_trained_module(model, distributed, settings), distributed=distributed)
    if resume_from is not None:
        restore_run(run, resume_from)
        run.resumes.append(resume_record(run.progress.step, changes))
    return run


def _trained_module(model: nn.Module, distributed: Distributed,
                    settings: TrainConfig) -> nn.Module:
    """The module the training step calls: DDP around the model when several processes
    train, then ``torch.compile`` when asked (compiling the DDP module lets Dynamo split
    the graph at DDP's gradient buckets)."""
    trained = model
    if distributed.enabled:
        device = next(model.parameters()).device
        trained = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if not settings.compile:
        return trained
    backends = torch._dynamo.list_backends(exclude_tags=())
    if settings.compile_backend not in backends:
        raise ValueError(f"compile_backend={settings.compile_backend!r} is not a torch.compile "
                         f"backend; known: {', '.join(sorted(backends))}")
    return torch.compile(trained, backend=settings.compile_backend)


def _records_for(run: Run) -> Records:
    """Rank 0's progress bar, CSV log and TensorBoard; nothing on the other ranks."""
    settings = run.config.train
    if not run.distributed.is_main:
        return QuietRecords()
    return RunRecords(Path(settings.out_dir), total_steps=_total_steps(run),
                      start_step=run.progress.step, progress=settings.progress,
                      tensorboard=settings.tensorboard,
                      max_time_s=None if settings.max_time is None else settings.max_time * 60)


def training_loop(run: Run, records: Records) -> str:
    """Train until a bound is reached; returns why it stopped. Ctrl-C stops at the next
    step boundary, after saving ``latest`` (:class:`TrainingInterrupted`)."""
    with deferred_interrupt(enabled=not run.distributed.enabled) as interrupt:
        return _train_until_stop(run, records, interrupt)


def _train_until_stop(run: Run, records: Records, interrupt: InterruptRequest) -> str:
    settings, progress, task = run.config.train, run.progress, LanguageModelingTask()
    per_epoch = num_windows(run.streams, settings.seq_len)
    interval_tokens, interval_seconds = 0, 0.0
    while (reason := _stop_reason(settings, progress)) is None:
        _stop_if_interrupted(run, interrupt)
        if progress.window == per_epoch:
            progress.epoch, progress.window, run.hidden = progress.epoch + 1, 0, None
            continue
        step_start = time.perf_counter()
        inputs, targets = get_window(run.streams, progress.window, settings.seq_len)
        loss, grad_norm = train_step(run, task, inputs, targets)
        run.schedule.after_step()
        step_seconds = time.perf_counter() - step_start
        # Every rank must see the same clock, or max_time stops them at different steps.
        loss, step_seconds = run.distributed.mean([loss, step_seconds], run.streams.device)
        progress.step, progress.window = progress.step + 1, progress.window + 1
        tokens = target_tokens(targets).numel() * run.distributed.world_size
        progress.tokens += tokens
        progress.elapsed_s += step_seconds
        interval_tokens += tokens
        interval_seconds += step_seconds
        records.advance()
        if progress.step % settings.log_every == 0:
            records.log_train(_train_row(run, loss, grad_norm, interval_tokens / interval_seconds))
            interval_tokens, interval_seconds = 0, 0.0
        if progress.step % settings.eval_every == 0:
            scheduled_validation(run, records)
    return reason


def _stop_if_interrupted(run: Run, interrupt: InterruptRequest) -> None:
    """After Ctrl-C, save ``latest`` at this step boundary and stop."""
    if not interrupt.requested:
        return
    save_run(run, "latest")
    out_dir = run.config.train.out_dir
    message = (f"interrupted at step {run.progress.step}: saved latest in {out_dir}; "
               f"continue with --resume --out-dir {out_dir}")
    log.warning(message)
    raise TrainingInterrupted(message)


def train_step(
    run: Run, task: LanguageModelingTask, inputs: Tensor, targets: Tensor
) -> tuple[float, float]:
    """One truncated-BPTT window; returns this rank's loss and the gradient norm before
    clipping (the same on every rank: DDP has averaged the gradients by then)."""
    settings = run.config.train
    run.model.train()
    with run.precision.autocast():
        logits, hidden = run.trained(inputs, detach_state(run.hidden))
        loss = task.loss(logits, targets)
    run.hidden = carried_state(hidden, next(run.model.parameters()).dtype)
    run.optimizer.zero_grad(set_to_none=True)
    run.precision.backward(loss)
    run.precision.unscale(run.optimizer)
    grad_norm, _ = clip_gradients(run.model.parameters(), clip_norm=settings.clip_norm,
                                  clip_value=settings.clip_value)
    loss_value = float(loss.detach())
    check_finite(run, loss_value, grad_norm)
    run.precision.step(run.optimizer)
    return loss_value, grad_norm


def check_finite(run: Run, loss: float, grad_norm: float) -> None:
    """Stop before a bad update reaches the weights; name the last good checkpoint."""
    threshold = run.config.train.explode_factor * math.log(run.config.model.vocab_size)
    # Under fp16 an overflowing gradient is routine: the scaler skips the step.
    finite_gradient = math.isfinite(grad_norm) or run.precision.tolerates_overflow
    if math.isfinite(loss) and finite_gradient and loss < threshold:
        return
    step = run.progress.step + 1
    out_dir = Path(run.config.train.out_dir)
    kept = (f"the last good checkpoint is kept in {out_dir}"
            if (out_dir / "latest.json").exists() else "no checkpoint had been saved yet")
    raise TrainingDivergedError(
        f"training diverged at step {step}: loss {loss:.4g}, gradient norm {grad_norm:.4g}; "
        f"{kept}. Try a lower lr (now {run.schedule.lr:.3g}) or clip_norm."
    )


def scheduled_validation(run: Run, records: Records) -> None:
    """Validate, feed the schedule and early stopping, checkpoint latest (and best)."""
    max_tokens = run.config.train.eval_max_tokens
    report = validate(run, max_tokens=max_tokens)
    progress = run.progress
    whole = max_tokens is None or max_tokens >= run.corpus.splits["valid"].shape[0]
    records.log_validation(_validation_row(progress, report),
                           "whole split" if whole else f"first {max_tokens:,} tokens")
    run.schedule.after_validation(report["loss"])
    improved = report["loss"] < progress.best_val_loss
    if improved:
        progress.best_val_loss, progress.evals_since_best = report["loss"], 0
    else:
        progress.evals_since_best += 1
    save_run(run, "latest")
    if improved:
        save_run(run, "best")


def validate(run: Run, max_tokens: int | None = None) -> dict[str, float]:
    """Stateful validation loss (over the first ``max_tokens`` if given), perplexity, bits.

    The validation streams are shared out over the ranks (round robin) and the summed
    losses added up, so every rank gets the same figure.
    """
    settings = run.config.train
    ids = run.corpus.splits["valid"]
    ids = ids if max_tokens is None else ids[:max_tokens]
    streams = evaluation_streams(ids, settings.eval_batch_size)
    rank, world = run.distributed.rank, run.distributed.world_size
    total, count = stateful_loss_sums(run.model, streams[rank::world], settings.eval_window)
    total, count = run.distributed.sum([total, count], run.streams.device)
    return loss_report(total / count)


def build_optimizer(model: nn.Module, settings: TrainConfig) -> torch.optim.Optimizer:
    """SGD (with optional momentum), Adam or AdamW over the model's parameters."""
    parameters = model.parameters()
    if settings.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=settings.lr, momentum=settings.momentum,
                               weight_decay=settings.weight_decay)
    if settings.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=settings.lr, weight_decay=settings.weight_decay)
    return torch.optim.Adam(parameters, lr=settings.lr, weight_decay=settings.weight_decay)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but torch sees no CUDA device")
    return torch.device(name)


# --- checkpoints -----------------------------------------------------------------------
def save_run(run: Run, tag: str) -> None:
    """Write model, config, vocabulary and everything needed to resume.

    Under torchrun every rank takes part (the carried state and the RNG states are gathered
    from all of them) and rank 0 writes; the replicas' weights and optimizer states are
    identical, so rank 0's stand for all.
    """
    hidden = _gathered_hidden(run)
    rng_states = run.distributed.gather_objects(capture_rng_state())
    if not run.distributed.is_main:
        return
    tensors, _ = model_state_for_saving(run.model)  # the config says which weights are tied
    optimizer_tensors, optimizer_meta = optimizer_state_to_safe(run.optimizer.state_dict())
    rng_tensors, rng_meta = rng_states[0]
    trainer_tensors = {f"optimizer.{k}": v for k, v in optimizer_tensors.items()}
    trainer_tensors.update({f"rng.{k}": v for k, v in rng_tensors.items()})
    for rank, (rank_tensors, _) in enumerate(rng_states[1:], start=1):
        trainer_tensors.update({f"rng_rank{rank}.{k}": v for k, v in rank_tensors.items()})
    trainer_tensors.update(_hidden_tensors(hidden))
    trainer_state = {"progress": asdict(run.progress), "optimizer": optimizer_meta,
                     "rng": rng_meta, "rng_ranks": [meta for _, meta in rng_states[1:]],
                     "schedule": run.schedule.state_dict(),
                     "precision": run.precision.state_dict(),
                     "data_source": run.corpus.source,
                     "resumes": run.resumes}
    save_checkpoint(Path(run.config.train.out_dir), model_state=tensors,
                    config=run.config.to_dict(), vocab=run.corpus.vocab.to_dict(),
                    trainer_tensors=trainer_tensors, trainer_state=trainer_state, tag=tag)


def restore_run(run: Run, checkpoint: Any) -> None:
    """Put a run back exactly where ``checkpoint`` left it."""
    state = checkpoint.trainer_state
    tensors = checkpoint.trainer_tensors
    device = run.streams.device
    restore_model_state(run.model, checkpoint.model_state)
    optimizer_tensors = _with_prefix(tensors, "optimizer.")
    run.optimizer.load_state_dict(optimizer_state_from_safe(optimizer_tensors,
                                                            state["optimizer"]))
    run.schedule.load_state_dict(state["schedule"])
    run.precision.load_state_dict(state.get("precision", {}))
    run.progress = Progress(**state["progress"])
    run.resumes = list(state.get("resumes", []))
    hidden = _hidden_from_tensors(_with_prefix(tensors, "hidden."), device)
    run.hidden = _rank_rows(run, hidden)
    _restore_rank_rng(run, tensors, state)


def _gathered_hidden(run: Run) -> RecurrentState | None:
    """The carried state of every stream, all ranks' rows joined (batch is dim 1)."""
    if not run.distributed.enabled:
        return run.hidden
    return map_state(run.hidden, lambda part: run.distributed.gather_rows(part, dim=1))


def _rank_rows(run: Run, hidden: RecurrentState | None) -> RecurrentState | None:
    """This rank's rows of a saved whole-batch state."""
    rows = run.distributed.row_slice(run.config.train.batch_size)
    return map_state(hidden, lambda part: part[:, rows].contiguous())


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
    seed_everything(run.config.train.seed + rank)


def _hidden_tensors(hidden: RecurrentState | None) -> dict[str, Tensor]:
    if hidden is None:
        return {}
    parts = hidden if isinstance(hidden, tuple) else (hidden,)
    return {f"hidden.{i}": part.detach().contiguous() for i, part in enumerate(parts)}


def _hidden_from_tensors(tensors: dict[str, Tensor], device: torch.device) -> Any:
    if not tensors:
        return None
    parts = tuple(tensors[str(i)].to(device) for i in range(len(tensors)))
    return parts if len(parts) > 1 else parts[0]


def _with_prefix(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


# --- small helpers -----------------------------------------------------------------------
def _stop_reason(settings: TrainConfig, progress: Progress) -> str | None:
    if settings.max_steps is not None and progress.step >= settings.max_steps:
        return f"reached max_steps={settings.max_steps}"
    if settings.max_epochs is not None and progress.epoch >= settings.max_epochs:
        return f"reached max_epochs={settings.max_epochs}"
    if settings.max_time is not None and progress.elapsed_s >= settings.max_time * 60:
        return f"reached max_time={settings.max_time} minutes"
    patience = settings.early_stop_patience
    if patience is not None and progress.evals_since_best >= patience:
        return f"early stop: no improvement in {patience} validations"
    return None


def _planned_steps(settings: TrainConfig, per_epoch: int) -> int | None:
    bounds = [settings.max_steps] if settings.max_steps is not None else []
    if settings.max_epochs is not None:
        bounds.append(settings.max_epochs * per_epoch)
    return min(bounds) if bounds else None


def _total_steps(run: Run) -> int | None:
    return _planned_steps(run.config.train, num_windows(run.streams, run.config.train.seq_len))


def _train_row(run: Run, loss: float, grad_norm: float, tokens_per_s: float) -> dict[str, Any]:
    progress = run.progress
    return {"step": progress.step, "epoch": progress.epoch, "tokens": progress.tokens,
            "elapsed_s": progress.elapsed_s, "lr": run.schedule.lr,
            "train_loss": loss, "grad_norm": grad_norm, "tokens_per_s": tokens_per_s}


def _validation_row(progress: Progress, report: dict[str, float]) -> dict[str, Any]:
    return {"step": progress.step, "epoch": progress.epoch, "tokens": progress.tokens,
            "elapsed_s": progress.elapsed_s, "val_loss": report["loss"],
            "val_perplexity": report["perplexity"],
            "val_bits_per_token": report["bits_per_token"]}


def sample_after_training(run: Run) -> str:
    """A short sample from the trained model, for the end-of-run printout."""
    from rnnkit.generate import sample_text

    length = run.config.train.sample_length
    valid = run.corpus.splits["valid"]  # (tokens,) or (tokens, 1 + conditions)
    first = valid[:1] if valid.dim() == 1 else valid[:1, 0]
    prime = run.corpus.vocab.decode(first.tolist())
    # A conditional model writes its sample under the first validation token's conditions.
    model = run.model if valid.dim() == 1 else WithConditions(run.model, valid[0, 1:])
    text = sample_text(model, run.corpus.vocab, prime, length,
                       temperature=0.8, seed=run.config.train.seed)
    return f"--- sample ({length} tokens, temperature 0.8) ---\n{text}\n---"
