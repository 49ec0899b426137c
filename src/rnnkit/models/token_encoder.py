"""Token ids to per-step features: the embedding and recurrent layer that the classifier
and the tagger share.

Embedding → dropout → a rnnkit recurrent layer run with the row lengths (bidirectional by
default). The layer stops each row at its length, so padding never reaches a valid
step's features or the final state. With ``char_embedding_size`` > 0 each word's spelling
is read too: a character CNN (:class:`~rnnkit.models.char_features.CharFeatures`) gives
``char_filters`` features per word, concatenated to its embedding before the dropout, so a
word never seen in training (``<unk>``) still says something through its suffix, capitals
or digits.

Shapes:
    tokens:  (batch, time) int64, padded with ``pad_id`` past each row's length
    lengths: (batch,) int64, each >= 1
    chars:   (batch, time, letters) int64 character ids, 0 past each word's end; only with
             character features
    outputs: (batch, time, directions * hidden_size)
    final:   the layer's state, (layers * directions, batch, hidden_size) or a tuple (h, c)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.layers.factory import CELL_NAMES, build_layer
from rnnkit.models.char_features import CharFeatures
from rnnkit.validation import (
    MAX_LAYERS,
    MAX_SIZE,
    Rule,
    check_fields,
    check_lengths,
    check_positive_int,
)


@dataclass(frozen=True)
class EncoderConfig:
    """The token encoder's shape; model configs add their heads' fields to it."""

    vocab_size: int = 0
    cell: str = "lstm"
    embedding_size: int = 128
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.3
    pad_id: int = 0
    char_vocab_size: int = 0  # characters of the task's table (0 with no character features)
    char_embedding_size: int = 0  # 0: words only, no character features
    char_filters: int = 50
    char_width: int = 3

    # Model configs add their heads' rules; check_fields merges them over these.
    RANGES: ClassVar[dict[str, Rule]] = {
        "vocab_size": ">= 0", "cell": CELL_NAMES, "embedding_size": f"[1, {MAX_SIZE}]",
        "hidden_size": f"[1, {MAX_SIZE}]", "num_layers": f"[1, {MAX_LAYERS}]",
        "dropout": "[0, 1)", "pad_id": ">= 0", "char_vocab_size": ">= 0",
        "char_embedding_size": f"[0, {MAX_SIZE}]", "char_filters": f"[1, {MAX_SIZE}]",
        "char_width": "[1, 64]"}

    def __post_init__(self) -> None:
        check_fields(self)

    @property
    def uses_chars(self) -> bool:
        """Whether the encoder reads each word's characters."""
        return self.char_embedding_size > 0

    @property
    def output_size(self) -> int:
        """Features per step: ``directions * hidden_size``."""
        return (2 if self.bidirectional else 1) * self.hidden_size


class TokenEncoder(nn.Module):
    """Embedding and recurrent layer over padded token ids (module docs).

    Example:
        >>> encoder = TokenEncoder(EncoderConfig(vocab_size=20, embedding_size=8,
        ...                                      hidden_size=8), owner="Example")
        >>> outputs, _ = encoder(torch.tensor([[4, 5, 6], [7, 8, 0]]), torch.tensor([3, 2]))
        >>> outputs.shape
        torch.Size([2, 3, 16])
    """

    def __init__(self, config: EncoderConfig, owner: str) -> None:
        super().__init__()
        check_positive_int(owner, "vocab_size", config.vocab_size)
        self.config, self.owner = config, owner
        self.chars = None
        extra_features = 0
        if config.uses_chars:
            check_positive_int(owner, "char_vocab_size", config.char_vocab_size)
            self.chars = CharFeatures(config.char_vocab_size, config.char_embedding_size,
                                      config.char_filters, config.char_width)
            extra_features = config.char_filters
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size,
                                      padding_idx=config.pad_id)
        self.rnn = build_layer(config.cell, config.embedding_size + extra_features,
                               config.hidden_size,
                               num_layers=config.num_layers,
                               bidirectional=config.bidirectional, dropout=config.dropout)

    def forward(self, tokens: Tensor, lengths: Tensor, chars: Tensor | None = None
                ) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        """Per-step outputs and the layer's final state (see the module docstring)."""
        embedded, lengths = self.embed(tokens, lengths, chars)
        return self.encode(embedded, lengths)

    def embed(self, tokens: Tensor, lengths: Tensor, chars: Tensor | None = None
              ) -> tuple[Tensor, Tensor]:
        """Each step's input features (batch, time, input features: the embedding, then
        the spelling's) and the checked lengths; :meth:`encode` runs the layer over them.
        Split from it so that a training task can perturb the features (adversarial
        training)."""
        if tokens.dim() != 2 or tokens.dtype != torch.long:
            raise ValueError(f"{self.owner} expected token ids as a (batch, time) int64 "
                             f"tensor, got shape {tuple(tokens.shape)} and dtype {tokens.dtype}")
        lengths = check_lengths(self.owner, lengths, batch=tokens.shape[0],
                                time=tokens.shape[1])
        embedded = self.embedding(tokens)  # (batch, time, embedding)
        if self.chars is not None:
            if chars is None or chars.shape[:2] != tokens.shape:
                got = "none" if chars is None else f"shape {tuple(chars.shape)}"
                raise ValueError(f"{self.owner} with character features expected chars of "
                                 f"shape ({tokens.shape[0]}, {tokens.shape[1]}, letters), "
                                 f"got {got}")
            spelling = self.chars(chars)  # (batch, time, char_filters)
            embedded = torch.cat([embedded, spelling], dim=2)
        elif chars is not None:
            raise ValueError(f"{self.owner} was built without character features "
                             "(char_embedding_size=0) but was given chars")
        return embedded, lengths

    def encode(self, embedded: Tensor, lengths: Tensor
               ) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        """Dropout and the recurrent layer over :meth:`embed`'s features and lengths."""
        embedded = F.dropout(embedded, self.config.dropout, self.training)
        return self.rnn(embedded, lengths=lengths)  # (batch, time, dirs * hidden), state
