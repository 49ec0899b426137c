"""The Transformer language model against torch.nn's own layer forward, and its cache:
token by token, in chunks and past the context it gives what one pass gives."""

from __future__ import annotations

import pytest
import torch
from learning import assert_every_parameter_learns

from rnnkit.models.factory import build_language_model
from rnnkit.models.language_model import LanguageModel, ModelConfig
from rnnkit.models.transformer_lm import TransformerLanguageModel


def transformer(context: int = 12, dropout: float = 0.0, **options) -> TransformerLanguageModel:
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=23, architecture="transformer", hidden_size=16,
                         num_layers=2, num_heads=4, context=context, dropout=dropout, **options)
    return TransformerLanguageModel(config).double().eval()


def reference_logits(model: TransformerLanguageModel, tokens: torch.Tensor) -> torch.Tensor:
    """The same weights through torch.nn.TransformerEncoderLayer.forward, causal mask."""
    steps = tokens.shape[1]
    hidden = model.embedding(tokens) + model.positions(torch.arange(steps))
    mask = torch.nn.Transformer.generate_square_subsequent_mask(steps, dtype=torch.float64)
    for layer in model.layers:
        hidden = layer(hidden, src_mask=mask, is_causal=True)
    return model.decoder(model.norm(hidden))


def test_one_pass_equals_the_torch_layers_forward() -> None:
    model = transformer()
    tokens = torch.randint(0, 23, (3, 12))
    logits, _ = model(tokens)
    torch.testing.assert_close(logits, reference_logits(model, tokens), rtol=0, atol=1e-12)


@pytest.mark.parametrize("chunks", [[1] * 12, [3, 5, 4], [11, 1]])
def test_the_cache_gives_what_one_pass_gives(chunks: list[int]) -> None:
    model = transformer()
    tokens = torch.randint(0, 23, (2, 12))
    whole, _ = model(tokens)
    pieces, state, start = [], None, 0
    for size in chunks:
        logits, state = model(tokens[:, start:start + size], state)
        pieces.append(logits)
        start += size
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole, rtol=0, atol=1e-12)
    embeddings, keys, values = state
    assert embeddings.shape == (1, 2, 12, 16) and keys.shape == values.shape == (2, 2, 12, 16)


def test_past_the_context_the_newest_half_is_reencoded() -> None:
    """A call that overflows the context sees the last context // 2 tokens, from position 0:
    the same logits as one fresh pass over those tokens and the new ones."""
    model = transformer(context=8)
    tokens = torch.randint(0, 23, (2, 11))
    _, state = model(tokens[:, :8])
    logits, state = model(tokens[:, 8:11], state)
    fresh, _ = model(tokens[:, 4:11])  # 4 = min(8 // 2, 8 - 3, 8) kept
    torch.testing.assert_close(logits, fresh[:, 4:], rtol=0, atol=1e-12)
    assert state[1].shape[2] == 7
    logits, _ = model(tokens[:, 3:4], state)  # fits again: from the cache
    fresh, _ = model(torch.cat([tokens[:, 4:11], tokens[:, 3:4]], dim=1))
    torch.testing.assert_close(logits, fresh[:, -1:], rtol=0, atol=1e-12)


def test_a_call_longer_than_the_context_runs_in_halves() -> None:
    model = transformer(context=8)
    tokens = torch.randint(0, 23, (2, 19))
    logits, state = model(tokens)
    pieces, carried = [], None
    for start in range(0, 19, 4):
        piece, carried = model(tokens[:, start:start + 4], carried)
        pieces.append(piece)
    torch.testing.assert_close(logits, torch.cat(pieces, dim=1), rtol=0, atol=0)
    torch.testing.assert_close(state, carried, rtol=0, atol=0)


def test_the_state_grows_by_one_position_per_token() -> None:
    model = transformer()
    _, state = model(torch.zeros(1, 5, dtype=torch.long))
    before = sum(part.numel() for part in state)
    _, state = model(torch.zeros(1, 1, dtype=torch.long), state)
    # embeddings + keys + values of every layer: (1 + 2 * layers) * hidden numbers
    assert sum(part.numel() for part in state) - before == (1 + 2 * 2) * 16


def test_training_reaches_every_parameter_and_ties_weights() -> None:
    model = transformer(dropout=0.1, tie_weights=True).train()
    assert model.decoder.weight is model.embedding.weight
    tokens = torch.randint(0, 23, (2, 12))
    logits, state = model(tokens)
    torch.nn.functional.cross_entropy(logits.reshape(-1, 23), tokens.reshape(-1)).backward()
    assert all(p.grad is not None and torch.any(p.grad != 0) for p in model.parameters())
    logits, _ = model(tokens, tuple(part.detach() for part in state))  # carried, then fresh
    assert logits.shape == (2, 12, 23)
    model.eval()
    assert_every_parameter_learns(model, lambda: torch.nn.functional.cross_entropy(
        model(tokens[:, :-1])[0].reshape(-1, 23), tokens[:, 1:].reshape(-1)))


def test_the_factory_builds_by_architecture() -> None:
    assert isinstance(build_language_model(ModelConfig(vocab_size=5, hidden_size=8,
                                                       embedding_size=4)), LanguageModel)
    built = build_language_model(ModelConfig(vocab_size=5, architecture="transformer",
                                             hidden_size=8, num_heads=2))
    assert isinstance(built, TransformerLanguageModel)


def test_bad_configurations_and_calls_are_named() -> None:
    with pytest.raises(ValueError, match="must divide into num_heads=3 heads, got 16"):
        ModelConfig(vocab_size=5, architecture="transformer", hidden_size=16, num_heads=3)
    with pytest.raises(ValueError, match='architecture must be one of "rnn", "transformer"'):
        ModelConfig(architecture="mamba")
    model = transformer(context=8)
    with pytest.raises(ValueError, match="state it returned for a batch of 2 rows"):
        _, other_batch = model(torch.zeros(3, 1, dtype=torch.long))
        model(torch.zeros(2, 1, dtype=torch.long), other_batch)
    with pytest.raises(ValueError, match="does not take lengths"):
        model(torch.zeros(1, 2, dtype=torch.long), lengths=torch.tensor([2]))
    with pytest.raises(ValueError, match=r"expected tokens as a \(batch, time\) int64"):
        model(torch.zeros(1, 2))
