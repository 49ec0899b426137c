"""Models for the long-range tasks: recurrent layers (one unless asked) and a linear read-out.

The cell names are the ones the gradient-flow probes use, so an experiment can name the
same cell in both: ``rnn_tanh``, ``rnn_relu`` (uniform init), ``irnn`` (ReLU with identity
recurrent matrix, Le et al. 2015), ``lstm`` (with ``forget_bias``), ``gru``, and the
input-gated ``mingru`` and ``minlstm`` (Feng et al. 2024).
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells.catalog import CATALOG, CELL_NAMES
from rnnkit.layers import RecurrentLayer
from rnnkit.layers.factory import build_layer
from rnnkit.layers.minimal import MinimalRecurrentLayer
from rnnkit.validation import check_choice, check_positive_int


def build_task_layer(cell: str, input_size: int, hidden_size: int, *, num_layers: int = 1,
                     forget_bias: float = 1.0) -> RecurrentLayer | MinimalRecurrentLayer:
    """A batch-first rnnkit layer of ``num_layers`` stacked layers by cell name."""
    check_choice("build_task_layer", "cell", cell, CELL_NAMES)
    options = {"forget_bias": forget_bias} if CATALOG[cell].kind == "lstm" else {}
    return build_layer(cell, input_size, hidden_size, num_layers=num_layers, **options)


class LastStepRegressor(nn.Module):
    """Many-to-one: read the sequence, predict numbers from the last hidden state.

    Shapes:
        inputs:  (batch, time, input_size)
        returns: (batch, output_size), or (batch,) when ``output_size`` is 1
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, output_size: int = 1, *,
                 num_layers: int = 1, forget_bias: float = 1.0) -> None:
        super().__init__()
        check_positive_int("LastStepRegressor", "output_size", output_size)
        self.rnn = build_task_layer(cell, input_size, hidden_size, num_layers=num_layers,
                                    forget_bias=forget_bias)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, inputs: Tensor) -> Tensor:
        output, _ = self.rnn(inputs)
        prediction = self.head(output[:, -1])  # (batch, output_size)
        return prediction.squeeze(-1) if prediction.shape[-1] == 1 else prediction


class StepClassifier(nn.Module):
    """Many-to-many: one-hot tokens in, a distribution over tokens out at every step.

    Shapes:
        tokens:  (batch, time) token ids below ``vocab_size``
        returns: (batch, time, vocab_size) logits
    """

    def __init__(self, cell: str, vocab_size: int, hidden_size: int, *, num_layers: int = 1,
                 forget_bias: float = 1.0) -> None:
        super().__init__()
        check_positive_int("StepClassifier", "vocab_size", vocab_size)
        self.vocab_size = vocab_size
        self.rnn = build_task_layer(cell, vocab_size, hidden_size, num_layers=num_layers,
                                    forget_bias=forget_bias)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens: Tensor) -> Tensor:
        if int(tokens.max()) >= self.vocab_size or int(tokens.min()) < 0:
            raise ValueError(f"StepClassifier expected token ids in [0, {self.vocab_size}), got "
                             f"ids from {int(tokens.min())} to {int(tokens.max())}")
        one_hot = F.one_hot(tokens, self.vocab_size).to(self.head.weight.dtype)
        output, _ = self.rnn(one_hot)
        return self.head(output)
