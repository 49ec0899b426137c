"""Token ids to per-step features: the embedding and recurrent layer that the classifier
and the tagger share.

Embedding → dropout → a rnnkit recurrent layer run with the row lengths (bidirectional by
default). The layer stops each row at its length, so padding never reaches a valid
step's features or the final state. A model may hand in more per-token features
(``extra_features`` of them, e.g. a word's spelling from
:class:`~rnnkit.models.char_features.CharFeatures`); they are concatenated to the
embedding before the dropout.

Shapes:
    tokens:  (batch, time) int64, padded with ``pad_id`` past each row's length
    lengths: (batch,) int64, each >= 1
    extra:   (batch, time, extra_features), only when ``extra_features`` > 0
    outputs: (batch, time, directions * hidden_size)
    final:   the layer's state, (layers * directions, batch, hidden_size) or a tuple (h, c)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.layers.factory import CELL_NAMES, build_layer
from rnnkit.validation import check_choice, check_lengths, check_positive_int


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

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for name in ("embedding_size", "hidden_size", "num_layers"):
            check_positive_int(owner, name, getattr(self, name))
        check_choice(owner, "cell", self.cell, CELL_NAMES)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"{owner} expected dropout in [0, 1), got {self.dropout}")

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

    def __init__(self, config: EncoderConfig, owner: str, extra_features: int = 0) -> None:
        super().__init__()
        check_positive_int(owner, "vocab_size", config.vocab_size)
        if extra_features < 0:
            raise ValueError(f"{owner} expected extra_features >= 0, got {extra_features}")
        self.config, self.owner, self.extra_features = config, owner, extra_features
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size,
                                      padding_idx=config.pad_id)
        self.rnn = build_layer(config.cell, config.embedding_size + extra_features,
                               config.hidden_size,
                               num_layers=config.num_layers,
                               bidirectional=config.bidirectional, dropout=config.dropout)

    def forward(self, tokens: Tensor, lengths: Tensor, extra: Tensor | None = None
                ) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        """Per-step outputs and the layer's final state (see the module docstring)."""
        if tokens.dim() != 2 or tokens.dtype != torch.long:
            raise ValueError(f"{self.owner} expected token ids as a (batch, time) int64 "
                             f"tensor, got shape {tuple(tokens.shape)} and dtype {tokens.dtype}")
        lengths = check_lengths(self.owner, lengths, batch=tokens.shape[0],
                                time=tokens.shape[1])
        embedded = self.embedding(tokens)  # (batch, time, embedding)
        if self.extra_features:
            expected = (*tokens.shape, self.extra_features)
            if extra is None or tuple(extra.shape) != expected:
                got = "none" if extra is None else f"shape {tuple(extra.shape)}"
                raise ValueError(f"{self.owner} expected extra features of shape {expected}, "
                                 f"got {got}")
            embedded = torch.cat([embedded, extra], dim=2)
        elif extra is not None:
            raise ValueError(f"{self.owner} was built without extra features "
                             f"(extra_features=0) but was given some")
        embedded = F.dropout(embedded, self.config.dropout, self.training)
        return self.rnn(embedded, lengths=lengths)  # (batch, time, dirs * hidden), state
