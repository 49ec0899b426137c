"""Attention over encoder outputs: additive (Bahdanau) and multiplicative (Luong) scores.

Given a decoder query ``q`` and the encoder outputs ``k_1..k_S`` (the keys, which are also
the values), a score function rates every source position, a softmax over the *valid*
positions turns the scores into weights, and the context is the weighted sum of the keys:

    additive (Bahdanau et al. 2015):  e_s = v . tanh(W_q q + W_k k_s + b)
    dot (Luong et al. 2015):          e_s = q . k_s        (query and key sizes equal)
    general (Luong et al. 2015):      e_s = q . (W k_s)
    a = softmax(e, padded positions at -inf),   c = sum_s a_s k_s

Padded positions get weight exactly 0, and the weights of every row sum to 1 over its
valid positions.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.validation import check_choice, check_positive_int

SCORES = ("additive", "dot", "general")


class Attention(nn.Module):
    """One attention score function with source masking.

    Args:
        score: ``"additive"``, ``"dot"`` or ``"general"``.
        query_size: features of the decoder query.
        key_size: features of each encoder output.
        attention_size: hidden size of the additive score (ignored by the others).

    Shapes:
        query:   (batch, query_size)
        keys:    (batch, source, key_size)
        mask:    (batch, source) bool, True at valid (not padded) positions
        context: (batch, key_size)
        weights: (batch, source), 0 where ``mask`` is False, rows summing to 1

    Example:
        >>> attention = Attention("general", query_size=4, key_size=6)
        >>> mask = torch.tensor([[True, True, False]])
        >>> context, weights = attention(torch.randn(1, 4), torch.randn(1, 3, 6), mask)
        >>> weights[0, 2].item(), round(weights.sum().item(), 6)
        (0.0, 1.0)
    """

    def __init__(self, score: str, query_size: int, key_size: int,
                 attention_size: int | None = None) -> None:
        super().__init__()
        self.score = check_choice("Attention", "score", score, SCORES)
        self.query_size = check_positive_int("Attention", "query_size", query_size)
        self.key_size = check_positive_int("Attention", "key_size", key_size)
        if score == "dot" and query_size != key_size:
            raise ValueError(f"Attention: score='dot' needs query_size == key_size, got "
                             f"{query_size} and {key_size}; use 'general' or 'additive'")
        if score == "additive":
            size = attention_size or query_size
            self.query_projection = nn.Linear(query_size, size, bias=False)
            self.key_projection = nn.Linear(key_size, size)
            self.energy = nn.Linear(size, 1, bias=False)
        elif score == "general":
            self.key_projection = nn.Linear(key_size, query_size, bias=False)

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        """Unnormalized scores (batch, source)."""
        if self.score == "additive":
            hidden = torch.tanh(self.query_projection(query).unsqueeze(1)
                                + self.key_projection(keys))  # (batch, source, size)
            return self.energy(hidden).squeeze(2)
        projected = keys if self.score == "dot" else self.key_projection(keys)
        return torch.bmm(projected, query.unsqueeze(2)).squeeze(2)

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Context vectors and attention weights; see the class docstring for shapes."""
        if mask.shape != keys.shape[:2]:
            raise ValueError(f"Attention expected a mask of shape {tuple(keys.shape[:2])} "
                             f"(batch, source), got {tuple(mask.shape)}")
        scores = self.scores(query, keys).masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=1)
        context = torch.bmm(weights.unsqueeze(1), keys).squeeze(1)  # (batch, key_size)
        return context, weights

    def extra_repr(self) -> str:
        return f"{self.score}, query_size={self.query_size}, key_size={self.key_size}"
