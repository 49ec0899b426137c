"""Features of a word's spelling: a character CNN with max pooling (Ma and Hovy 2016).

A tagger that only embeds whole words knows nothing of a word it did not see in training
(it reads ``<unk>``), yet ``-ly``, ``-ed``, a capital letter or a digit tell a word's part of
speech or that it names something. Each word's characters are embedded, a convolution of
``width`` characters slides over them, and the largest response of each filter over the
word is its feature (then ``tanh``); the tagger concatenates these features to the word
embedding. A CNN rather than a character BiLSTM (Lample et al. 2016) because it costs one
batched convolution over every word of the batch, which matters on a CPU.

Padding never matters: the padding character's embedding is zero (as the convolution's
own zero padding is), and windows lying wholly past a word's last character are masked
before the max, so a word gives the same features however long the batch's longest word
is. A padding position (a word of no characters) gets zeros.

Shapes:
    chars:    (batch, time, letters) int64, ``pad_id`` past each word's length
    features: (batch, time, filters)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.validation import check_positive_int


class CharFeatures(nn.Module):
    """Per-word features from character ids through a convolution and a max over the word.

    Example:
        >>> features = CharFeatures(num_chars=10, embedding_size=4, filters=6, width=3)
        >>> chars = torch.tensor([[[2, 3, 4], [5, 0, 0]], [[6, 7, 0], [0, 0, 0]]])
        >>> features(chars).shape
        torch.Size([2, 2, 6])
    """

    def __init__(self, num_chars: int, embedding_size: int, filters: int, width: int = 3,
                 pad_id: int = 0) -> None:
        super().__init__()
        for name, value in (("num_chars", num_chars), ("embedding_size", embedding_size),
                            ("filters", filters), ("width", width)):
            check_positive_int("CharFeatures", name, value)
        self.pad_id, self.width, self.filters = pad_id, width, filters
        self.embedding = nn.Embedding(num_chars, embedding_size, padding_idx=pad_id)
        # Padding width - 1 on both sides: every window that touches the word is computed,
        # so a one-letter word has `width` windows, and a prefix or suffix is seen at the edge.
        self.convolution = nn.Conv1d(embedding_size, filters, width, padding=width - 1)

    def forward(self, chars: Tensor) -> Tensor:
        """Features (batch, time, filters) of each word's characters (module docs)."""
        if chars.dim() != 3 or chars.dtype != torch.long:
            raise ValueError(f"CharFeatures expected character ids as a (batch, time, letters) "
                             f"int64 tensor, got shape {tuple(chars.shape)} and dtype "
                             f"{chars.dtype}")
        batch, time, letters = chars.shape
        words = chars.reshape(batch * time, letters)
        lengths = (words != self.pad_id).sum(dim=1)  # (words,)
        embedded = self.embedding(words).transpose(1, 2)  # (words, embedding, letters)
        responses = self.convolution(embedded)  # (words, filters, letters + width - 1)
        # Window j covers letters j - width + 1 .. j: it touches the word while j < n + width - 1.
        positions = torch.arange(responses.shape[2], device=chars.device)
        outside = positions[None, :] >= (lengths + self.width - 1)[:, None]
        responses = responses.masked_fill(outside[:, None, :], float("-inf"))
        pooled = responses.max(dim=2).values.masked_fill((lengths == 0)[:, None], 0.0)
        return torch.tanh(pooled).reshape(batch, time, self.filters)

    def extra_repr(self) -> str:
        return f"filters={self.filters}, width={self.width}"
