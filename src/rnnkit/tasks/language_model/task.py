"""Language modeling as a :class:`~rnnkit.training.task.Task`: next-token prediction over one
long text, trained with truncated backpropagation through time.

The training text is laid out as ``batch_size`` parallel streams (rows); an epoch walks
them in windows of ``seq_len`` tokens, and the state each row ends a window with is carried
into its next window. Under torchrun each process takes a contiguous block of rows, so
every row's state stays inside one process. Validation is stateful too (on the first
``eval_max_tokens`` validation tokens on the schedule, on the whole split at the end), the
validation streams shared out over the processes and the summed losses added up.

The text is plain text by default; a task built on the language model hands its own corpus
(:class:`TaskCorpus`: ``rnnkit music`` reads whole tunes and gives every character its
tune's conditions) and its ``[task]`` table, which the run saves with its config.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from rnnkit.data.batching import get_window, make_streams, num_windows
from rnnkit.data.corpus import Corpus, CorpusLoader
from rnnkit.metrics.language import (
    cross_entropy,
    evaluation_streams,
    loss_report,
    stateful_loss_sums,
    target_tokens,
)
from rnnkit.models.language_model import WithConditions
from rnnkit.training.config import RunConfig
from rnnkit.training.distributed import Distributed, check_divides
from rnnkit.training.records import LANGUAGE_FIGURES
from rnnkit.training.task import StepLoss


@dataclass(frozen=True)
class TaskCorpus:
    """What a task built on the language model hands it instead of plain text.

    ``load(data, vocab_dict)`` reads the corpus ``[data]`` names (with ``vocab_dict``, the
    saved vocabulary, on resume); its splits may carry condition ids,
    ``(tokens, 1 + conditions)``, with ``condition_sizes`` set. ``table`` is the task's
    ``[task]`` table (``{"name": ..., <its settings>}``), saved with the run's config so
    that whoever reads the run knows which task wrote it and how it read its data.
    """

    load: CorpusLoader
    table: dict[str, Any]


class Windows(Sequence[tuple[Tensor, Tensor]]):
    """An epoch's truncated-BPTT windows of ``streams`` (rows, steps): window ``i`` is the
    inputs (rows, seq_len) and the targets one token on."""

    def __init__(self, streams: Tensor, seq_len: int) -> None:
        self.streams, self.seq_len = streams, seq_len

    def __len__(self) -> int:
        return num_windows(self.streams, self.seq_len)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        return get_window(self.streams, index, self.seq_len)


class LanguageModelTask:
    """Next-token prediction scored by cross-entropy in nats per token, on ``corpus`` with
    the settings of ``config`` (a :class:`~rnnkit.training.config.RunConfig` whose model
    config has the corpus' vocabulary size); ``task_table``, the ``[task]`` table of the
    task that handed the corpus, is saved with the config."""

    figure_names = LANGUAGE_FIGURES
    validates_at_end = True  # the scheduled validations may read part of the split

    def __init__(self, config: RunConfig, corpus: Corpus, device: Any,
                 task_table: dict[str, Any] | None = None) -> None:
        self.config, self.corpus, self.device = config, corpus, device
        self.task_table = dict(task_table or {})
        self.distributed = Distributed()
        self.streams = make_streams(corpus.splits["train"], config.train.batch_size).to(device)
        self.divergence_bound = config.train.explode_factor * math.log(config.model.vocab_size)
        # The plain softmax's loss is the model's forward and a cross-entropy, which DDP can
        # wrap; the adaptive softmax trains through LanguageModel.next_token_loss, whose
        # gradients the loop averages itself under several processes.
        self.forward_only = config.model.output_layer == "softmax"

    def bind(self, distributed: Distributed) -> None:
        """Keep this rank's block of rows."""
        check_divides("batch_size", self.config.train.batch_size, distributed)
        self.distributed = distributed
        self.streams = self.streams[distributed.row_slice(self.config.train.batch_size)]

    def batches(self, epoch: int) -> Windows:
        """The same windows every epoch: the text does not move, the state restarts."""
        return Windows(self.streams, self.config.train.seq_len)

    def loss(self, model: nn.Module, batch: tuple[Tensor, Tensor], state: Any) -> StepLoss:
        inputs, targets = batch
        tokens = target_tokens(targets)  # (batch, time), without condition ids
        if self.forward_only:
            logits, state = model(inputs, state)
            loss = cross_entropy(logits, tokens)
        else:
            loss, state = model.next_token_loss(inputs, tokens, state)
        return StepLoss(loss, tokens.numel(), state)

    def validate(self, model: nn.Module, *, final: bool) -> dict[str, float]:
        """Stateful validation loss (on the first ``eval_max_tokens`` tokens unless
        ``final``), perplexity and bits per token; the same figure on every rank."""
        ids = self._validation_ids(final)
        settings = self.config.train
        streams = evaluation_streams(ids, settings.eval_batch_size)
        rank, world = self.distributed.rank, self.distributed.world_size
        total, count = stateful_loss_sums(model, streams[rank::world], settings.eval_window)
        total, count = self.distributed.sum([total, count], self.streams.device)
        return loss_report(total / count)

    def _validation_ids(self, final: bool) -> Tensor:
        ids = self.corpus.splits["valid"]
        max_tokens = self.config.train.eval_max_tokens
        return ids if final or max_tokens is None else ids[:max_tokens]

    def error(self, figures: dict[str, float]) -> float:
        return figures["loss"]

    def describe(self, figures: dict[str, float], *, final: bool) -> str:
        max_tokens = self.config.train.eval_max_tokens
        whole = final or max_tokens is None or max_tokens >= len(self.corpus.splits["valid"])
        scope = "whole split" if whole else f"first {max_tokens:,} tokens"
        return (f"({scope}{', final' if final else ''}) loss {figures['loss']:.4f} "
                f"nats/token, perplexity {figures['perplexity']:.2f}, "
                f"{figures['bits_per_token']:.3f} bits/token")

    def closing_report(self, model: nn.Module) -> str:
        """A short sample from the trained model, for the end-of-run printout (none for
        ``sample_length = 0``)."""
        from rnnkit.generate import sample_text

        length = self.config.train.sample_length
        if length == 0:
            return ""
        valid = self.corpus.splits["valid"]  # (tokens,) or (tokens, 1 + conditions)
        first = valid[:1] if valid.dim() == 1 else valid[:1, 0]
        prime = self.corpus.vocab.decode(first.tolist())
        # A conditional model writes its sample under the first validation token's conditions.
        model = model if valid.dim() == 1 else WithConditions(model, valid[0, 1:])
        text = sample_text(model, self.corpus.vocab, prime, length,
                           temperature=0.8, seed=self.config.train.seed)
        return f"--- sample ({length} tokens, temperature 0.8) ---\n{text}\n---"

    def saved_config(self) -> dict[str, Any]:
        saved = self.config.to_dict()
        return {**saved, "task": dict(self.task_table)} if self.task_table else saved

    def saved_tables(self) -> dict[str, Any]:
        return self.corpus.vocab.to_dict()

    def state_dict(self) -> dict[str, Any]:
        return {"data_source": self.corpus.source}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Nothing to take back: the data source is saved for the record."""
