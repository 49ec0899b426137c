"""A linear-chain conditional random field over per-step tag scores (Lafferty et al. 2001).

The score of a tag sequence ``y_1..y_L`` for emissions ``e`` (the tagger's per-step
scores) is

    s(y) = start[y_1] + sum_t e_t[y_t] + sum_{t>1} transitions[y_{t-1}, y_t] + end[y_L]

and ``p(y | x) = exp(s(y)) / Z`` with ``Z`` the sum over every sequence of the row's length,
computed by the forward algorithm in log space; :meth:`LinearChainCRF.decode` finds the
best sequence by Viterbi. Rows are masked by their lengths, so padding adds nothing.

Shapes:
    emissions: (batch, time, tags)
    tags:      (batch, time) int64 (anything past a row's length is ignored)
    lengths:   (batch,) int64, each >= 1
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.validation import check_positive_int


class LinearChainCRF(nn.Module):
    """Transition scores between tags, with the forward algorithm and Viterbi.

    Example:
        >>> crf = LinearChainCRF(3)
        >>> emissions = torch.randn(2, 4, 3)
        >>> lengths = torch.tensor([4, 2])
        >>> nll = crf.negative_log_likelihood(emissions, torch.zeros(2, 4, dtype=torch.long),
        ...                                   lengths)
        >>> [len(path) for path in crf.decode(emissions, lengths)]
        [4, 2]
    """

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        self.num_tags = check_positive_int("LinearChainCRF", "num_tags", num_tags)
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))

    def negative_log_likelihood(self, emissions: Tensor, tags: Tensor,
                                lengths: Tensor) -> Tensor:
        """Summed ``-log p(tags | x)`` over the batch (divide by the batch for a mean)."""
        mask = self._mask(emissions, lengths)
        return (self.log_partition(emissions, lengths) - self._path_score(emissions, tags,
                                                                          mask)).sum()

    def log_partition(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """``log Z`` of every row (batch,), by the forward algorithm."""
        mask = self._mask(emissions, lengths)
        alpha = self.start + emissions[:, 0]  # (batch, tags)
        for step in range(1, emissions.shape[1]):
            # (batch, previous, 1) + (previous, next) -> logsumexp over previous
            scores = alpha.unsqueeze(2) + self.transitions
            moved = torch.logsumexp(scores, dim=1) + emissions[:, step]
            alpha = torch.where(mask[:, step:step + 1], moved, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)

    @torch.no_grad()
    def decode(self, emissions: Tensor, lengths: Tensor) -> list[list[int]]:
        """The highest-scoring tag sequence of each row (Viterbi), its own length long."""
        mask = self._mask(emissions, lengths)
        score = self.start + emissions[:, 0]
        backpointers = []
        for step in range(1, emissions.shape[1]):
            best, previous = (score.unsqueeze(2) + self.transitions).max(dim=1)
            moved = best + emissions[:, step]
            score = torch.where(mask[:, step:step + 1], moved, score)
            backpointers.append(previous)
        score = score + self.end
        paths = []
        for row, length in enumerate(lengths.tolist()):
            tag = int(score[row].argmax())
            path = [tag]
            for step in range(length - 2, -1, -1):
                tag = int(backpointers[step][row, tag])
                path.append(tag)
            paths.append(path[::-1])
        return paths

    def _path_score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """``s(tags)`` of every row (batch,) over its valid steps."""
        rows = torch.arange(emissions.shape[0], device=emissions.device)
        # Padding may hold anything, e.g. pad_examples' IGNORE_INDEX (-100), which cannot
        # index a tag: read tag 0 there (those steps are multiplied by 0 below).
        tags = tags.masked_fill(~mask, 0)
        score = self.start[tags[:, 0]] + emissions[rows, 0, tags[:, 0]]
        for step in range(1, emissions.shape[1]):
            step_score = (self.transitions[tags[:, step - 1], tags[:, step]]
                          + emissions[rows, step, tags[:, step]])
            score = score + step_score * mask[:, step]
        last = tags.gather(1, (mask.sum(dim=1, keepdim=True) - 1)).squeeze(1)
        return score + self.end[last]

    def _mask(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        if emissions.dim() != 3 or emissions.shape[2] != self.num_tags:
            raise ValueError(f"LinearChainCRF expected emissions of shape (batch, time, "
                             f"{self.num_tags}), got {tuple(emissions.shape)}")
        lengths = lengths.to(emissions.device)
        if lengths.shape != (emissions.shape[0],) or bool((lengths < 1).any()) \
                or bool((lengths > emissions.shape[1]).any()):
            raise ValueError(f"LinearChainCRF expected lengths (batch={emissions.shape[0]},) "
                             f"in [1, {emissions.shape[1]}], got {lengths.tolist()}")
        return torch.arange(emissions.shape[1], device=emissions.device) < lengths[:, None]

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}"
