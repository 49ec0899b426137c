"""The tagger: padding never changes a sentence's tags or scores, the loss counts valid
tokens only, and with a CRF it predicts the CRF's best path."""

from __future__ import annotations

import pytest
import torch
from learning import assert_every_parameter_learns
from torch.nn import functional as F

from rnnkit.models.tagger import SequenceTagger, TaggerConfig

TOKENS = torch.tensor([[3, 4, 5, 6, 7], [8, 9, 0, 0, 0], [5, 3, 10, 0, 0]])
LENGTHS = torch.tensor([5, 2, 3])


def tagger(crf: bool = False, cell: str = "lstm") -> SequenceTagger:
    torch.manual_seed(0)
    return SequenceTagger(TaggerConfig(vocab_size=13, num_tags=4, cell=cell, embedding_size=6,
                                       hidden_size=5, num_layers=2, crf=crf)).eval()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("crf", [False, True])
def test_a_sentence_alone_and_in_a_padded_batch_agree(crf: bool, cell: str) -> None:
    model = tagger(crf, cell)
    junk = TOKENS.clone()
    junk[1, 2:] = 12
    scores = model(junk, LENGTHS)
    predicted = model.predict(junk, LENGTHS)
    for row, length in enumerate(LENGTHS.tolist()):
        alone = TOKENS[row:row + 1, :length]
        torch.testing.assert_close(scores[row, :length], model(alone, LENGTHS[row:row + 1])[0],
                                   rtol=0, atol=1e-6)
        assert predicted[row] == model.predict(alone, LENGTHS[row:row + 1])[0]


def test_the_loss_counts_valid_tokens_only() -> None:
    model = tagger()
    tags = torch.tensor([[0, 1, 2, 3, 0], [1, 1, 3, 3, 3], [2, 0, 1, 2, 2]])
    scores = model(TOKENS, LENGTHS)
    flat = torch.cat([scores[row, :n] for row, n in enumerate(LENGTHS.tolist())])
    wanted = torch.cat([tags[row, :n] for row, n in enumerate(LENGTHS.tolist())])
    torch.testing.assert_close(model.loss(scores, tags, LENGTHS), F.cross_entropy(flat, wanted))
    other = tags.clone()
    other[1, 2:] = 0  # a different tag on padding: the same loss
    torch.testing.assert_close(model.loss(scores, other, LENGTHS), model.loss(scores, tags,
                                                                              LENGTHS))


def test_with_a_crf_the_prediction_is_viterbi_and_the_loss_its_likelihood() -> None:
    model = tagger(crf=True)
    scores = model(TOKENS, LENGTHS)
    assert model.predict(TOKENS, LENGTHS) == model.crf.decode(scores, LENGTHS)
    tags = torch.zeros(3, 5, dtype=torch.long)
    expected = model.crf.negative_log_likelihood(scores, tags, LENGTHS) / 10
    torch.testing.assert_close(model.loss(scores, tags, LENGTHS), expected)
    tags[0, 1], tags[2, 2] = 3, 1  # a tag sequence the untrained model finds unlikely
    assert_every_parameter_learns(model, lambda: model.loss(model(TOKENS, LENGTHS), tags,
                                                            LENGTHS))
