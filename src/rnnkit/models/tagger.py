"""Aligned many-to-many: one tag per token (part of speech, named entities).

Embedding → a rnnkit recurrent layer run with the row lengths (bidirectional by default,
so each tag sees the whole sentence) → dropout → a linear layer to per-token tag scores.
Without a CRF each token's tag is a softmax of its own scores (cross-entropy over the
valid tokens); with ``crf=True`` the scores are the emissions of a
:class:`~rnnkit.models.crf.LinearChainCRF`, trained on the sentence's likelihood and
decoded by Viterbi, so the tags of neighbours constrain each other (no ``I-PER`` after
``B-LOC``).

With ``char_embedding_size`` > 0 each word's spelling is read too (the encoder's character
CNN, :class:`~rnnkit.models.token_encoder.TokenEncoder`), so a word never seen in training
(``<unk>``) can still be tagged from its suffix, capitals or digits.

Shapes:
    tokens:    (batch, time) int64, padded with ``pad_id`` past each row's length
    lengths:   (batch,) int64, each >= 1
    chars:     (batch, time, letters) int64 character ids, 0 past each word's end; only
               with character features
    emissions: (batch, time, num_tags)
    tags:      (batch, time) int64; positions past a row's length are ignored
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.models.crf import LinearChainCRF
from rnnkit.models.token_encoder import EncoderConfig, TokenEncoder
from rnnkit.validation import Rule, check_positive_int


@dataclass(frozen=True)
class TaggerConfig(EncoderConfig):
    """Shape of a :class:`SequenceTagger` (the encoder's fields and the head's); saved as
    JSON next to its weights."""

    num_tags: int = 0
    crf: bool = False

    RANGES: ClassVar[dict[str, Rule]] = {"num_tags": ">= 0"}


class SequenceTagger(nn.Module):
    """Tokens to per-token tag scores, with an optional CRF on top (module docs).

    Example:
        >>> model = SequenceTagger(TaggerConfig(vocab_size=20, num_tags=5, embedding_size=8,
        ...                                     hidden_size=8))
        >>> tokens, lengths = torch.tensor([[4, 5, 6], [7, 8, 0]]), torch.tensor([3, 2])
        >>> model(tokens, lengths).shape, [len(t) for t in model.predict(tokens, lengths)]
        (torch.Size([2, 3, 5]), [3, 2])
    """

    def __init__(self, config: TaggerConfig) -> None:
        super().__init__()
        check_positive_int("SequenceTagger", "num_tags", config.num_tags)
        self.config = config
        self.encoder = TokenEncoder(config, owner="SequenceTagger")
        self.emissions = nn.Linear(config.output_size, config.num_tags)
        self.crf = LinearChainCRF(config.num_tags) if config.crf else None

    def forward(self, tokens: Tensor, lengths: Tensor, chars: Tensor | None = None) -> Tensor:
        """Tag scores (batch, time, num_tags) for every token; past a row's length they
        mean nothing. ``chars`` is required with character features and refused without."""
        outputs, _ = self.encoder(tokens, lengths, chars)  # (batch, time, dirs * hidden)
        return self.emissions(F.dropout(outputs, self.config.dropout, self.training))

    def loss(self, emissions: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
        """Mean loss per valid token: cross-entropy, or the CRF's negative log-likelihood
        of each sentence divided by the number of valid tokens."""
        valid = torch.arange(tags.shape[1], device=tags.device) < lengths.to(tags.device)[:, None]
        if self.crf is not None:
            return self.crf.negative_log_likelihood(emissions, tags, lengths) / valid.sum()
        return F.cross_entropy(emissions[valid], tags[valid])

    @torch.no_grad()
    def predict(self, tokens: Tensor, lengths: Tensor,
                chars: Tensor | None = None) -> list[list[int]]:
        """The tag ids of each row's valid tokens (argmax per token, or Viterbi)."""
        emissions = self(tokens, lengths, chars)
        if self.crf is not None:
            return self.crf.decode(emissions, lengths)
        best = emissions.argmax(dim=2).tolist()
        return [row[:length] for row, length in zip(best, lengths.tolist(), strict=True)]
