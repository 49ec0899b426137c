"""The language model's structure: embeddings, weight tying, checks, dropout placement."""

import pytest
import torch
from learning import assert_every_parameter_learns
from torch.nn import functional as F

from rnnkit.models import LanguageModel, ModelConfig


def test_tied_decoder_shares_the_embedding_matrix() -> None:
    model = LanguageModel(ModelConfig(vocab_size=20, embedding_size=12, hidden_size=12,
                                      tie_weights=True))
    assert model.decoder.weight is model.embedding.weight
    tokens = torch.randint(0, 20, (2, 6), generator=torch.Generator().manual_seed(0))

    def loss() -> torch.Tensor:
        logits, _ = model(tokens[:, :-1])
        return F.cross_entropy(logits.reshape(-1, 20), tokens[:, 1:].reshape(-1))

    model.eval()  # dropout off: the loss is a function of the weights alone
    assert_every_parameter_learns(model, loss)


def test_tying_needs_matching_sizes() -> None:
    with pytest.raises(ValueError, match="output 24 and embedding_size 12"):
        LanguageModel(ModelConfig(vocab_size=20, embedding_size=12, hidden_size=24,
                                  tie_weights=True))


def test_tying_through_a_projection() -> None:
    model = LanguageModel(ModelConfig(vocab_size=20, embedding_size=12, hidden_size=24,
                                      proj_size=12, tie_weights=True))
    assert model(torch.zeros(1, 4, dtype=torch.long))[0].shape == (1, 4, 20)


def test_one_hot_input_equals_a_learned_embedding_holding_the_identity() -> None:
    torch.manual_seed(0)
    one_hot = LanguageModel(ModelConfig(vocab_size=7, embedding="one-hot", hidden_size=5,
                                        num_layers=1, dropout=0.0)).double()
    learned = LanguageModel(ModelConfig(vocab_size=7, embedding_size=7, hidden_size=5,
                                        num_layers=1, dropout=0.0)).double()
    state = dict(one_hot.state_dict())
    state["embedding.weight"] = torch.eye(7, dtype=torch.float64)
    learned.load_state_dict(state)
    tokens = torch.randint(0, 7, (3, 6))
    torch.testing.assert_close(one_hot(tokens)[0], learned(tokens)[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh", "rnn_relu", "mingru", "minlstm"])
def test_every_cell_gives_next_token_logits(cell: str) -> None:
    model = LanguageModel(ModelConfig(vocab_size=9, cell=cell, embedding_size=4,
                                      hidden_size=6))
    logits, state = model(torch.randint(0, 9, (2, 5)))
    assert logits.shape == (2, 5, 9)
    logits2, _ = model(torch.randint(0, 9, (2, 1)), state)
    assert logits2.shape == (2, 1, 9)


def test_bad_tokens_are_named() -> None:
    model = LanguageModel(ModelConfig(vocab_size=9, embedding_size=4, hidden_size=6))
    with pytest.raises(ValueError, match=r"\(batch, time\) int64 tensor, got shape \(5,\)"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"dtype torch.float32"):
        model(torch.zeros(2, 5))


def test_bad_config_values_are_named() -> None:
    with pytest.raises(ValueError, match="cell must be one of"):
        ModelConfig(vocab_size=9, cell="lstm2")
    with pytest.raises(ValueError, match="peephole needs cell='lstm'"):
        ModelConfig(vocab_size=9, cell="gru", peephole=True)
    with pytest.raises(ValueError, match="layer_norm needs cell='lstm' or 'gru'"):
        ModelConfig(vocab_size=9, cell="rnn_tanh", layer_norm=True)
    with pytest.raises(ValueError,
                       match=r"recurrent_dropout must be a finite number in \[0, 1\), got 1.5"):
        ModelConfig(vocab_size=9, recurrent_dropout=1.5)


@pytest.mark.parametrize(("cell", "options"), [
    ("lstm", {"layer_norm": True, "recurrent_dropout": 0.2, "weight_dropout": 0.3}),
    ("gru", {"layer_norm": True, "weight_dropout": 0.3}),
    ("rnn_relu", {"recurrent_dropout": 0.2}),
])
def test_regularized_recurrences_reach_the_layer_and_leave_eval_deterministic(cell, options):
    model = LanguageModel(ModelConfig(vocab_size=9, cell=cell, embedding_size=4,
                                      hidden_size=6, dropout=0.0, **options))
    for name, value in options.items():
        assert getattr(model.rnn, name) == value
    tokens = torch.randint(0, 9, (2, 5))
    model.train()
    torch.manual_seed(0)
    first = model(tokens)[0]
    assert not torch.equal(first, model(tokens)[0])  # fresh masks every forward, no other dropout
    first.sum().backward()
    model.eval()
    assert torch.equal(model(tokens)[0], model(tokens)[0])


def test_conditions_are_fed_at_every_step() -> None:
    from rnnkit.models.language_model import WithConditions

    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=11, hidden_size=12, embedding_size=6,
                                      num_layers=1, dropout=0.0, condition_sizes=(3, 4),
                                      condition_size=5))
    assert model.rnn.input_size == 6 + 2 * 5
    tokens = torch.randint(0, 11, (2, 7))
    conditions = torch.tensor([2, 1]).expand(2, 7, 2)
    inputs = torch.cat([tokens.unsqueeze(-1), conditions], dim=-1)  # (batch, time, 3)
    logits, _ = model(inputs)
    assert logits.shape == (2, 7, 11)
    other = torch.cat([tokens.unsqueeze(-1), torch.tensor([0, 3]).expand(2, 7, 2)], dim=-1)
    assert not torch.allclose(model(other)[0], logits)  # the conditions change the output
    fixed, _ = WithConditions(model, torch.tensor([2, 1]))(tokens)
    assert torch.equal(fixed, logits)
    with pytest.raises(ValueError, match=r"\(batch, time, 3\) int64 tensor, got shape \(2, 7\)"):
        model(tokens)
    with pytest.raises(ValueError, match=r"class id in \[0, 4\), got 4"):
        WithConditions(model, torch.tensor([0, 4]))


def test_condition_sizes_survive_json() -> None:
    config = ModelConfig(condition_sizes=[3, 4])  # as read back from config.json
    assert config.condition_sizes == (3, 4)
    with pytest.raises(ValueError, match="condition_sizes"):
        ModelConfig(condition_sizes=(3, 0))
