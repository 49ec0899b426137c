"""From a data configuration to token ids: text → splits → vocabulary → id tensors."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from rnnkit.data.registry import load_splits
from rnnkit.data.text import load_text_file, split_text
from rnnkit.data.vocab import Vocabulary

# A text without its own splits in, ``{"train": ..., "valid": ...}`` out.
TextSplit = Callable[[str], dict[str, str]]


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


# A [data] config and, on resume, the saved vocabulary (``Vocabulary.to_dict``) in; the
# corpus out: :func:`load_corpus`, or a task's loader of its own corpus.
CorpusLoader = Callable[[Any, dict[str, Any] | None], Corpus]


def load_corpus(config: Any, vocab_dict: dict | None = None, *,
                split: TextSplit | None = None) -> Corpus:
    """Read the text a :class:`~rnnkit.training.config.DataConfig` names and encode it.

    A user file (``text_file``) or a registered data set without its own splits is split by
    ``split``, by default into the first ``1 - valid_fraction`` for training and the rest
    for validation (a task that knows its text's units passes its own: ``rnnkit music``
    splits by whole tune). The vocabulary is built from the training text (character level:
    from the whole text, so that validation never meets an unseen character), unless
    ``vocab_dict`` gives one.
    """
    texts, source = read_texts(config, split)
    return encode_texts(texts, source, config, vocab_dict)


def encode_texts(texts: dict[str, str], source: dict[str, Any], config: Any,
                 vocab_dict: dict | None = None) -> Corpus:
    """The corpus of split ``texts``: each encoded with ``vocab_dict``'s vocabulary, or with
    one built as :func:`load_corpus` describes."""
    if vocab_dict is not None:
        vocab = Vocabulary.from_dict(vocab_dict)
    else:
        basis = "".join(texts.values()) if config.level == "char" else texts["train"]
        vocab = Vocabulary.build(basis, level=config.level, max_size=config.max_vocab)
    splits = {name: torch.tensor(vocab.encode(text), dtype=torch.long)
              for name, text in texts.items()}
    return Corpus(vocab, splits, source)


def read_texts(config: Any, split: TextSplit | None = None
               ) -> tuple[dict[str, str], dict[str, Any]]:
    """The split texts a data configuration names, and a description of their source; a
    text without its own splits is split by ``split`` (default: the last
    ``valid_fraction`` validates)."""
    split = split or (lambda text: split_text(text, config.valid_fraction))
    if config.text_file:
        text = load_text_file(config.text_file)
        source = {"name": str(config.text_file),
                  "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
        return split(text), source
    if not config.dataset:
        raise ValueError("no data: set dataset (see `rnnkit data list`) or text_file")
    texts = load_splits(config.dataset)
    source = {"name": config.dataset}
    if "valid" not in texts:
        (whole,) = texts.values()
        texts = split(whole)
    return texts, source
