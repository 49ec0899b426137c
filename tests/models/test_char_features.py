"""Character features: a word's features follow the convolution-and-max definition, and
padding (longer words in the batch, padded sentences) never changes a word's features or a
tagger's emissions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.data.token_batches import pad_examples
from rnnkit.models.char_features import CharFeatures
from rnnkit.models.tagger import SequenceTagger, TaggerConfig


def features(width: int = 3) -> CharFeatures:
    torch.manual_seed(0)
    return CharFeatures(num_chars=9, embedding_size=4, filters=5, width=width)


@pytest.mark.parametrize("width", [1, 2, 3])
def test_features_are_the_max_of_every_window_touching_the_word(width: int) -> None:
    model = features(width).double()
    chars = torch.tensor([[[3, 4, 5, 6], [7, 0, 0, 0]]])
    got = model(chars).detach().numpy()[0]
    table = model.embedding.weight.detach().numpy()
    weight = model.convolution.weight.detach().numpy()  # (filters, embedding, width)
    bias = model.convolution.bias.detach().numpy()
    for column, word in enumerate([[3, 4, 5, 6], [7]]):
        letters = table[word]  # (n, embedding)
        windows = []
        for end in range(len(word) + width - 1):  # window: letters end - width + 1 .. end
            total = bias.copy()
            for k in range(width):
                position = end - width + 1 + k
                if 0 <= position < len(word):
                    total += weight[:, :, k] @ letters[position]
            windows.append(total)
        np.testing.assert_allclose(got[column], np.tanh(np.max(windows, axis=0)), atol=1e-12)


def test_a_word_gives_the_same_features_beside_longer_words_and_padding_gives_zeros() -> None:
    model = features()
    alone = model(torch.tensor([[[3, 4]]]))
    beside = model(torch.tensor([[[3, 4, 0, 0, 0, 0], [5, 6, 7, 8, 2, 1], [0, 0, 0, 0, 0, 0]]]))
    torch.testing.assert_close(beside[0, 0], alone[0, 0], rtol=0, atol=1e-6)
    assert torch.equal(beside[0, 2], torch.zeros(5))


def char_tagger(crf: bool) -> SequenceTagger:
    torch.manual_seed(0)
    config = TaggerConfig(vocab_size=13, num_tags=4, embedding_size=6, hidden_size=5,
                          num_layers=2, crf=crf, char_vocab_size=9, char_embedding_size=4,
                          char_filters=3)
    return SequenceTagger(config).eval()


@pytest.mark.parametrize("crf", [False, True])
def test_a_sentence_alone_and_in_a_padded_batch_give_the_same_emissions(crf: bool) -> None:
    model = char_tagger(crf)
    sentences = [[3, 4, 5], [6, 7], [8]]
    spellings = [[[2, 3], [4], [5, 6, 7]], [[8, 2, 3, 4, 5, 6, 7], [3]], [[4, 4]]]
    batch = pad_examples([(ids, [0] * len(ids), chars)
                          for ids, chars in zip(sentences, spellings, strict=True)])
    tokens, chars = batch.tokens.clone(), batch.chars.clone()
    tokens[1, 2:], chars[1, 2:] = 12, 8  # padding positions hold real ids: must not matter
    together = model(tokens, batch.lengths, chars)
    predicted = model.predict(tokens, batch.lengths, chars)
    for row, (ids, spelled) in enumerate(zip(sentences, spellings, strict=True)):
        single = pad_examples([(ids, [0] * len(ids), spelled)])
        alone = model(single.tokens, single.lengths, single.chars)[0]
        torch.testing.assert_close(together[row, :len(ids)], alone, rtol=0, atol=1e-6)
        assert predicted[row] == model.predict(single.tokens, single.lengths, single.chars)[0]


def test_the_tagger_asks_for_chars_exactly_when_it_reads_them() -> None:
    tokens, lengths = torch.tensor([[3, 4]]), torch.tensor([2])
    with pytest.raises(ValueError, match="expected chars of shape \\(1, 2, letters\\), got none"):
        char_tagger(crf=False)(tokens, lengths)
    plain = SequenceTagger(TaggerConfig(vocab_size=13, num_tags=4, embedding_size=6,
                                        hidden_size=5))
    with pytest.raises(ValueError, match="without character features"):
        plain(tokens, lengths, torch.ones(1, 2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"char_embedding_size must be an int in \[0, "):
        TaggerConfig(char_embedding_size=-1)


def test_character_parameters_are_trained() -> None:
    model = char_tagger(crf=False).train()
    batch = pad_examples([([3, 4], [1, 2], [[2, 3], [4]])])
    model.loss(model(batch.tokens, batch.lengths, batch.chars), batch.targets,
               batch.lengths).backward()
    assert model.encoder.chars.convolution.weight.grad.abs().sum() > 0
    assert model.encoder.chars.embedding.weight.grad[0].abs().sum() == 0  # padding: zero


def test_spelled_examples_pad_to_the_longest_word_and_check_their_spellings() -> None:
    batch = pad_examples([([5, 6], [0, 1], [[2, 3, 4], [5]]), ([7], [1], [[6, 6]])])
    assert batch.chars.tolist() == [[[2, 3, 4], [5, 0, 0]], [[6, 6, 0], [0, 0, 0]]]
    assert pad_examples([([5], [0])]).chars is None
    with pytest.raises(ValueError, match="example 0 of the batch has 2 tokens but 1 spellings"):
        pad_examples([([5, 6], [0, 1], [[2]])])
    with pytest.raises(ValueError, match="token 1 has no characters"):
        pad_examples([([5, 6], [0, 1], [[2], []])])
