"""Language-model pretraining of a token encoder before it learns a task.

Dai & Le (2015, "Semi-supervised sequence learning") found that an LSTM first trained as a
language model on the task's own texts classifies them better than one started from
random weights: the embedding and recurrent weights already encode which words behave
alike. A bidirectional encoder is pretrained as two language models at once, as in ELMo
(Peters et al. 2018): the forward direction's output at step ``t`` predicts token
``t + 1`` and the backward direction's predicts token ``t - 1``. With one layer neither
direction has seen the token it predicts; a second bidirectional layer would read the
other direction's view of it, so pretraining refuses stacked bidirectional encoders.

The heads are thrown away afterwards; the encoder keeps the weights of the epoch with the
lowest validation loss.

Shapes:
    tokens:  (batch, time) int64, padded past each row's length
    lengths: (batch,) int64
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.data.token_batches import (
    Example,
    SpelledExample,
    TokenBatch,
    bucketed_examples,
    evaluation_batches,
)
from rnnkit.models.token_encoder import TokenEncoder
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.example_training import (
    ExampleTask,
    ExampleTrainingConfig,
    train_on_examples,
)

log = logging.getLogger(__name__)


class EncoderLanguageModel(nn.Module):
    """A token encoder with next-token (and, if bidirectional, previous-token) heads.

    Example:
        >>> from rnnkit.models.token_encoder import EncoderConfig
        >>> encoder = TokenEncoder(EncoderConfig(vocab_size=9, embedding_size=4,
        ...                                      hidden_size=3), owner="Example")
        >>> model = EncoderLanguageModel(encoder)
        >>> model.loss(torch.tensor([[2, 3, 4], [5, 6, 0]]), torch.tensor([3, 2])).dim()
        0
    """

    def __init__(self, encoder: TokenEncoder) -> None:
        super().__init__()
        config = encoder.config
        if config.bidirectional and config.num_layers > 1:
            raise ValueError("language-model pretraining needs a one-layer encoder when it is "
                             f"bidirectional (the upper layers would see the token each "
                             f"direction predicts), got num_layers={config.num_layers}")
        self.encoder = encoder
        self.next_token = nn.Linear(config.hidden_size, config.vocab_size)
        self.previous_token = (nn.Linear(config.hidden_size, config.vocab_size)
                               if config.bidirectional else None)

    def loss(self, tokens: Tensor, lengths: Tensor, chars: Tensor | None = None) -> Tensor:
        """Mean cross-entropy of every predicted neighbour over the valid steps (the two
        directions averaged); ``chars`` as the encoder needs them."""
        outputs, _ = self.encoder(tokens, lengths, chars)  # (batch, time, dirs * hidden)
        hidden = self.encoder.config.hidden_size
        lengths = lengths.to(tokens.device)
        # a pair (t, t + 1) is valid when t + 1 < length
        pairs = torch.arange(tokens.shape[1] - 1, device=tokens.device) < (lengths - 1)[:, None]
        if not pairs.any():
            return outputs.sum() * 0.0  # only one-token rows: nothing to predict
        forward = outputs[:, :-1, :hidden][pairs]  # (pairs, hidden), steps 0 .. T-2
        losses = [F.cross_entropy(self.next_token(forward), tokens[:, 1:][pairs])]
        if self.previous_token is not None:
            backward = outputs[:, 1:, hidden:][pairs]  # steps 1 .. T-1
            losses.append(F.cross_entropy(self.previous_token(backward), tokens[:, :-1][pairs]))
        return sum(losses) / len(losses)


def pretrain_encoder(encoder: TokenEncoder, train: Sequence[Example | SpelledExample],
                     valid: Sequence[Example | SpelledExample], config: ExampleTrainingConfig,
                     epochs: int) -> list[dict[str, float]]:
    """Train ``encoder`` as a language model on the texts of the examples ``train`` (their
    targets are not read) for ``epochs`` epochs (the rate, batch size and clipping of
    ``config``, no decay), keep the epoch with the lowest loss on ``valid``; returns the
    epochs' validation figures."""
    model = EncoderLanguageModel(encoder).to(next(encoder.parameters()).device)
    train_examples = [example for example in train if len(example[0]) > 1]
    valid_examples = [example for example in valid if len(example[0]) > 1]
    if not train_examples or not valid_examples:
        raise ValueError("language-model pretraining needs texts of two or more tokens in "
                         "both the training and the validation part")
    # Its own run folder inside the task's, checkpointed like any run; the best epoch's
    # encoder is taken from there.
    settings = dataclasses.replace(config, max_epochs=epochs, lr_decay=1.0, eval_every_epochs=1,
                                   max_time=None,
                                   out_dir=str(Path(config.out_dir) / "pretraining"),
                                   resume=False)
    trained = train_on_examples(model, settings, ExampleTask(
        loss_of=lambda m, batch: m.loss(batch.tokens, batch.lengths, batch.chars),
        batches=lambda epoch: bucketed_examples(train_examples, config.batch_size,
                                                seed=config.seed + 1000 + epoch),
        validate=lambda m: {"lm_loss": _mean_loss(m, valid_examples)},
        error_of=lambda figures: figures["lm_loss"], figure_names=("lm_loss",),
        saved_config={"pretraining": {"epochs": epochs}}, saved_tables={}))
    best_state = {key.removeprefix("encoder."): value for key, value in
                  load_checkpoint(settings.out_dir, tag="best").model_state.items()
                  if key.startswith("encoder.")}
    encoder.load_state_dict(best_state)
    return trained.history


@torch.no_grad()
def _mean_loss(model: EncoderLanguageModel,
               examples: Sequence[Example | SpelledExample]) -> float:
    """The language-model loss over ``examples``, weighted by their predicted tokens."""
    model.eval()
    device = next(model.parameters()).device
    total = weight = 0.0
    for _, batch in evaluation_batches(examples, 256):
        batch: TokenBatch
        count = float((batch.lengths - 1).sum())
        chars = None if batch.chars is None else batch.chars.to(device)
        total += float(model.loss(batch.tokens.to(device), batch.lengths, chars)) * count
        weight += count
    model.train()
    return total / weight
