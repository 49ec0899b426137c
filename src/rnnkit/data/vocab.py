"""The one token table (:class:`TokenIds`) and the language model's vocabulary on it.

:class:`TokenIds` maps tokens to ids and back: reserved specials first, then the entries, each
once; a token it lacks reads as its ``unknown`` token or is refused. Every table in rnnkit is
one: :class:`Vocabulary` here, the seq2seq :class:`~rnnkit.data.pairs.SymbolTable`, the
classify/tag :class:`~rnnkit.data.token_batches.TokenTable` and
:class:`~rnnkit.data.token_batches.LabelTable`; they differ only in their specials, their
unknown policy, what they encode (text, symbols, labels) and the words of their errors.

A :class:`Vocabulary` is saved with the model as JSON. Character level: every distinct
character is a token (newlines included), as in char-rnn. Word level: each line is split
on whitespace and ends with an ``<eos>`` token, as in the Penn Treebank setup of Mikolov and
Zaremba et al.; words past the size cap become ``<unk>``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rnnkit.atomic import atomic_write_json

UNKNOWN = "<unk>"
END_OF_LINE = "<eos>"
LEVELS = ("char", "word")
FORMAT = 1


class TokenIds:
    """Tokens and their ids: ``specials`` (ids 0, 1, ...), then ``entries`` (a special among
    them is skipped), each token once.

    ``unknown`` names the token that stands for any token the table lacks (it must be one of
    the table's); ``None`` makes such a token an error, worded by the caller from
    :meth:`missing`. ``kind`` names the table in errors ("vocabulary", "label table").

    >>> table = TokenIds(["b", "a"], specials=("<pad>", "<unk>"), unknown="<unk>")
    >>> table.ids_of(["a", "zzz"]), table.tokens_of([2]), table.entries
    ([3, 1], ['b'], ['b', 'a'])
    """

    def __init__(self, entries: Sequence[str], *, specials: Sequence[str] = (),
                 unknown: str | None = None, kind: str = "token table") -> None:
        self.specials = tuple(specials)
        self.tokens = [*self.specials, *(t for t in entries if t not in self.specials)]
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError(f"the {kind}'s tokens must be distinct")
        if not self.tokens:
            raise ValueError(f"a {kind} needs at least one token")
        if unknown is not None and unknown not in self.tokens:
            raise ValueError(f"unknown token {unknown!r} is not in the {kind}")
        self.kind = kind
        self.unknown = unknown
        self.ids = {token: index for index, token in enumerate(self.tokens)}

    @property
    def entries(self) -> list[str]:
        """The tokens after the specials: what a saved table lists."""
        return self.tokens[len(self.specials):]

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self.ids

    def missing(self, tokens: Iterable[str]) -> list[str]:
        """The distinct tokens of ``tokens`` the table lacks, in first-seen order."""
        return [token for token in dict.fromkeys(tokens) if token not in self.ids]

    def ids_of(self, tokens: Iterable[str]) -> list[int]:
        """Ids of ``tokens``; a token the table lacks reads as ``unknown`` (callers refuse
        it first when the table has none: :meth:`missing`)."""
        fallback = self.ids[self.unknown] if self.unknown is not None else -1
        return [self.ids.get(token, fallback) for token in tokens]

    def tokens_of(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids``; an id outside the table is a ``ValueError`` naming it."""
        size = len(self.tokens)
        tokens = []
        for index in ids:
            if not 0 <= int(index) < size:
                raise ValueError(f"token id {int(index)} is outside the {self.kind} of {size} "
                                 "tokens")
            tokens.append(self.tokens[int(index)])
        return tokens


class Vocabulary(TokenIds):
    """Maps a text's tokens (characters or words) to ids and back.

    ``tokens[i]`` is the token with id ``i``. ``unknown`` names the token that stands for
    anything else (``None``: unknown tokens are an error).

    >>> vocab = Vocabulary.build("abca", level="char")
    >>> vocab.encode("cab"), vocab.decode([0, 1, 2]), len(vocab)
    ([2, 0, 1], 'abc', 3)
    """

    def __init__(self, tokens: Sequence[str], level: str, unknown: str | None = None) -> None:
        if level not in LEVELS:
            raise ValueError(f"vocabulary level must be one of {LEVELS}, got {level!r}")
        super().__init__(tokens, unknown=unknown, kind="vocabulary")
        self.level = level

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

    def __repr__(self) -> str:
        return f"Vocabulary(level={self.level!r}, size={len(self)})"

    def encode(self, text: str, strict: bool = False) -> list[int]:
        """Token ids of ``text``. Unknown tokens become ``<unk>``, or raise if ``strict``
        or the vocabulary has no ``<unk>``; the error lists what was missing."""
        tokens = tokenize(text, self.level)
        missing = self.missing(tokens)
        if missing and (strict or self.unknown is None):
            shown = ", ".join(repr(t) for t in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise ValueError(
                f"the text holds {len(missing)} {self.level}{'s' if len(missing) > 1 else ''} "
                f"the vocabulary lacks: {shown}{more}"
            )
        return self.ids_of(tokens)

    def decode(self, ids: Sequence[int]) -> str:
        """The text of token ids (word level: words joined by spaces, ``<eos>`` as newline)."""
        tokens = self.tokens_of(ids)
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
