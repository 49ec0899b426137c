"""``rnnkit.train``: a language model trained on :func:`~rnnkit.training.trainer.fit`.

The run configuration names the text, the model and the optimization
(:class:`~rnnkit.training.config.RunConfig`); this module loads the text (on resume with
the vocabulary the run was saved with), builds the model and hands both to the one loop
as a :class:`~rnnkit.tasks.language_model.task.LanguageModelTask`. A task built on the
language model passes its corpus (a :class:`~rnnkit.tasks.language_model.task.TaskCorpus`);
without one the text of ``[data]`` is read as plain text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit.data.batching import make_streams, num_windows
from rnnkit.data.corpus import load_corpus
from rnnkit.models.factory import build_language_model
from rnnkit.models.language_model import ModelConfig
from rnnkit.tasks.language_model.task import LanguageModelTask, TaskCorpus
from rnnkit.training.checkpoint import load_checkpoint_config, load_checkpoint_vocab
from rnnkit.training.config import RunConfig, TrainConfig
from rnnkit.training.distributed import Distributed, process_rank, start_distributed
from rnnkit.training.planned_regularization import dropout_for_passes, planned_passes
from rnnkit.training.precision import PRECISIONS
from rnnkit.training.prepare import prepare_run as prepare_fit
from rnnkit.training.prepare import start_training
from rnnkit.training.run import Run
from rnnkit.training.run_folder import claim_run_folder
from rnnkit.training.step_horizon import StepHorizon, plan_step_horizon
from rnnkit.training.trainer import fit

logger = logging.getLogger(__name__)

def probe_model_config(model: ModelConfig, dropout: float = 0.0) -> ModelConfig:
    """``model`` as a probe before the run's start times it: a dropout still waiting for
    the run's plan (``dropout = "auto"``) is ``dropout`` (first 0, then the rate that plan
    gives, see :func:`build_language_model_task`), anything else as it is."""
    return replace(model, dropout=dropout) if model.dropout == "auto" else model


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
    environment: dict[str, Any]  # threads, precision, versions, commit (run_environment)


def train(config: RunConfig, corpus: TaskCorpus | None = None) -> TrainResult:
    """Train the language model ``config`` describes, on ``corpus`` when a task hands one
    (else on the plain text ``config.data`` names); returns its final figures.

    Raises :class:`~rnnkit.training.trainer.TrainingDivergedError` if the loss or gradients
    stop being finite; the last good checkpoint stays in ``config.train.out_dir``. Raises
    :class:`~rnnkit.training.run_folder.RunFolderError` if another process trains in
    ``out_dir``, or if it holds a run and neither ``resume`` nor ``overwrite`` is set;
    :class:`~rnnkit.training.interrupt.TrainingInterrupted` after Ctrl-C, once ``latest``
    is saved.
    """
    settings = config.train
    with claim_run_folder(settings.out_dir, resume=settings.resume,
                          overwrite=settings.overwrite, main_process=process_rank() == 0):
        model, task = build_language_model_task(config, corpus)
        result = fit(model, task, task.config.train)  # max_steps "auto" planned
    if settings.max_steps == "auto" and not settings.resume and process_rank() == 0:
        logger.info(repeat_line(config, task.config, result.steps, result.stop_reason,
                                result.environment["precision"]))
    figures = result.figures
    return TrainResult(
        steps=result.steps, epochs=result.epochs, tokens=result.tokens,
        elapsed_s=result.elapsed_s, stop_reason=result.stop_reason, val_loss=figures["loss"],
        val_perplexity=figures["perplexity"], val_bits_per_token=figures["bits_per_token"],
        checkpoint=str(Path(settings.out_dir)), environment=result.environment,
    )


def repeat_line(asked: RunConfig, planned: RunConfig, steps: int, stop_reason: str,
                precision: str) -> str:
    """The flags that repeat a ``max_steps = "auto"`` run to the last digit, as one line
    for its log: the ``steps`` it trained, bounded by steps not by the clock, and what its
    other "auto" words became. A run the clock stopped before its plan keeps its cosine
    over the planned steps (``--decay-steps``); ``--dropout`` and ``--precision`` are given
    where the run chose them, since a run of other steps, or on another host, could choose
    otherwise."""
    settings = planned.train
    flags = [f"--max-steps {steps}"]
    if settings.schedule == "cosine" and settings.decay_steps is None \
            and steps < settings.max_steps:
        flags.append(f"--decay-steps {settings.max_steps}")
    flags.append("--max-time none")
    if asked.train.precision == "auto":
        flags.append(f"--precision {precision}")
    if asked.model.dropout == "auto":
        flags.append(f"--dropout {planned.model.dropout:g}")
    return (f"max_steps auto: trained {steps:,} of the {settings.max_steps:,} steps planned "
            f"({stop_reason}); repeat this run with {' '.join(flags)}")


def build_language_model_task(config: RunConfig, corpus: TaskCorpus | None = None
                              ) -> tuple[nn.Module, LanguageModelTask]:
    """Seed, join the process group, load the text (``corpus``'s when given) and build the
    model on this process's device, sized to the corpus' vocabulary and conditions;
    returns ``(model, task)``. On resume the text is read with the saved vocabulary, so
    the token ids keep their meaning. The words a run's config may leave to the run
    (``max_steps``, ``dropout`` "auto") are numbers in ``task.config``, which the run is
    trained and saved with."""
    settings = config.train
    distributed, device = start_training(settings)
    # The vocabulary alone: the weights and the trainer's state are read once, when the
    # run is restored.
    saved_vocab = load_checkpoint_vocab(settings.out_dir) if settings.resume else None
    load = corpus.load if corpus is not None else load_corpus
    text = load(config.data, saved_vocab)
    table = corpus.table if corpus is not None else None
    config = replace(config, model=replace(config.model, vocab_size=len(text.vocab),
                                           condition_sizes=text.condition_sizes))
    resumed = _resumed_config(settings)  # what its "auto" settings became, on resume
    if settings.max_steps == "auto":
        config = _with_planned_steps(config, text, table, device, distributed, resumed)
    if config.model.dropout == "auto":
        dropout = _planned_dropout(config, text, resumed)
        config = replace(config, model=replace(config.model, dropout=dropout))
    model = build_language_model(config.model).to(device)
    return model, LanguageModelTask(config, text, device, task_table=table)


def _resumed_config(settings: TrainConfig) -> dict[str, Any] | None:
    """The config the run in ``out_dir`` was saved with, when this run resumes it."""
    if settings.resume and (Path(settings.out_dir) / "latest.json").exists():
        return load_checkpoint_config(settings.out_dir)
    return None


def _with_planned_steps(config: RunConfig, text: Any, table: dict[str, Any] | None,
                        device: torch.device, distributed: Distributed,
                        resumed: dict[str, Any] | None) -> RunConfig:
    """``config`` with ``max_steps = "auto"`` planned: the saved run's step bound on
    resume, else the steps ``max_time`` holds for the model the run trains, timed here.

    A dropout that waits for the plan (``dropout = "auto"``) is first timed at 0; when the
    passes those steps make call for dropout, the steps are timed again with its masks,
    which cost time (a 4x128 minLSTM step a third more), so that the clock stops the run
    at its plan rather than leaving it minutes early. The dropout is then read from the
    final steps (:func:`_planned_dropout`): at the edge of a band it can come out 0, and
    that run ends by its steps a little early. With ``precision = "auto"`` the first
    timing chooses the precision (:mod:`rnnkit.training.auto_precision`), the steps are
    timed in it, and the run trains in it: the config says the precision chosen, as it
    says the steps and the dropout, and a resume keeps it."""
    saved = None if resumed is None else resumed["train"].get("max_steps")
    if isinstance(saved, int):
        precision = config.train.precision
        if precision == "auto":  # the run keeps what it chose (older runs saved the word)
            precision = resumed["train"].get("precision", precision)
        return replace(config, train=replace(config.train, max_steps=saved,
                                             precision=precision))
    horizon = _planned_horizon(config, probe_model_config(config.model), text, table,
                               device, distributed)
    if horizon.precision_choice is not None and distributed.is_main:
        logger.info(horizon.precision_choice.describe())
    # One choice for the plan and the run: a second measurement could choose otherwise
    # (a close race) and train in a precision the steps were not timed in.
    config = replace(config, train=replace(config.train, precision=horizon.precision))
    if config.model.dropout == "auto":
        passes = _passes(replace(config, train=replace(config.train, max_steps=horizon.steps)),
                         text)
        dropout = dropout_for_passes(passes)
        if dropout > 0:
            (logger.info if distributed.is_main else logger.debug)(
                "dropout auto: %s steps timed without dropout read %.2f passes, which call "
                "for dropout %.1f; the steps are timed again with its masks",
                f"{horizon.steps:,}", passes, dropout)
            horizon = _planned_horizon(config, probe_model_config(config.model, dropout),
                                       text, table, device, distributed)
    if distributed.is_main:
        logger.info(horizon.describe())
    return replace(config, train=replace(config.train, max_steps=horizon.steps))


def _planned_horizon(config: RunConfig, model_config: ModelConfig, text: Any,
                     table: dict[str, Any] | None, device: torch.device,
                     distributed: Distributed) -> StepHorizon:
    """The steps ``max_time`` holds for a model of ``model_config`` on ``config``'s data,
    timed here (:mod:`rnnkit.training.step_horizon`); every process times its share of the
    batch (not the gradients' averaging) and takes rank 0's number. The probe draws from
    forked generators, so the run's model starts from the weights that ``--max-steps N``
    gives it."""
    settings = config.train
    probe_config = replace(config, model=model_config,
                           train=replace(settings, max_steps=None))
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        model = build_language_model(model_config).to(device)
        task = LanguageModelTask(probe_config, text, device, task_table=table)
        task.bind(distributed)  # this process's share of the batch is what it will step
        horizon = plan_step_horizon(model, task, settings, device)
    if distributed.enabled:  # one plan for every rank, or they would stop apart
        steps, index = distributed.main_values(
            [horizon.steps, PRECISIONS.index(horizon.precision)], device)
        horizon = replace(horizon, steps=int(steps), precision=PRECISIONS[int(index)])
    return horizon


def _planned_dropout(config: RunConfig, text: Any, resumed: dict[str, Any] | None) -> float:
    """``dropout = "auto"``: the saved run's dropout on resume (its plan may have had other
    bounds), else the one its planned passes over the training split give."""
    if resumed is not None:
        return float(resumed["model"]["dropout"])
    passes = _passes(config, text)
    dropout = dropout_for_passes(passes)
    logger.info("dropout auto: %.2f planned passes over %s training tokens; dropout %.1f",
                passes, f"{len(text.splits['train']):,}", dropout)
    return dropout


def _passes(config: RunConfig, text: Any) -> float:
    """The passes over the training split that ``config``'s step and epoch bounds plan."""
    settings = config.train
    streams = make_streams(text.splits["train"], settings.batch_size)
    return planned_passes(settings, len(text.splits["train"]),
                          num_windows(streams, settings.seq_len))


def prepare_run(config: RunConfig, corpus: TaskCorpus | None = None) -> Run:
    """The run :func:`train` would start (restored on resume), without training it: for
    tools and tests that drive :func:`~rnnkit.training.trainer.training_loop` themselves."""
    model, task = build_language_model_task(config, corpus)
    distributed, _ = start_distributed(next(model.parameters()).device)  # joined already
    return prepare_fit(model, task, task.config.train, distributed)
