"""Many-to-one: a sequence of tokens to one label (sentiment, topic).

Embedding → a rnnkit recurrent layer run with the row lengths (bidirectional by default;
:class:`~rnnkit.models.token_encoder.TokenEncoder`) →
:class:`~rnnkit.models.pooling.SequencePooling` over the valid steps → dropout → a
linear layer to the class logits. Padding is never seen: the layer stops each row at its
length and every pooling reads the valid steps only, so a sentence gives the same logits
alone and in a padded batch.

Shapes:
    tokens:  (batch, time) int64, padded with ``pad_id`` past each row's length
    lengths: (batch,) int64, each >= 1
    chars:   (batch, time, letters) int64, only with character features (``EncoderConfig``)
    logits:  (batch, num_classes)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.models.pooling import POOLINGS, SequencePooling
from rnnkit.models.token_encoder import EncoderConfig, TokenEncoder
from rnnkit.validation import Rule, check_positive_int


@dataclass(frozen=True)
class ClassifierConfig(EncoderConfig):
    """Shape of a :class:`SequenceClassifier` (the encoder's fields and the head's); saved
    as JSON next to its weights."""

    num_classes: int = 0
    pooling: str = "max"

    RANGES: ClassVar[dict[str, Rule]] = {"num_classes": ">= 0", "pooling": POOLINGS}


class SequenceClassifier(nn.Module):
    """Tokens to class logits through a recurrent layer and a pooling (module docs).

    Example:
        >>> import torch
        >>> model = SequenceClassifier(ClassifierConfig(vocab_size=20, num_classes=3,
        ...                                             embedding_size=8, hidden_size=8))
        >>> model(torch.tensor([[4, 5, 6], [7, 8, 0]]), torch.tensor([3, 2])).shape
        torch.Size([2, 3])
    """

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        check_positive_int("SequenceClassifier", "num_classes", config.num_classes)
        self.config = config
        self.encoder = TokenEncoder(config, owner="SequenceClassifier")
        self.pooling = SequencePooling(config.pooling, config.output_size)
        self.classifier = nn.Linear(config.output_size, config.num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor, chars: Tensor | None = None) -> Tensor:
        """Class logits (batch, num_classes) of each row's first ``lengths`` tokens;
        ``chars`` (batch, time, letters) is required with character features and refused
        without."""
        return self.classify_embedded(*self.encoder.embed(tokens, lengths, chars))

    def classify_embedded(self, embedded: Tensor, lengths: Tensor) -> Tensor:
        """Class logits (batch, num_classes) from the encoder's input features (batch,
        time, features) as :meth:`TokenEncoder.embed` gives them, perturbed or not."""
        outputs, final = self.encoder.encode(embedded, lengths)  # (batch, time, dirs * h)
        pooled = self.pooling(outputs, lengths, self._top_layer_state(final))
        return self.classifier(F.dropout(pooled, self.config.dropout, self.training))

    def _top_layer_state(self, final: Tensor | tuple[Tensor, Tensor]) -> Tensor:
        """The top layer's final hidden state, directions joined: (batch, dirs * hidden)."""
        hidden = final[0] if isinstance(final, tuple) else final  # (layers * dirs, batch, h)
        directions = 2 if self.config.bidirectional else 1
        top = hidden[-directions:]  # (dirs, batch, hidden)
        return top.transpose(0, 1).reshape(hidden.shape[1], -1)
