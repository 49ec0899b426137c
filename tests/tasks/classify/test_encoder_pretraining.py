"""Language-model pretraining of the token encoder: the loss pairs each direction's output
with the right neighbour (checked by explicit loops), stacked bidirectional encoders are
refused, and pretraining learns a predictable corpus."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from rnnkit.models.token_encoder import EncoderConfig, TokenEncoder
from rnnkit.tasks.classify.encoder_pretraining import EncoderLanguageModel, pretrain_encoder
from rnnkit.training.example_training import ExampleTrainingConfig


def encoder(**options) -> TokenEncoder:
    torch.manual_seed(0)
    settings = dict(vocab_size=11, embedding_size=5, hidden_size=4, dropout=0.0)
    settings.update(options)
    return TokenEncoder(EncoderConfig(**settings), owner="Test")


def test_the_loss_predicts_the_next_token_forward_and_the_previous_one_backward() -> None:
    model = EncoderLanguageModel(encoder()).double()
    tokens = torch.tensor([[2, 3, 4, 5], [6, 7, 0, 0], [8, 0, 0, 0]])
    lengths = torch.tensor([4, 2, 1])
    outputs, _ = model.encoder(tokens, lengths)
    forward_terms, backward_terms = [], []
    for row, length in enumerate(lengths.tolist()):
        for step in range(length - 1):
            forward_terms.append(F.cross_entropy(
                model.next_token(outputs[row, step, :4])[None], tokens[row, step + 1][None]))
            backward_terms.append(F.cross_entropy(
                model.previous_token(outputs[row, step + 1, 4:])[None], tokens[row, step][None]))
    expected = (torch.stack(forward_terms).mean() + torch.stack(backward_terms).mean()) / 2
    torch.testing.assert_close(model.loss(tokens, lengths), expected, rtol=0, atol=1e-12)


def test_a_stacked_bidirectional_encoder_is_refused() -> None:
    with pytest.raises(ValueError, match="one-layer encoder when it is bidirectional"):
        EncoderLanguageModel(encoder(num_layers=2))
    EncoderLanguageModel(encoder(num_layers=2, bidirectional=False))  # forward only: fine


def test_pretraining_learns_a_predictable_corpus() -> None:
    generator = torch.Generator().manual_seed(1)

    def counting(count: int) -> list[list[int]]:  # each token is the one before it plus 1
        starts = torch.randint(2, 6, (count,), generator=generator).tolist()
        return [list(range(start, start + 5)) for start in starts]
    model = encoder()
    config = ExampleTrainingConfig(batch_size=8, lr=2e-2, progress=False, device="cpu")
    train = [(ids, 0) for ids in counting(64)]
    valid = [(ids, 0) for ids in counting(16)]
    history = pretrain_encoder(model, train, valid, config, epochs=12)
    losses = [row["lm_loss"] for row in history]
    assert losses[-1] < 0.5 * losses[0]
    assert len(history) == 12


def test_with_weight_averaging_the_averaged_encoder_is_kept() -> None:
    texts = [([2 + (i % 4), 3 + (i % 4), 4 + (i % 4)], 0) for i in range(24)]

    def pretrained(decay: float) -> dict[str, torch.Tensor]:
        model = encoder()
        config = ExampleTrainingConfig(batch_size=8, lr=2e-2, progress=False, device="cpu",
                                       average_decay=decay)
        pretrain_encoder(model, texts, texts[:8], config, epochs=1)
        return model.state_dict()

    plain, averaged, again = pretrained(0.0), pretrained(0.5), pretrained(0.0)
    for name, weights in plain.items():
        torch.testing.assert_close(again[name], weights, rtol=0, atol=0)
    # The kept encoder is the validated one, the average (not the last step's weights).
    assert any(not torch.equal(averaged[name], weights) for name, weights in plain.items()
               if name.startswith("rnn"))
