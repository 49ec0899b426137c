"""Tagged sentences as a tagger's examples: a seeded split into training, validation and
test sentences, and the word, character and tag tables of the training part.

An example is ``(word ids, tag ids)``, or with the characters of each word
``(word ids, tag ids, [character ids of each word])`` for a tagger that reads spelling
(:mod:`rnnkit.data.token_batches` pads both kinds). Words the word table lacks read as
``<unk>``; their characters still tell the model about them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.data.splits import SPLIT_NAMES, shuffled_parts
from rnnkit.data.tagged import Sentence, read_conll
from rnnkit.data.text import read_utf8
from rnnkit.data.token_batches import Example, LabelTable, SpelledExample, TokenTable

__all__ = ["SPLIT_NAMES", "TaggingTables", "read_conll_file", "spelling", "split_sentences",
           "tags_of", "tokens_of"]


def read_conll_file(path: str | Path) -> tuple[list[Sentence], list[list[int]], str]:
    """The sentences of a CoNLL file, the line number of each token, and the name used in
    errors (``CoNLL file 'path'``)."""
    path = Path(path)
    text = read_utf8(path, "CoNLL file")
    source = f"CoNLL file {str(path)!r}"
    sentences = read_conll(text, source=source)
    # read_conll makes one token of each non-blank line, in order.
    numbers = iter(number for number, line in enumerate(text.split("\n"), 1)
                   if line.strip(" \t\r"))
    return sentences, [[next(numbers) for _ in sentence] for sentence in sentences], source


def split_sentences(sentences: Sequence[Sentence], valid_fraction: float,
                    test_fraction: float, seed: int) -> dict[str, list[Sentence]]:
    """Shuffle the sentences with ``seed`` and take ``round(n * test_fraction)`` for test,
    ``round(n * valid_fraction)`` for validation and the rest for training; each part keeps
    the sentences' input order.

    >>> parts = split_sentences([[("w", "T")]] * 10, 0.2, 0.1, seed=0)
    >>> [len(parts[name]) for name in ("train", "valid", "test")]
    [7, 2, 1]
    """
    chosen = shuffled_parts(range(len(sentences)), valid_fraction, test_fraction, seed,
                            first="test")
    if not all(chosen.values()):
        raise ValueError(f"{len(sentences)} sentences with valid_fraction {valid_fraction} "
                         f"({len(chosen['valid'])}) and test_fraction {test_fraction} "
                         f"({len(chosen['test'])}) leave a part empty: every part needs a "
                         f"sentence")
    return {name: [sentences[i] for i in sorted(chosen[name])] for name in SPLIT_NAMES}


def tokens_of(sentences: Sequence[Sentence]) -> list[list[str]]:
    """The tokens of each sentence."""
    return [[token for token, _ in sentence] for sentence in sentences]


def tags_of(sentences: Sequence[Sentence]) -> list[list[str]]:
    """The tags of each sentence."""
    return [[tag for _, tag in sentence] for sentence in sentences]


@dataclass
class TaggingTables:
    """The word, character and tag tables of a run, and how tokens are read into them:
    ``lowercase`` words for the word table (the characters keep their case), and the
    first and last halves of ``max_word_chars`` characters of a longer word."""

    words: TokenTable
    chars: TokenTable
    tags: LabelTable
    lowercase: bool
    max_word_chars: int

    @classmethod
    def build(cls, train: Sequence[Sentence], min_count: int = 1, lowercase: bool = False,
              max_word_chars: int = 20) -> TaggingTables:
        """Tables of the training sentences: words seen fewer than ``min_count`` times share
        ``<unk>``; every character and every tag of the training words is kept.

        >>> tables = TaggingTables.build([[("The", "DT"), ("cat", "NN")], [("the", "DT")]],
        ...                              min_count=2, lowercase=True)
        >>> tables.words.tokens, tables.chars.tokens[2:]  # most frequent first
        (['<pad>', '<unk>', 'the'], ['h', 'e', 't', 'T', 'c', 'a'])
        >>> tables.example(["the", "dog"], [0, 1], spelled=True)
        ([2, 1], [0, 1], [[4, 2, 3], [1, 1, 1]])
        """
        words = TokenTable.build(([token.lower() if lowercase else token for token in tokens]
                                  for tokens in tokens_of(train)), min_count=min_count)
        chars = TokenTable.build(spelling(token, max_word_chars)
                                 for tokens in tokens_of(train) for token in tokens)
        tags = LabelTable.build(tag for tags in tags_of(train) for tag in tags)
        return cls(words, chars, tags, lowercase, max_word_chars)

    def normal(self, token: str) -> str:
        """The form of ``token`` that the word table (and a baseline) looks up."""
        return token.lower() if self.lowercase else token

    def example(self, tokens: Sequence[str], tag_ids: list[int],
                spelled: bool) -> Example | SpelledExample:
        """``(word ids, tag ids)``, with each token's character ids when ``spelled``."""
        ids = self.words.encode([self.normal(token) for token in tokens])
        if not spelled:
            return ids, tag_ids
        return ids, tag_ids, [self.chars.encode(spelling(token, self.max_word_chars))
                              for token in tokens]

    def to_vocab(self) -> dict[str, Any]:
        """The tables as the JSON of a checkpoint's vocabulary file."""
        return {"words": self.words.to_dict(), "chars": self.chars.to_dict(),
                "tags": self.tags.to_dict()}

    @classmethod
    def from_vocab(cls, vocab: dict[str, Any], lowercase: bool,
                   max_word_chars: int) -> TaggingTables:
        """Inverse of :meth:`to_vocab`, with the run's reading options."""
        return cls(TokenTable.from_dict(vocab["words"]), TokenTable.from_dict(vocab["chars"]),
                   LabelTable.from_dict(vocab["tags"]), lowercase, max_word_chars)


def spelling(token: str, limit: int) -> list[str]:
    """The characters of ``token``; a longer one than ``limit`` keeps its first and last
    halves of ``limit`` (prefix and suffix say most about a word's tag).

    >>> "".join(spelling("internationalization", 8))
    'intetion'
    """
    if len(token) <= limit:
        return list(token)
    head = limit // 2
    return list(token[:head] + token[len(token) - (limit - head):])
