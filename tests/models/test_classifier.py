"""The many-to-one classifier: padding never changes a sentence's logits, and each
pooling reads what its definition says, checked against the layer's outputs in NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from learning import assert_every_parameter_learns

from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.pooling import SequencePooling

POOLINGS = ["last", "mean", "max", "attention"]


def classifier(pooling: str, cell: str = "lstm", **options) -> SequenceClassifier:
    torch.manual_seed(0)
    config = ClassifierConfig(vocab_size=13, num_classes=4, cell=cell, embedding_size=6,
                              hidden_size=5, num_layers=2, pooling=pooling, **options)
    return SequenceClassifier(config).eval()


TOKENS = torch.tensor([[3, 4, 5, 6, 7], [8, 9, 0, 0, 0], [5, 3, 10, 0, 0]])
LENGTHS = torch.tensor([5, 2, 3])


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_a_sentence_alone_and_in_a_padded_batch_give_the_same_logits(pooling: str,
                                                                      cell: str) -> None:
    model = classifier(pooling, cell)
    junk = TOKENS.clone()
    junk[1, 2:], junk[2, 3:] = 12, 11  # padding positions hold real tokens: must not matter
    together = model(junk, LENGTHS)
    for row in range(3):
        alone = model(TOKENS[row:row + 1, :LENGTHS[row]], LENGTHS[row:row + 1])
        torch.testing.assert_close(together[row], alone[0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_pooling_follows_its_definition_over_the_valid_steps(pooling: str) -> None:
    model = classifier(pooling).double()
    outputs, final = model.encoder.rnn(model.encoder.embedding(TOKENS), lengths=LENGTHS)
    pooled = model.pooling(outputs, LENGTHS, model._top_layer_state(final)).detach().numpy()
    out = outputs.detach().numpy()
    for row, length in enumerate(LENGTHS.tolist()):
        valid = out[row, :length]  # (length, 2 * hidden): forward half, then backward half
        if pooling == "mean":
            expected = valid.mean(axis=0)
        elif pooling == "max":
            expected = valid.max(axis=0)
        else:  # forward at the last real step, backward at the first
            expected = np.concatenate([valid[-1, :5], valid[0, 5:]])
        np.testing.assert_allclose(pooled[row], expected, rtol=0, atol=1e-12)


def test_attention_pooling_is_a_softmax_over_the_valid_steps() -> None:
    torch.manual_seed(1)
    pool = SequencePooling("attention", features=3).double()
    outputs = torch.randn(2, 4, 3, dtype=torch.float64)
    lengths = torch.tensor([4, 2])
    pooled = pool(outputs, lengths).detach().numpy()
    attention = pool.attention
    wq = attention.query_projection.weight.detach().numpy()
    wk = attention.key_projection.weight.detach().numpy()
    bk = attention.key_projection.bias.detach().numpy()
    v = attention.energy.weight.detach().numpy()[0]
    q = pool.query.detach().numpy()
    for row, length in enumerate(lengths.tolist()):
        keys = outputs[row, :length].numpy()
        scores = np.array([v @ np.tanh(wq @ q + wk @ key + bk) for key in keys])
        weights = np.exp(scores - scores.max())
        weights /= weights.sum()
        np.testing.assert_allclose(pooled[row], weights @ keys, rtol=0, atol=1e-12)


def test_every_parameter_learns_and_bad_inputs_are_named() -> None:
    model = classifier("attention")
    labels = torch.tensor([0, 1, 3])
    assert_every_parameter_learns(
        model, lambda: torch.nn.functional.cross_entropy(model(TOKENS, LENGTHS), labels))
    with pytest.raises(ValueError, match=r"\(batch, time\) int64 tensor, got shape \(3, 5\) "
                                         r"and dtype torch.float32"):
        model(TOKENS.float(), LENGTHS)
    with pytest.raises(ValueError, match="lengths"):
        model(TOKENS, torch.tensor([6, 2, 3]))
    with pytest.raises(ValueError, match="pooling must be one of"):
        ClassifierConfig(pooling="sum")
    with pytest.raises(ValueError, match="needs the layer's final state"):
        SequencePooling("last", 4)(torch.zeros(1, 2, 4), torch.tensor([2]))


@pytest.mark.parametrize("pooling", POOLINGS)
def test_with_character_features_padding_still_changes_nothing(pooling: str) -> None:
    model = classifier(pooling, char_vocab_size=9, char_embedding_size=3, char_filters=4)
    generator = torch.Generator().manual_seed(3)
    chars = torch.randint(2, 9, (3, 5, 4), generator=generator)
    chars[:, :, 3] = 0  # every word has at most 3 letters
    chars[1, 2:], chars[2, 3:] = 0, 0  # padding positions have no letters
    together = model(TOKENS, LENGTHS, chars)
    for row in range(3):
        length = int(LENGTHS[row])
        alone = model(TOKENS[row:row + 1, :length], LENGTHS[row:row + 1],
                      chars[row:row + 1, :length, :3])
        torch.testing.assert_close(together[row], alone[0], rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="with character features expected chars"):
        model(TOKENS, LENGTHS)
