"""One vector from a variable-length sequence of vectors: the many-to-one read-out.

Every kind looks at the valid steps of each row only (``lengths``), so padding never
changes the result:

- ``"last"``: the recurrent layer's final state (of the top layer; both directions joined
  for a bidirectional layer: the forward direction's last real step and the backward
  direction's first). Passed in as ``final``, since only the layer knows it.
- ``"mean"``: the mean of the outputs over the valid steps.
- ``"max"``: the largest value of each feature over the valid steps.
- ``"attention"``: a weighted sum of the outputs, the weights a softmax over the valid
  steps of an additive score against a learned query (Yang et al. 2016's context vector;
  :class:`~rnnkit.models.attention.Attention`).

Shapes:
    outputs: (batch, time, features), zero or anything past each row's length
    lengths: (batch,) int64
    final:   (batch, features), needed by ``"last"`` only
    pooled:  (batch, features)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.models.attention import Attention
from rnnkit.validation import check_choice, check_positive_int

POOLINGS = ("last", "mean", "max", "attention")


class SequencePooling(nn.Module):
    """Pool ``(batch, time, features)`` outputs over each row's valid steps (module docs).

    Example:
        >>> pool = SequencePooling("mean", features=2)
        >>> outputs = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [9.0, 9.0]]])
        >>> pool(outputs, torch.tensor([2, 1])).tolist()
        [[2.0, 3.0], [5.0, 6.0]]
    """

    def __init__(self, kind: str, features: int) -> None:
        super().__init__()
        self.kind = check_choice("SequencePooling", "kind", kind, POOLINGS)
        self.features = check_positive_int("SequencePooling", "features", features)
        if kind == "attention":
            self.query = nn.Parameter(torch.randn(features) * features ** -0.5)
            self.attention = Attention("additive", features, features)

    def forward(self, outputs: Tensor, lengths: Tensor, final: Tensor | None = None) -> Tensor:
        """The pooled vectors (batch, features); see the module docstring."""
        batch, time = outputs.shape[0], outputs.shape[1]
        valid = torch.arange(time, device=outputs.device) < lengths.to(outputs.device)[:, None]
        if self.kind == "last":
            if final is None:
                raise ValueError("SequencePooling('last') needs the layer's final state")
            return final
        if self.kind == "mean":
            summed = (outputs * valid.unsqueeze(2)).sum(dim=1)
            return summed / lengths.to(outputs.device, outputs.dtype).unsqueeze(1)
        if self.kind == "max":
            return outputs.masked_fill(~valid.unsqueeze(2), float("-inf")).amax(dim=1)
        query = self.query.expand(batch, self.features)
        pooled, _ = self.attention(query, outputs, valid)
        return pooled

    def extra_repr(self) -> str:
        return f"{self.kind!r}, features={self.features}"
