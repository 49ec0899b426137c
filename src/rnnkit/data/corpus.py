"""From a data configuration to token ids: text → splits → vocabulary → id tensors."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from rnnkit.data.registry import load_splits
from rnnkit.data.text import load_text_file, split_text
from rnnkit.data.vocab import Vocabulary
from rnnkit.music.abc_tunes import split_abc_text
from rnnkit.music.conditions import ConditionVocabulary, condition_ids


@dataclass(frozen=True)
class Corpus:
    """Token ids per split and the vocabulary that made them.

    Splits are ``(tokens,)`` int64 tensors, or ``(tokens, 1 + conditions)`` when the data
    attaches condition ids to every token; ``condition_sizes`` then holds the number of
    classes of each condition.
    """

    vocab: Vocabulary
    splits: dict[str, Tensor]
    source: dict[str, Any] = field(default_factory=dict)
    condition_sizes: tuple[int, ...] = ()


def load_corpus(config: Any, vocab_dict: dict | None = None) -> Corpus:
    """Read the text a :class:`~rnnkit.training.config.DataConfig` names and encode it.

    A user file (``text_file``) or a registered data set without its own splits is split
    into the first ``1 - valid_fraction`` for training and the rest for validation, or, with
    ``format = "abc"``, into whole tunes drawn at random (seeded by ``split_seed``). The
    vocabulary is built from the training text (character level: from the whole text, so
    that validation never meets an unseen character), unless ``vocab_dict`` gives one.
    """
    texts, source = read_texts(config)
    if vocab_dict is not None:
        vocab = Vocabulary.from_dict(vocab_dict)
    else:
        basis = "".join(texts.values()) if config.level == "char" else texts["train"]
        vocab = Vocabulary.build(basis, level=config.level, max_size=config.max_vocab)
    splits = {name: torch.tensor(vocab.encode(text), dtype=torch.long)
              for name, text in texts.items()}
    if config.condition == "key_meter":
        return _with_key_and_meter(vocab, splits, texts, source)
    return Corpus(vocab, splits, source)


def _with_key_and_meter(vocab: Vocabulary, splits: dict[str, Tensor], texts: dict[str, str],
                        source: dict[str, Any]) -> Corpus:
    conditions = ConditionVocabulary.build(texts["train"])
    joined = {name: torch.cat([ids.unsqueeze(1), condition_ids(texts[name], conditions)], 1)
              for name, ids in splits.items()}  # (tokens, 3): token, key id, meter id
    return Corpus(vocab, joined, source, condition_sizes=conditions.sizes)


def read_texts(config: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """The split texts a data configuration names, and a description of their source."""
    if config.text_file:
        text = load_text_file(config.text_file)
        source = {"name": str(config.text_file),
                  "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
        return _split(text, config), source
    if not config.dataset:
        raise ValueError("no data: set dataset (see `rnnkit data list`) or text_file")
    texts = load_splits(config.dataset)
    source = {"name": config.dataset}
    if "valid" not in texts:
        (whole,) = texts.values()
        texts = _split(whole, config)
    return texts, source


def _split(text: str, config: Any) -> dict[str, str]:
    if config.format == "abc":
        return split_abc_text(text, config.valid_fraction, config.split_seed)
    return split_text(text, config.valid_fraction)
