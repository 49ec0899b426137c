"""The music task's corpus: ABC text split by whole tunes, each character with its tune's key
and meter when the model is conditional.

This is what ``rnnkit music train`` hands the language model
(:class:`~rnnkit.tasks.language_model.task.TaskCorpus`): the language model itself reads
plain text and knows nothing of tunes.
"""

from __future__ import annotations

import random
from functools import partial
from typing import Any

import torch
from torch import Tensor

from rnnkit.data.corpus import Corpus, encode_texts, read_texts
from rnnkit.music.abc_tunes import TUNE_SEPARATOR, join_tunes, split_tunes
from rnnkit.music.conditions import ConditionVocabulary, tune_key_and_meter
from rnnkit.tasks.language_model.task import TaskCorpus
from rnnkit.tasks.music.config import MusicConfig


def split_abc_text(
    text: str, valid_fraction: float = 0.1, seed: int = 0
) -> dict[str, str]:
    """``{"train": ..., "valid": ...}`` ABC texts holding whole tunes, split at random by tune.

    The tunes are shuffled with ``random.Random(seed)`` (the same seed gives the same split on
    every machine) and the first ``round(valid_fraction * tunes)`` (at least one) go to
    validation, so no tune is in both. Each part keeps the tunes' order of the file, one
    blank line after each tune (:func:`~rnnkit.music.abc_tunes.join_tunes`).
    """
    if not 0 < valid_fraction < 1:
        raise ValueError(f"expected valid_fraction in (0, 1), got {valid_fraction}")
    tunes = split_tunes(text)
    if len(tunes) < 2:
        raise ValueError(f"an ABC text of {len(tunes)} tune cannot be split into training "
                         f"and validation tunes: it needs at least 2")
    order = list(range(len(tunes)))
    random.Random(seed).shuffle(order)
    valid_count = min(max(1, round(valid_fraction * len(tunes))), len(tunes) - 1)
    valid = set(order[:valid_count])
    return {"train": join_tunes([t for i, t in enumerate(tunes) if i not in valid]),
            "valid": join_tunes([t for i, t in enumerate(tunes) if i in valid])}


def condition_ids(abc_text: str, vocabulary: ConditionVocabulary) -> Tensor:
    """Per-character (key id, meter id) for a text of tunes joined by blank lines.

    Each character gets the ids of the tune it belongs to (the blank line after a tune
    counts as part of it; the next tune's ids start at its ``X:``).

    Shapes:
        output: (characters, 2) int64

    Raises ``ValueError`` if the text is not exactly its tunes joined by blank lines (the
    form :func:`split_abc_text` writes).
    """
    rows: list[tuple[int, int]] = []
    for tune in split_tunes(abc_text):
        rows.extend([vocabulary.ids(*tune_key_and_meter(tune))] * (len(tune) +
                                                                    len(TUNE_SEPARATOR)))
    if len(rows) != len(abc_text):
        raise ValueError(f"condition_ids expects tunes joined by blank lines; the text has "
                         f"{len(abc_text)} characters but its tunes account for {len(rows)}")
    return torch.tensor(rows, dtype=torch.long).view(-1, 2)


def tune_texts(data: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """The split texts of the tunes ``[data]`` names (a data set with splits of its own
    keeps them; any other is split by :func:`split_abc_text` with ``valid_fraction`` and
    ``split_seed``), and a description of their source."""
    return read_texts(data, partial(_split_by_tune, data))


def _split_by_tune(data: Any, text: str) -> dict[str, str]:
    return split_abc_text(text, data.valid_fraction, data.split_seed)


def load_music_corpus(data: Any, vocab_dict: dict | None = None, *,
                      music: MusicConfig) -> Corpus:
    """The corpus of the tunes ``[data]`` names, encoded as the language model's
    :func:`~rnnkit.data.corpus.load_corpus` encodes a text (with ``vocab_dict``'s
    vocabulary, on resume); with ``music.condition``, every token also carries its tune's
    key and meter ids, and ``condition_sizes`` their numbers of classes."""
    music.check_data(data)
    texts, source = tune_texts(data)
    corpus = encode_texts(texts, source, data, vocab_dict)
    if music.condition == "key_meter":
        return _with_key_and_meter(corpus, texts)
    return corpus


def _with_key_and_meter(corpus: Corpus, texts: dict[str, str]) -> Corpus:
    # The classes come from the training tunes only: the same whenever the run is read.
    conditions = ConditionVocabulary.build(texts["train"])
    joined = {name: torch.cat([ids.unsqueeze(1), condition_ids(texts[name], conditions)], 1)
              for name, ids in corpus.splits.items()}  # (tokens, 3): token, key id, meter id
    return Corpus(corpus.vocab, joined, corpus.source, condition_sizes=conditions.sizes)


def music_corpus(music: MusicConfig) -> TaskCorpus:
    """What ``rnnkit music train`` hands the language model: the tunes' corpus, and the
    ``[task]`` table its runs save."""
    return TaskCorpus(partial(load_music_corpus, music=music), music.table())
