r"""The residual block of the minGRU/minLSTM language models, stacked: what ``cell="mingru"``
or ``"minlstm"`` puts inside a :class:`~rnnkit.models.language_model.LanguageModel`.

Feng et al. (2024) train their minimal recurrences as a language model the way a
Transformer is built: each layer is a pre-norm residual block,

.. math::
    x \leftarrow x + \mathrm{MinRNN}(\mathrm{RMSNorm}(x)), \qquad
    x \leftarrow x + \mathrm{FFN}(\mathrm{RMSNorm}(x)),

with ``FFN(x) = W_2 GELU(W_1 x + b_1) + b_2`` four times as wide as the stream, and a final
RMSNorm. A stack of bare minimal layers trains poorly: without the state in the gates each
layer is a weak mixer over time, and the feed-forward part and the residual path give the
depth back. This is ``minLM`` of ``mingru-pytorch`` (without its optional convolution and
expansion), which the tests hold it to with weights copied across.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.layers.minimal import MinGRU, MinimalRecurrentLayer, MinLSTM
from rnnkit.layers.sequences import step_mask
from rnnkit.validation import check_choice, check_positive_int, check_value

RESIDUAL_CELLS: dict[str, type[MinimalRecurrentLayer]] = {"mingru": MinGRU, "minlstm": MinLSTM}
FEED_FORWARD_MULTIPLE = 4


class ResidualBlock(nn.Module):
    """One pre-norm residual block: the recurrence, then the feed-forward part.

    Shapes (batch first):
        input:  (batch, time, hidden)
        state:  (1, batch, hidden)
        output: (batch, time, hidden), and the state after the last step
    """

    def __init__(self, cell: str, hidden_size: int, dropout: float, *,
                 device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        width = FEED_FORWARD_MULTIPLE * hidden_size
        self.dropout = dropout
        self.recurrent_norm = nn.RMSNorm(hidden_size, **factory)
        self.recurrent = RESIDUAL_CELLS[cell](hidden_size, hidden_size, batch_first=True,
                                              **factory)
        self.feed_forward_norm = nn.RMSNorm(hidden_size, **factory)
        self.feed_forward = nn.Sequential(nn.Linear(hidden_size, width, **factory), nn.GELU(),
                                          nn.Linear(width, hidden_size, **factory))

    def forward(self, input: Tensor, state: Tensor | None,
                lengths: Tensor | None) -> tuple[Tensor, Tensor]:
        if input.shape[1] == 1 and state is not None and lengths is None \
                and not torch.is_autocast_enabled(input.device.type):
            # Generation: one step from a carried state, on the layer's lean step.
            h = self.recurrent.step(self.recurrent_norm(input[:, 0]), state[0])
            mixed, state = h.unsqueeze(1), h.unsqueeze(0)
        else:
            mixed, state = self.recurrent(self.recurrent_norm(input), state, lengths=lengths)
        hidden = input + F.dropout(mixed, self.dropout, self.training)
        fed = self.feed_forward(self.feed_forward_norm(hidden))
        return hidden + F.dropout(fed, self.dropout, self.training), state


class ResidualRecurrentStack(nn.Module):
    """``num_layers`` residual minGRU or minLSTM blocks between an input projection and a
    final RMSNorm, with the state interface of a one-direction rnnkit layer.

    ``dropout`` acts on each block's two branches (as in a Transformer block). The input is
    projected to ``hidden_size`` when ``input_size`` differs.

    Shapes (batch first, like every layer inside a language model):
        input:   (batch, time, input_size)
        hx:      (num_layers, batch, hidden_size); zeros if omitted
        lengths: (batch,) int64, optional; a padded step leaves each block's state as it was
        output:  (batch, time, hidden_size); zero past each row's length
        h_n:     (num_layers, batch, hidden_size)

    Example:
        >>> stack = ResidualRecurrentStack("mingru", 8, 16, num_layers=2)
        >>> output, h_n = stack(torch.randn(3, 5, 8))
        >>> tuple(output.shape), tuple(h_n.shape)
        ((3, 5, 16), (2, 3, 16))
    """

    batch_first = True
    bidirectional = False
    num_directions = 1
    proj_size = 0

    def __init__(self, cell: str, input_size: int, hidden_size: int, *, num_layers: int = 1,
                 dropout: float = 0.0, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        owner = "ResidualRecurrentStack"
        self.cell = check_choice(owner, "cell", cell, tuple(RESIDUAL_CELLS))
        self.input_size = check_positive_int(owner, "input_size", input_size)
        self.hidden_size = check_positive_int(owner, "hidden_size", hidden_size)
        self.num_layers = check_positive_int(owner, "num_layers", num_layers)
        dropout = check_value(owner, "dropout", dropout, float, "[0, 1)")
        factory = {"device": device, "dtype": dtype}
        self.input_projection: nn.Module = (
            nn.Identity() if input_size == hidden_size
            else nn.Linear(input_size, hidden_size, bias=False, **factory))
        self.blocks = nn.ModuleList(ResidualBlock(cell, hidden_size, dropout, **factory)
                                    for _ in range(num_layers))
        self.norm = nn.RMSNorm(hidden_size, **factory)

    def state_sizes(self) -> tuple[int, ...]:
        """The state is ``h`` alone, one per block."""
        return (self.hidden_size,)

    @property
    def backend(self) -> str:
        """The path the first block's recurrence took last (all blocks take the same)."""
        return self.blocks[0].recurrent.backend

    def forward(self, input: Tensor, hx: Tensor | None = None,
                lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Run the blocks over ``input``; see the class docstring for shapes."""
        if hx is not None and (hx.dim() != 3 or hx.shape[0] != self.num_layers
                               or hx.shape[2] != self.hidden_size):
            raise ValueError(f"ResidualRecurrentStack expected hx of shape ({self.num_layers},"
                             f" batch, {self.hidden_size}), got {tuple(hx.shape)}")
        hidden = self.input_projection(input)  # (batch, time, hidden)
        finals = []
        for index, block in enumerate(self.blocks):
            hidden, final = block(hidden, None if hx is None else hx[index:index + 1], lengths)
            finals.append(final)
        output = self.norm(hidden)
        if lengths is not None:
            mask = step_mask(lengths.to(output.device), output.shape[1])  # (time, batch, 1)
            output = output * mask.transpose(0, 1).to(output.dtype)
        return output, torch.cat(finals)

    def extra_repr(self) -> str:
        return f"{self.cell!r}, {self.input_size}, {self.hidden_size}, " \
               f"num_layers={self.num_layers}"
