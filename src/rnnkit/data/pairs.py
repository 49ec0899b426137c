"""Sequence pairs for encoder-decoder models: symbol tables and padded, bucketed batches.

A :class:`SymbolTable` gives ids to the symbols of one side (characters of a word,
phonemes of a pronunciation), after three specials: ``<pad>`` 0, ``<s>`` 1, ``</s>`` 2
(:class:`rnnkit.models.seq2seq.Seq2SeqConfig`'s defaults). Batches group pairs of similar
length (sorted by length, cut, then shuffled as whole batches), so little is padding.

Shapes of a :class:`PairBatch`:
    source:         (batch, source) int64, padded with 0
    source_lengths: (batch,) int64
    target_input:   (batch, target + 1) ``<s>`` then the target, padded with 0
    target_output:  (batch, target + 1) the target then ``</s>``, padded with 0
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from rnnkit.data.vocab import TokenIds

SPECIALS = ("<pad>", "<s>", "</s>")
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2


class SymbolTable(TokenIds):
    """Symbols of one side of the pairs, after the three specials; an unknown symbol is an
    error.

    >>> table = SymbolTable.build(["cab", "abc"])
    >>> table.encode("cab", "word"), table.decode([5, 3, 4])
    ([5, 3, 4], ['c', 'a', 'b'])
    """

    def __init__(self, symbols: Sequence[str]) -> None:
        super().__init__(symbols, specials=SPECIALS, kind="symbol table")

    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]]) -> SymbolTable:
        """Every symbol in ``sequences``, sorted."""
        return cls(sorted({symbol for sequence in sequences for symbol in sequence}))

    @property
    def symbols(self) -> list[str]:
        """Every symbol by id, the specials first."""
        return self.tokens

    def encode(self, sequence: Sequence[str], what: str = "input") -> list[int]:
        """Ids of ``sequence``; an unknown symbol, a special or an empty sequence is a
        ``ValueError`` naming it and its position."""
        if len(sequence) == 0:
            raise ValueError(f"empty {what}: there is nothing to convert")
        for position, symbol in enumerate(sequence):
            if symbol not in self.ids or symbol in self.specials:
                joiner = "" if all(len(s) == 1 for s in sequence) else " "
                raise ValueError(f"unknown symbol {symbol!r} at position {position} of {what} "
                                 f"{joiner.join(sequence)!r}")
        return self.ids_of(sequence)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Symbols of ``ids`` (specials included as their names)."""
        return self.tokens_of(ids)

    def to_dict(self) -> dict[str, Any]:
        return {"symbols": self.entries}

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> SymbolTable:
        return cls(document["symbols"])


@dataclass
class PairBatch:
    """One padded batch (see the module docstring for shapes)."""

    source: Tensor
    source_lengths: Tensor
    target_input: Tensor
    target_output: Tensor

    def __len__(self) -> int:
        return self.source.shape[0]

    def to(self, device: torch.device) -> PairBatch:
        return PairBatch(self.source.to(device), self.source_lengths,
                         self.target_input.to(device), self.target_output.to(device))


def pad_batch(pairs: Sequence[tuple[list[int], list[int]]]) -> PairBatch:
    """Pad a list of (source ids, target ids) pairs into one batch."""
    source_length = max(len(source) for source, _ in pairs)
    target_length = max(len(target) for _, target in pairs) + 1
    source = torch.full((len(pairs), source_length), PAD_ID, dtype=torch.long)
    target_input = torch.full((len(pairs), target_length), PAD_ID, dtype=torch.long)
    target_output = torch.full((len(pairs), target_length), PAD_ID, dtype=torch.long)
    for row, (source_ids, target_ids) in enumerate(pairs):
        source[row, :len(source_ids)] = torch.tensor(source_ids)
        target_input[row, :len(target_ids) + 1] = torch.tensor([BOS_ID, *target_ids])
        target_output[row, :len(target_ids) + 1] = torch.tensor([*target_ids, EOS_ID])
    lengths = torch.tensor([len(source_ids) for source_ids, _ in pairs])
    return PairBatch(source, lengths, target_input, target_output)


def bucketed_batches(pairs: Sequence[tuple[list[int], list[int]]], batch_size: int,
                     seed: int) -> list[PairBatch]:
    """Batches of pairs of similar length, in an order shuffled with ``seed``."""
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][0]), len(pairs[i][1]), i))
    batches = [pad_batch([pairs[i] for i in order[start:start + batch_size]])
               for start in range(0, len(order), batch_size)]
    random.Random(seed).shuffle(batches)
    return batches
