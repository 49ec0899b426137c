"""Character- and word-level vocabularies, saved with the model as JSON.

Character level: every distinct character is a token (newlines included), as in char-rnn.
Word level: each line is split on whitespace and ends with an ``<eos>`` token, as in the Penn
Treebank setup of Mikolov and Zaremba et al.; words past the size cap become ``<unk>``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnkit.atomic import atomic_write_json

UNKNOWN = "<unk>"
END_OF_LINE = "<eos>"
LEVELS = ("char", "word")
FORMAT = 1


class Vocabulary:
    """Maps tokens to ids and back.

    ``tokens[i]`` is the token with id ``i``. ``unknown`` names the token that stands for
    anything else (``None``: unknown tokens are an error).

    >>> vocab = Vocabulary.build("abca", level="char")
    >>> vocab.encode("cab"), vocab.decode([0, 1, 2]), len(vocab)
    ([2, 0, 1], 'abc', 3)
    """

    def __init__(self, tokens: Sequence[str], level: str, unknown: str | None = None) -> None:
        if level not in LEVELS:
            raise ValueError(f"vocabulary level must be one of {LEVELS}, got {level!r}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens must be distinct")
        if not tokens:
            raise ValueError("a vocabulary needs at least one token")
        if unknown is not None and unknown not in tokens:
            raise ValueError(f"unknown token {unknown!r} is not in the vocabulary")
        self.tokens = list(tokens)
        self.level = level
        self.unknown = unknown
        self.ids = {token: index for index, token in enumerate(self.tokens)}

    @classmethod
    def build(cls, text: str, level: str = "char", max_size: int | None = None) -> Vocabulary:
        """The vocabulary of ``text``, most frequent tokens first (ties: first seen first).

        With ``max_size``, only that many tokens are kept, ``<unk>`` among them.
        """
        if level not in LEVELS:
            raise ValueError(f"vocabulary level must be one of {LEVELS}, got {level!r}")
        counts = Counter(tokenize(text, level))
        if not counts:
            raise ValueError("cannot build a vocabulary from an empty text")
        ranked = [token for token, _ in counts.most_common()]
        unknown = UNKNOWN if level == "word" else None
        if max_size is not None and len(ranked) > max_size:
            if max_size < 2:
                raise ValueError(f"max_vocab must be at least 2, got {max_size}")
            unknown = UNKNOWN
            ranked = [*[t for t in ranked if t != UNKNOWN][: max_size - 1], UNKNOWN]
        elif unknown is not None and unknown not in counts:
            ranked.append(unknown)
        if level == "char":
            ranked.sort()  # stable ids independent of frequency ties, like char-rnn
        return cls(ranked, level, unknown)

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        return f"Vocabulary(level={self.level!r}, size={len(self)})"

    def encode(self, text: str, strict: bool = False) -> list[int]:
        """Token ids of ``text``. Unknown tokens become ``<unk>``, or raise if ``strict``
        or the vocabulary has no ``<unk>``; the error lists what was missing."""
        tokens = tokenize(text, self.level)
        missing = [t for t in dict.fromkeys(tokens) if t not in self.ids]
        if missing and (strict or self.unknown is None):
            shown = ", ".join(repr(t) for t in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise ValueError(
                f"the text holds {len(missing)} {self.level}{'s' if len(missing) > 1 else ''} "
                f"the vocabulary lacks: {shown}{more}"
            )
        fallback = self.ids[self.unknown] if self.unknown is not None else -1
        return [self.ids.get(token, fallback) for token in tokens]

    def decode(self, ids: Sequence[int]) -> str:
        """The text of token ids (word level: words joined by spaces, ``<eos>`` as newline)."""
        size = len(self.tokens)
        bad = [i for i in ids if not 0 <= int(i) < size]
        if bad:
            raise ValueError(f"token id {bad[0]} is outside the vocabulary of {size} tokens")
        tokens = [self.tokens[int(i)] for i in ids]
        if self.level == "char":
            return "".join(tokens)
        text, line = [], []
        for token in tokens:
            if token == END_OF_LINE:
                text.append(" ".join(line) + "\n")
                line = []
            else:
                line.append(token)
        return "".join(text) + " ".join(line)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description; :meth:`from_dict` reads it back."""
        return {"format": FORMAT, "level": self.level, "unknown": self.unknown,
                "tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, document: Any) -> Vocabulary:
        """The vocabulary :meth:`to_dict` described, with clear errors for a bad document."""
        if not isinstance(document, dict) or not isinstance(document.get("tokens"), list):
            raise ValueError("vocabulary document must be an object with a 'tokens' list")
        if document.get("format") != FORMAT:
            raise ValueError(f"vocabulary format {document.get('format')!r} is not supported "
                             f"(this rnnkit reads format {FORMAT})")
        if not all(isinstance(t, str) for t in document["tokens"]):
            raise ValueError("vocabulary tokens must all be strings")
        return cls(document["tokens"], document.get("level"), document.get("unknown"))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the vocabulary as JSON, atomically."""
        return atomic_write_json(path, self.to_dict())


def tokenize(text: str, level: str) -> list[str]:
    """Characters, or whitespace-separated words with ``<eos>`` closing every line.

    >>> tokenize("a b\\nc", "word")
    ['a', 'b', '<eos>', 'c', '<eos>']
    """
    if level == "char":
        return list(text)
    tokens: list[str] = []
    for line in text.splitlines():
        tokens.extend(line.split())
        tokens.append(END_OF_LINE)
    return tokens
