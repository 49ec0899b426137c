"""Tokens and labels as ids, and padded batches of them, for the classification and tagging
tasks.

A :class:`TokenTable` maps tokens to ids with ``<pad>`` = 0 and ``<unk>`` = 1 (tokens seen
fewer than ``min_count`` times in training share ``<unk>``); a :class:`LabelTable` maps
class or tag names to ids and refuses a name it has not seen. An example is
``(token ids, target)``: the target is one class id (many-to-one) or one tag id per token
(aligned many-to-many). A tagging example may carry a third part, the character ids of
each token (``(token ids, tag ids, [character ids of each token])``), for models that read
a word's spelling; its batch then holds ``chars``.

Shapes of a :class:`TokenBatch`:
    tokens:  (batch, time) int64, ``PAD_ID`` past each row's length
    lengths: (batch,) int64 on the CPU (the layers read them there)
    targets: (batch,) int64 class ids, or (batch, time) int64 tag ids, ``IGNORE_INDEX``
             past each row's length
    chars:   (batch, time, letters) int64 character ids, ``PAD_ID`` past each word's
             length and in every padding position; ``None`` for examples without them
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from rnnkit.data.vocab import TokenIds

PAD, UNKNOWN = "<pad>", "<unk>"
PAD_ID, UNKNOWN_ID = 0, 1
IGNORE_INDEX = -100  # torch's cross-entropy default: padded tag positions add no loss

Example = tuple[list[int], int | list[int]]
SpelledExample = tuple[list[int], list[int], list[list[int]]]  # + each token's character ids

_WORDS = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


def word_tokens(text: str, lowercase: bool = True) -> list[str]:
    """Words (letters, digits and inner apostrophes) and single punctuation marks.

    >>> word_tokens("It's a well-made, BIG film!")
    ["it's", 'a', 'well', '-', 'made', ',', 'big', 'film', '!']
    """
    return _WORDS.findall(text.lower() if lowercase else text)


class TokenTable(TokenIds):
    """Token ids after ``<pad>`` and ``<unk>``; unknown tokens read as ``<unk>``.

    >>> table = TokenTable.build([["a", "b", "a"], ["c"]], min_count=2)
    >>> table.encode(["a", "b", "zzz"]), len(table)
    ([2, 1, 1], 3)
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        super().__init__(tokens, specials=(PAD, UNKNOWN), unknown=UNKNOWN, kind="token table")

    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]], min_count: int = 1,
              max_size: int | None = None) -> TokenTable:
        """Tokens seen at least ``min_count`` times, most frequent first (ties: first seen),
        at most ``max_size`` of them (the two specials included)."""
        if min_count < 1:
            raise ValueError(f"TokenTable expected min_count >= 1, got {min_count}")
        counts = Counter(token for sequence in sequences for token in sequence)
        kept = [token for token, count in counts.most_common() if count >= min_count]
        if max_size is not None:
            if max_size < 3:
                raise ValueError(f"TokenTable expected max_size >= 3, got {max_size}")
            kept = kept[:max_size - 2]
        return cls(kept)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of ``tokens`` (``<unk>`` for any token not in the table)."""
        return self.ids_of(tokens)

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": self.entries}

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> TokenTable:
        return cls(document["tokens"])


class LabelTable(TokenIds):
    """Class or tag names to ids, in the order given; an unknown name is an error.

    >>> labels = LabelTable.build(["pos", "neg", "pos"])
    >>> labels.names, labels.encode(["neg", "pos"], "row 1")
    (['neg', 'pos'], [0, 1])
    """

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(names, kind="label table")

    @classmethod
    def build(cls, labels: Iterable[str]) -> LabelTable:
        """Every distinct label, sorted."""
        return cls(sorted(set(labels)))

    @property
    def names(self) -> list[str]:
        """The label names by id."""
        return self.tokens

    def encode(self, labels: Sequence[str], where: str) -> list[int]:
        """Ids of ``labels``; a label not seen in training is a ``ValueError`` naming it,
        ``where`` it came from and the known labels."""
        unknown = self.missing(labels)
        if unknown:
            known = ", ".join(repr(name) for name in self.names[:20])
            more = f" and {len(self.names) - 20} more" if len(self.names) > 20 else ""
            raise ValueError(f"{where}: label {unknown[0]!r} was not seen in training "
                             f"(known labels: {known}{more})")
        return self.ids_of(labels)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Names of class or tag ids."""
        return self.tokens_of(ids)

    def to_dict(self) -> dict[str, Any]:
        return {"labels": self.names}

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> LabelTable:
        return cls(document["labels"])


@dataclass
class TokenBatch:
    """One padded batch of examples (see the module docstring for shapes)."""

    tokens: Tensor
    lengths: Tensor
    targets: Tensor
    chars: Tensor | None = None

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def to(self, device: torch.device) -> TokenBatch:
        chars = None if self.chars is None else self.chars.to(device)
        return TokenBatch(self.tokens.to(device), self.lengths, self.targets.to(device), chars)


def pad_examples(examples: Sequence[Example | SpelledExample]) -> TokenBatch:
    """Pad ``(token ids, target)`` examples into one batch; every example needs a token and,
    when its target is a tag list, one tag per token. Examples with a third part (each
    token's character ids, every token with at least one) also fill ``chars``."""
    longest = max(len(example[0]) for example in examples)
    tokens = torch.full((len(examples), longest), PAD_ID, dtype=torch.long)
    aligned = isinstance(examples[0][1], list)
    targets = (torch.full((len(examples), longest), IGNORE_INDEX, dtype=torch.long)
               if aligned else torch.zeros(len(examples), dtype=torch.long))
    for row, (ids, target, *_) in enumerate(examples):
        if not ids:
            raise ValueError(f"example {row} of the batch has no tokens")
        tokens[row, :len(ids)] = torch.tensor(ids)
        if aligned:
            if len(target) != len(ids):
                raise ValueError(f"example {row} of the batch has {len(ids)} tokens but "
                                 f"{len(target)} tags")
            targets[row, :len(ids)] = torch.tensor(target)
        else:
            targets[row] = target
    lengths = torch.tensor([len(example[0]) for example in examples])
    chars = _pad_spellings(examples, longest) if len(examples[0]) == 3 else None
    return TokenBatch(tokens, lengths, targets, chars)


def _pad_spellings(examples: Sequence[SpelledExample], longest: int) -> Tensor:
    """The character ids of every example's tokens: (batch, time, letters)."""
    for row, (ids, _, spellings) in enumerate(examples):
        if len(spellings) != len(ids):
            raise ValueError(f"example {row} of the batch has {len(ids)} tokens but "
                             f"{len(spellings)} spellings")
        if not all(spellings):
            empty = next(i for i, word in enumerate(spellings) if not word)
            raise ValueError(f"example {row} of the batch: token {empty} has no characters")
    letters = max(len(word) for _, _, spellings in examples for word in spellings)
    blank = [PAD_ID] * letters
    # One nested list and one tensor: a tensor per word costs more than the batch's model step.
    rows = [[[*word, *blank[len(word):]] for word in spellings]
            + [blank] * (longest - len(spellings)) for _, _, spellings in examples]
    return torch.tensor(rows, dtype=torch.long)


def bucketed_examples(examples: Sequence[Example | SpelledExample], batch_size: int,
                      seed: int) -> list[TokenBatch]:
    """Batches of examples of similar length (little padding), in an order shuffled with
    ``seed``. Examples of one length are shuffled too, so a batch is not always the same
    set."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    order.sort(key=lambda index: len(examples[index][0]))  # stable: keeps the shuffle
    batches = [pad_examples([examples[i] for i in order[start:start + batch_size]])
               for start in range(0, len(order), batch_size)]
    random.Random(seed + 1).shuffle(batches)
    return batches


def evaluation_batches(examples: Sequence[Example | SpelledExample], batch_size: int
                       ) -> list[tuple[list[int], TokenBatch]]:
    """Batches of examples, shortest first, each with the indices (into ``examples``) of
    its rows, so that results can be put back in the order of ``examples``."""
    order = sorted(range(len(examples)), key=lambda index: len(examples[index][0]))
    chunks = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    return [(chunk, pad_examples([examples[i] for i in chunk])) for chunk in chunks]
