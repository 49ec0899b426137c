"""Using a trained checkpoint: load it, sample from it, score a text with it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit.data.corpus import CorpusLoader, load_corpus
from rnnkit.data.text import load_text_file
from rnnkit.data.vocab import Vocabulary
from rnnkit.metrics.language import loss_report, stateful_loss, windowed_loss
from rnnkit.models.factory import build_language_model
from rnnkit.training.checkpoint import (
    CONFIG_FILE,
    VOCAB_FILE,
    CheckpointError,
    judged_tag,
    load_model,
)
from rnnkit.training.config import RunConfig, upgrade_saved_config
from rnnkit.training.environment import resolve_device


@dataclass(frozen=True)
class LoadedModel:
    """A model in eval mode with the vocabulary and run configuration it was trained with.

    ``task`` is the saved ``[task]`` table of the task that trained it on its own corpus
    (``{"name": "music", ...}``), empty for a language model of plain text. ``tag`` is the
    checkpoint it was read from.
    """

    model: nn.Module  # a LanguageModel or TransformerLanguageModel
    vocab: Vocabulary
    config: RunConfig
    task: dict[str, Any] = field(default_factory=dict)
    tag: str = "latest"


def load_language_model(
    checkpoint: str | Path, *, tag: str | None = None, device: str = "auto"
) -> LoadedModel:
    """Rebuild a :class:`LanguageModel` from a checkpoint directory (no pickle involved).

    ``tag``: the checkpoint to read; by default the one the run is judged by, ``best``
    where it saved one (:func:`~rnnkit.training.checkpoint.judged_tag`). Reads the model,
    its config and vocabulary only (a save without its trainer files loads), and checks
    the config against the tensors before the model is built (see
    :func:`~rnnkit.training.checkpoint.load_model`).
    """
    tag = judged_tag(checkpoint) if tag is None else tag
    model, saved = load_model(checkpoint, _language_model_of, tag=tag)
    config, task = _run_config(saved.config)
    vocab = Vocabulary.from_dict(saved.vocab)
    if len(vocab) != config.model.vocab_size:
        raise CheckpointError(f"{saved.path / VOCAB_FILE} holds {len(vocab)} tokens but the "
                              f"model in {saved.path / CONFIG_FILE} has vocab_size "
                              f"{config.model.vocab_size}")
    return LoadedModel(model.to(resolve_device(device)), vocab, config, task, tag)


def _run_config(saved: dict[str, Any]) -> tuple[RunConfig, dict[str, Any]]:
    """The run configuration and the ``task`` table of a saved config document (an older
    rnnkit's read in today's layout: :func:`~rnnkit.training.config.upgrade_saved_config`)."""
    sections = dict(upgrade_saved_config(saved))
    task = sections.pop("task", None) or {}
    return RunConfig.from_dict(sections), task


def _language_model_of(config: dict[str, Any]) -> nn.Module:
    return build_language_model(_run_config(config)[0].model)


def sample(
    checkpoint: str | Path,
    prime: str,
    length: int,
    *,
    tag: str | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    device: str = "auto",
    quantize: str | None = None,
) -> str:
    """Text from a checkpoint (``tag``; by default ``best`` where the run saved one, see
    :func:`load_language_model`): ``prime`` followed by ``length`` generated tokens
    (``quantize``: see :func:`rnnkit.generate.sample_texts`)."""
    return sample_many(checkpoint, prime, length, streams=1, tag=tag, temperature=temperature,
                       top_k=top_k, top_p=top_p, seed=seed, device=device,
                       quantize=quantize)[0]


def sample_many(
    checkpoint: str | Path,
    prime: str,
    length: int,
    *,
    streams: int,
    tag: str | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    device: str = "auto",
    quantize: str | None = None,
) -> list[str]:
    """``streams`` texts from a checkpoint, written side by side as one batch
    (:func:`rnnkit.generate.sample_texts`)."""
    from rnnkit.generate import sample_texts

    loaded = load_language_model(checkpoint, tag=tag, device=device)
    _refuse_conditional(loaded, "sample from it with `rnnkit music generate --key K --meter M`")
    return sample_texts(loaded.model, loaded.vocab, prime, length, streams=streams,
                        temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                        quantize=quantize)


def evaluate_checkpoint(
    checkpoint: str | Path,
    *,
    tag: str | None = None,
    text_file: str | None = None,
    split: str = "valid",
    window: int = 256,
    batch_size: int = 16,
    device: str = "auto",
    run_corpus: Callable[[dict[str, Any]], CorpusLoader | None] | None = None,
) -> dict[str, float | str | int]:
    """Loss in nats per token two ways (stateful and fixed windows), bits and perplexity,
    of the checkpoint ``tag`` (by default ``best`` where the run saved one, see
    :func:`load_language_model`; the report names it under ``checkpoint``).

    Without ``text_file`` the run's own data is scored: the plain text of its ``[data]``,
    or, for a run a task trained on its own corpus, the corpus of the loader
    ``run_corpus(loaded.task)`` gives (``rnnkit eval`` asks the task plugins).
    """
    loaded = load_language_model(checkpoint, tag=tag, device=device)
    if text_file is not None:
        _refuse_conditional(loaded, "score it on its own data (without --text-file)")
        ids = torch.tensor(loaded.vocab.encode(load_text_file(text_file)), dtype=torch.long)
        source = str(text_file)
    else:
        load = _corpus_loader(loaded, run_corpus)
        corpus = load(loaded.config.data, loaded.vocab.to_dict())
        if split not in corpus.splits:
            raise ValueError(f"the run's data has no {split!r} split; it has "
                             f"{sorted(corpus.splits)}")
        ids, source = corpus.splits[split], f"{corpus.source.get('name')}:{split}"
    seq_len = loaded.config.train.eval_window
    stateful = stateful_loss(loaded.model, ids, batch_size=batch_size, seq_len=seq_len)
    windowed = windowed_loss(loaded.model, ids, window=window, batch_size=batch_size)
    report = {f"stateful_{k}": v for k, v in loss_report(stateful).items()}
    report.update({f"window{window}_{k}": v for k, v in loss_report(windowed).items()})
    unit = "character" if loaded.config.data.level == "char" else "word"
    return {"checkpoint": loaded.tag, "text": source, "tokens": int(ids.numel()), "unit": unit,
            "loss": stateful, "bits_per_" + unit: report["stateful_bits_per_token"],
            "perplexity": report["stateful_perplexity"], **report}


def _corpus_loader(loaded: LoadedModel,
                   run_corpus: Callable[[dict[str, Any]], CorpusLoader | None] | None
                   ) -> CorpusLoader:
    """How the run's own data is read: plain text, or its task's corpus."""
    if not loaded.task:
        return load_corpus
    loader = run_corpus(loaded.task) if run_corpus is not None else None
    if loader is None:
        raise ValueError(f"this run was trained by a task on a corpus of its own ([task] "
                         f"{loaded.task}) and no loader of that corpus was given "
                         f"(run_corpus): score it with `rnnkit eval`, which asks the task, "
                         f"or on a file (--text-file)")
    return loader


def _refuse_conditional(loaded: LoadedModel, instead: str) -> None:
    if loaded.config.model.condition_sizes:
        raise ValueError(f"this checkpoint is a conditional model (condition classes "
                         f"{list(loaded.config.model.condition_sizes)}): it needs condition "
                         f"ids with every token; {instead}")
