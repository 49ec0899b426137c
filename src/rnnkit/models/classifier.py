"""Many-to-one: a sequence of tokens to one label (sentiment, topic).

Embedding → a rnnkit recurrent layer run with the row lengths (bidirectional by default)
→ :class:`~rnnkit.models.pooling.SequencePooling` over the valid steps → dropout → a
linear layer to the class logits. Padding is never seen: the layer stops each row at its
length and every pooling reads the valid steps only, so a sentence gives the same logits
alone and in a padded batch.

Shapes:
    tokens:  (batch, time) int64, padded with ``pad_id`` past each row's length
    lengths: (batch,) int64, each >= 1
    logits:  (batch, num_classes)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.layers.factory import CELL_NAMES, build_layer
from rnnkit.models.pooling import POOLINGS, SequencePooling
from rnnkit.validation import check_choice, check_lengths, check_positive_int


@dataclass(frozen=True)
class ClassifierConfig:
    """Shape of a :class:`SequenceClassifier`; saved as JSON next to its weights."""

    vocab_size: int = 0
    num_classes: int = 0
    cell: str = "lstm"
    embedding_size: int = 128
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    pooling: str = "max"
    dropout: float = 0.3
    pad_id: int = 0

    def __post_init__(self) -> None:
        owner = "ClassifierConfig"
        for name in ("embedding_size", "hidden_size", "num_layers"):
            check_positive_int(owner, name, getattr(self, name))
        check_choice(owner, "cell", self.cell, CELL_NAMES)
        check_choice(owner, "pooling", self.pooling, POOLINGS)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"{owner} expected dropout in [0, 1), got {self.dropout}")


class SequenceClassifier(nn.Module):
    """Tokens to class logits through a recurrent layer and a pooling (module docs).

    Example:
        >>> model = SequenceClassifier(ClassifierConfig(vocab_size=20, num_classes=3,
        ...                                             embedding_size=8, hidden_size=8))
        >>> model(torch.tensor([[4, 5, 6], [7, 8, 0]]), torch.tensor([3, 2])).shape
        torch.Size([2, 3])
    """

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        check_positive_int("SequenceClassifier", "vocab_size", config.vocab_size)
        check_positive_int("SequenceClassifier", "num_classes", config.num_classes)
        self.config = config
        directions = 2 if config.bidirectional else 1
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size,
                                      padding_idx=config.pad_id)
        self.rnn = build_layer(config.cell, config.embedding_size, config.hidden_size,
                               num_layers=config.num_layers,
                               bidirectional=config.bidirectional, dropout=config.dropout)
        self.pooling = SequencePooling(config.pooling, directions * config.hidden_size)
        self.classifier = nn.Linear(directions * config.hidden_size, config.num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """Class logits (batch, num_classes) of each row's first ``lengths`` tokens."""
        if tokens.dim() != 2 or tokens.dtype != torch.long:
            raise ValueError(f"SequenceClassifier expected token ids as a (batch, time) int64 "
                             f"tensor, got shape {tuple(tokens.shape)} and dtype {tokens.dtype}")
        lengths = check_lengths("SequenceClassifier", lengths, batch=tokens.shape[0],
                                time=tokens.shape[1])
        embedded = F.dropout(self.embedding(tokens), self.config.dropout, self.training)
        outputs, final = self.rnn(embedded, lengths=lengths)  # (batch, time, dirs * hidden)
        pooled = self.pooling(outputs, lengths, self._top_layer_state(final))
        return self.classifier(F.dropout(pooled, self.config.dropout, self.training))

    def _top_layer_state(self, final: Tensor | tuple[Tensor, Tensor]) -> Tensor:
        """The top layer's final hidden state, directions joined: (batch, dirs * hidden)."""
        hidden = final[0] if isinstance(final, tuple) else final  # (layers * dirs, batch, h)
        directions = 2 if self.config.bidirectional else 1
        top = hidden[-directions:]  # (dirs, batch, hidden)
        return top.transpose(0, 1).reshape(hidden.shape[1], -1)
