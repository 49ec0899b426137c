"""Encoder-decoder tasks on sequence pairs (G2P, translation): their configuration, model,
loss and decoding, on the loop of :mod:`rnnkit.training.example_training`.

A pair task visits (source, target) pairs in length buckets
(:func:`rnnkit.data.pairs.bucketed_batches`), teacher-forced (cross-entropy of every target
token given the true ones before it, or the model's own with ``teacher_forcing < 1``), and
is judged by decoding held-out sources (:func:`decode_sources`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.data.pairs import PAD_ID, PairBatch, SymbolTable, bucketed_batches, pad_batch
from rnnkit.decode import beam_search, greedy_decode
from rnnkit.models.factory import build_seq2seq
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.training.checkpoint import Checkpoint, CheckpointError, load_checkpoint, load_model
from rnnkit.training.example_training import (
    ExampleTask,
    ExampleTrainingConfig,
    TrainedExamples,
    train_on_examples,
)
from rnnkit.validation import MAX_LENGTH, Rule

Pair = tuple[list[int], list[int]]


@dataclass(frozen=True)
class PairTrainingConfig(ExampleTrainingConfig):
    """Optimization, teacher forcing and decoding of a pair task (task configs add their
    data fields)."""

    teacher_forcing: float = 1.0
    beam_width: int = 5
    max_output: int = 32
    out_dir: str = "runs/seq2seq"
    init_from: str | None = None  # a pair run's folder: start from its best weights

    RANGES: ClassVar[dict[str, Rule]] = {
        "teacher_forcing": "[0, 1]", "beam_width": "[1, 1024]",
        "max_output": f"[1, {MAX_LENGTH}]"}


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
    saved = load_checkpoint(run, tag="best", trainer=False)
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


def load_pair_model(checkpoint: str | Path, tag: str = "best") -> tuple[nn.Module, Checkpoint]:
    """The encoder-decoder of a pair checkpoint (G2P, translation) in eval mode, with the
    checkpoint's config and symbol tables; no pickle, no trainer files, and the config is
    checked against the tensors before the model is built (see
    :func:`~rnnkit.training.checkpoint.load_model`)."""
    return load_model(checkpoint, pair_model_of, tag=tag)


def pair_model_of(config: dict[str, Any]) -> nn.Module:
    """The encoder-decoder a pair checkpoint's config describes."""
    if "model" not in config:
        raise CheckpointError(f"this is not an encoder-decoder checkpoint (its config has "
                              f"{sorted(config)})")
    return build_seq2seq(Seq2SeqConfig(**config["model"]))


def train_on_pairs(model: nn.Module, pairs: Sequence[Pair], config: PairTrainingConfig, *,
                   validate: Callable[[nn.Module], dict[str, float]],
                   error_of: Callable[[dict[str, float]], float],
                   figure_names: tuple[str, ...], saved_config: dict[str, Any],
                   saved_tables: dict[str, Any]) -> TrainedExamples:
    """Train ``model`` on ``pairs`` in length buckets, teacher-forced (see the module
    docstring and :func:`~rnnkit.training.example_training.train_on_examples`). The
    teacher-forcing draws come from a generator of their own, saved with every checkpoint."""
    generator = torch.Generator().manual_seed(config.seed)

    def loss_of(model: nn.Module, batch: PairBatch) -> Tensor:
        output = model(batch.source, batch.source_lengths, batch.target_input,
                       teacher_forcing=config.teacher_forcing, generator=generator)
        return F.cross_entropy(output.logits.reshape(-1, output.logits.shape[-1]),
                               batch.target_output.reshape(-1), ignore_index=PAD_ID)

    return train_on_examples(model, config, ExampleTask(
        loss_of=loss_of, validate=validate, error_of=error_of, figure_names=figure_names,
        saved_config=saved_config, saved_tables=saved_tables, generator=generator,
        count_of=lambda batch: int((batch.target_output != PAD_ID).sum()),  # per token
        batches=lambda epoch: bucketed_batches(pairs, config.batch_size,
                                               seed=config.seed + epoch)))


@torch.no_grad()
def decode_sources(model: nn.Module, sources: Sequence[list[int]], max_output: int,
                   beam_width: int = 1, output_ratio: float | None = None) -> list[list[int]]:
    """Output ids for each source (greedy with width 1, else beam search), 256 at a time
    (32 with ``output_ratio``), shortest sources first (the results come back in the order
    of ``sources``).

    Each output stops at ``max_output`` ids, and with ``output_ratio`` also at
    ``ceil(output_ratio * source length) + 10`` (of the chunk's longest source): an
    untrained model that never ends its outputs then costs what its inputs are worth.
    """
    device = next(model.parameters()).device
    order = sorted(range(len(sources)), key=lambda index: len(sources[index]))
    results: list[list[int]] = [[] for _ in sources]
    # Bounded by length, chunks are kept small so that each bound fits its chunk.
    size = 256 if output_ratio is None else 32
    for start in range(0, len(order), size):
        chosen = order[start:start + size]
        batch = pad_batch([(sources[index], [0]) for index in chosen]).to(device)
        bound = max_output
        if output_ratio is not None:
            longest = int(batch.source_lengths.max())
            bound = min(max_output, math.ceil(output_ratio * longest) + 10)
        if beam_width == 1:
            outputs = greedy_decode(model, batch.source, batch.source_lengths, bound)
        else:
            outputs = beam_search(model, batch.source, batch.source_lengths, bound,
                                  beam_width=beam_width)
        for index, output in zip(chosen, outputs, strict=True):
            results[index] = output
    return results
