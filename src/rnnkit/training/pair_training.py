"""The training loop for encoder-decoder models on sequence pairs (G2P, translation).

The language-model trainer (:mod:`rnnkit.training.trainer`) walks one long token stream
with a carried state; a pair task instead visits (source, target) pairs in length buckets
(:func:`rnnkit.data.pairs.bucketed_batches`), teacher-forced, and is judged once an epoch
by decoding held-out sources. What varies by task comes in as functions: ``validate``
(the held-out figures of a model), ``error_of`` (the figure to minimize, which picks the
best epoch and drives the rate decay) and ``save`` (a checkpoint with the task's
vocabularies). The loop is:

    for each epoch: batches -> forward -> cross-entropy -> backward -> clip -> step
                    validate -> decay the rate on a plateau -> save latest (and best)
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from rnnkit.data.pairs import PAD_ID, SymbolTable, bucketed_batches, pad_batch
from rnnkit.decode import beam_search, greedy_decode
from rnnkit.models.factory import build_seq2seq
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.training.checkpoint import Checkpoint, load_checkpoint
from rnnkit.training.clipping import clip_gradients
from rnnkit.training.trainer import resolve_device, seed_everything

log = logging.getLogger(__name__)

Pair = tuple[list[int], list[int]]


@dataclass(frozen=True)
class PairTrainingConfig:
    """Optimization and bounds of a pair task (task configs add their data fields)."""

    batch_size: int = 64
    lr: float = 2e-3
    lr_decay: float = 1.0  # times the rate after 2 epochs without a 1% better validation
    warmup_steps: int = 0  # batches over which the rate rises linearly to lr
    clip_norm: float = 5.0
    epochs: int = 10
    max_time: float | None = None  # minutes of training, evaluation excluded
    teacher_forcing: float = 1.0
    beam_width: int = 5
    max_output: int = 32
    seed: int = 1337
    out_dir: str = "runs/seq2seq"
    progress: bool = True
    device: str = "auto"
    threads: int | None = None
    init_from: str | None = None  # a pair run's folder: start from its best weights

    def __post_init__(self) -> None:
        owner = type(self).__name__
        if self.warmup_steps < 0:
            raise ValueError(f"{owner} expected warmup_steps >= 0, got {self.warmup_steps}")
        if not 0.0 < self.lr_decay <= 1.0:
            raise ValueError(f"{owner} expected lr_decay in (0, 1] (1 keeps the rate), "
                             f"got {self.lr_decay}")


def start_pair_run(config: PairTrainingConfig) -> torch.device:
    """Threads and seeds of a pair run; returns the device it trains on."""
    if config.threads:
        torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    return resolve_device(config.device)


def build_pair_model(model_config: Seq2SeqConfig, source: SymbolTable, target: SymbolTable,
                     device: torch.device, longest: int,
                     config: PairTrainingConfig) -> nn.Module:
    """The encoder-decoder ``model_config`` describes, sized to the two symbol tables; a
    Transformer must have positions for ``longest`` (the longest source, or target plus
    its start token, of the data) and for the longest output, ``max_output + 1``."""
    needed = max(longest, config.max_output + 1)
    if model_config.architecture == "transformer" and model_config.max_length < needed:
        raise ValueError(f"a Transformer for this data needs max_length >= {needed} "
                         f"(longest sequence {longest}, max_output {config.max_output} + 1), "
                         f"got {model_config.max_length}")
    sized = dataclasses.replace(model_config, source_vocab_size=len(source),
                                target_vocab_size=len(target))
    model = build_seq2seq(sized)
    if config.init_from is not None:
        _take_weights(model, config.init_from, source, target)
    return model.to(device)


def _take_weights(model: nn.Module, run: str, source: SymbolTable,
                  target: SymbolTable) -> None:
    """Load the best weights of ``run``, which must be the same model on the same symbols
    (a warm start: the optimizer and the rate schedule begin afresh)."""
    saved = load_checkpoint(run, tag="best")
    theirs = Seq2SeqConfig(**saved.config["model"])
    if theirs != model.config:
        differences = {key: (value, getattr(model.config, key))
                       for key, value in dataclasses.asdict(theirs).items()
                       if getattr(model.config, key) != value}
        raise ValueError(f"init_from {run}: its model differs from this one in "
                         f"{differences} (theirs, ours)")
    tables = [SymbolTable.from_dict(table).symbols for table in saved.vocab.values()]
    if tables != [source.symbols, target.symbols]:
        raise ValueError(f"init_from {run}: its symbol tables differ from this data's")
    model.load_state_dict(saved.model_state)


def pair_model_from(saved: Checkpoint) -> nn.Module:
    """The encoder-decoder of a pair checkpoint, in eval mode (no pickle involved)."""
    model = build_seq2seq(Seq2SeqConfig(**saved.config["model"]))
    model.load_state_dict(saved.model_state)
    return model.eval()


@dataclass
class TrainedPairs:
    """What :func:`train_on_pairs` did: one row per epoch and the seconds it trained."""

    history: list[dict[str, Any]]
    trained_s: float


def train_on_pairs(model: nn.Module, pairs: Sequence[Pair], config: PairTrainingConfig, *,
                   validate: Callable[[nn.Module], dict[str, float]],
                   error_of: Callable[[dict[str, float]], float],
                   save: Callable[[nn.Module, list[dict[str, Any]], str], None]
                   ) -> TrainedPairs:
    """Train ``model`` on ``pairs`` (see the module docstring); checkpoints ``latest``
    every epoch and ``best`` whenever ``error_of(validate(model))`` is the lowest yet."""
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    # A gain under 1% of the error (relative) does not count: G2P's validation error
    # creeps down by a tenth of a point an epoch long after the rate should have dropped.
    schedule = (torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=config.lr_decay, patience=1, threshold=0.01, threshold_mode="rel")
                if config.lr_decay < 1.0 else None)
    history: list[dict[str, Any]] = []
    best, trained_s, steps = math.inf, 0.0, 0
    generator = torch.Generator().manual_seed(config.seed)
    for epoch in range(config.epochs):
        budget_s = None if config.max_time is None else config.max_time * 60 - trained_s
        seconds, steps = _train_epoch(model, optimizer, pairs, config, epoch, steps,
                                      generator, device, budget_s)
        trained_s += seconds
        figures = validate(model)
        history.append({"epoch": epoch + 1, "trained_s": round(trained_s, 1),
                        "lr": optimizer.param_groups[0]["lr"], **figures})
        log.info("epoch %d: validation %s (%.0f s of training)", epoch + 1,
                 ", ".join(f"{k} {v:.4f}" for k, v in figures.items()), trained_s)
        if schedule is not None:
            schedule.step(error_of(figures))
        save(model, history, "latest")
        if error_of(figures) < best:
            best = error_of(figures)
            save(model, history, "best")
        if config.max_time is not None and trained_s >= config.max_time * 60:
            break
    return TrainedPairs(history, trained_s)


def _train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, pairs: Sequence[Pair],
                 config: PairTrainingConfig, epoch: int, steps: int,
                 generator: torch.Generator, device: torch.device,
                 budget_s: float | None) -> tuple[float, int]:
    """One pass over the pairs (or until ``budget_s`` seconds) from optimizer step
    ``steps``; returns the seconds it took and the steps taken by its end."""
    model.train()
    batches = bucketed_batches(pairs, config.batch_size, seed=config.seed + epoch)
    bar = tqdm(batches, desc=f"epoch {epoch + 1}", disable=not config.progress, unit="batch")
    seconds, sequences = 0.0, 0
    for batch in bar:
        start = time.perf_counter()
        batch = batch.to(device)
        if steps < config.warmup_steps:
            for group in optimizer.param_groups:
                group["lr"] = config.lr * (steps + 1) / config.warmup_steps
        output = model(batch.source, batch.source_lengths, batch.target_input,
                       teacher_forcing=config.teacher_forcing, generator=generator)
        loss = F.cross_entropy(output.logits.reshape(-1, output.logits.shape[-1]),
                               batch.target_output.reshape(-1), ignore_index=PAD_ID)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip_gradients(model.parameters(), clip_norm=config.clip_norm, clip_value=None)
        optimizer.step()
        steps += 1
        seconds += time.perf_counter() - start
        sequences += batch.source.shape[0]
        bar.set_postfix({"loss": f"{loss.item():.3f}", "pairs/s": f"{sequences / seconds:.0f}"},
                        refresh=False)
        if budget_s is not None and seconds >= budget_s:
            break
    bar.close()
    return seconds, steps


@torch.no_grad()
def decode_sources(model: nn.Module, sources: Sequence[list[int]], max_output: int,
                   beam_width: int = 1) -> list[list[int]]:
    """Output ids for each source (greedy with width 1, else beam search), 256 at a time."""
    device = next(model.parameters()).device
    results: list[list[int]] = []
    for start in range(0, len(sources), 256):
        batch = pad_batch([(ids, [0]) for ids in sources[start:start + 256]]).to(device)
        if beam_width == 1:
            results.extend(greedy_decode(model, batch.source, batch.source_lengths, max_output))
        else:
            results.extend(beam_search(model, batch.source, batch.source_lengths, max_output,
                                       beam_width=beam_width))
    return results
