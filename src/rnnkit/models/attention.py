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

    Shapes (one query per row, as a decoder step asks; or ``steps`` queries per row, as a
    teacher-forced decoder without input feeding asks all at once):
        query:   (batch, query_size) or (batch, steps, query_size)
        keys:    (batch, source, key_size)
        mask:    (batch, source) bool, True at valid (not padded) positions
        context: (batch, key_size) or (batch, steps, key_size)
        weights: (batch, source) or (batch, steps, source), 0 where ``mask`` is False,
                 summing to 1 over ``source``

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
        """Unnormalized scores (batch, steps, source) for queries (batch, steps, query)."""
        if self.score == "additive":
            hidden = torch.tanh(self.query_projection(query).unsqueeze(2)
                                + self.key_projection(keys).unsqueeze(1))
            return self.energy(hidden).squeeze(3)  # hidden: (batch, steps, source, size)
        projected = keys if self.score == "dot" else self.key_projection(keys)
        return torch.bmm(query, projected.transpose(1, 2))

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Context vectors and attention weights; see the class docstring for shapes."""
        self._check(query, keys, mask)
        one_step = query.dim() == 2
        queries = query.unsqueeze(1) if one_step else query  # (batch, steps, query)
        scores = self.scores(queries, keys).masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=2)  # (batch, steps, source)
        context = torch.bmm(weights, keys)  # (batch, steps, key_size)
        if one_step:
            return context.squeeze(1), weights.squeeze(1)
        return context, weights

    def _check(self, query: Tensor, keys: Tensor, mask: Tensor) -> None:
        if keys.dim() != 3 or keys.shape[2] != self.key_size:
            raise ValueError(f"Attention expected keys of shape (batch, source, "
                             f"{self.key_size}), got {tuple(keys.shape)}")
        if query.dim() not in (2, 3) or query.shape[0] != keys.shape[0] \
                or query.shape[-1] != self.query_size:
            raise ValueError(f"Attention expected a query of shape (batch={keys.shape[0]}, "
                             f"{self.query_size}) or (batch={keys.shape[0]}, steps, "
                             f"{self.query_size}), got {tuple(query.shape)}")
        if mask.shape != keys.shape[:2]:
            raise ValueError(f"Attention expected a mask of shape {tuple(keys.shape[:2])} "
                             f"(batch, source), got {tuple(mask.shape)}")

    def extra_repr(self) -> str:
        return f"{self.score}, query_size={self.query_size}, key_size={self.key_size}"
