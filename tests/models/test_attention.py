"""Attention scores against their formulas, and the masking of padded source positions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.models.attention import Attention


def reference_scores(attention: Attention, query: torch.Tensor, keys: torch.Tensor) -> np.ndarray:
    """The score formulas written out per position in NumPy (float64)."""
    q, k = query.double().numpy(), keys.double().numpy()
    batch, source = k.shape[:2]
    scores = np.zeros((batch, source))
    for b in range(batch):
        for s in range(source):
            if attention.score == "dot":
                scores[b, s] = q[b] @ k[b, s]
            elif attention.score == "general":
                w = attention.key_projection.weight.double().detach().numpy()
                scores[b, s] = q[b] @ (w @ k[b, s])
            else:
                wq = attention.query_projection.weight.double().detach().numpy()
                wk = attention.key_projection.weight.double().detach().numpy()
                bk = attention.key_projection.bias.double().detach().numpy()
                v = attention.energy.weight.double().detach().numpy()[0]
                scores[b, s] = v @ np.tanh(wq @ q[b] + wk @ k[b, s] + bk)
    return scores


@pytest.mark.parametrize("score", ["additive", "dot", "general"])
def test_weights_and_context_follow_the_formula_over_valid_positions(score: str) -> None:
    torch.manual_seed(0)
    attention = Attention(score, query_size=6, key_size=6).double()
    query, keys = torch.randn(3, 6, dtype=torch.float64), torch.randn(3, 5, 6,
                                                                       dtype=torch.float64)
    lengths = [5, 2, 4]
    mask = torch.arange(5).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    context, weights = attention(query, keys, mask)
    scores = reference_scores(attention, query, keys)
    for row, length in enumerate(lengths):
        expected = np.exp(scores[row, :length] - scores[row, :length].max())
        expected /= expected.sum()
        np.testing.assert_allclose(weights[row, :length].detach().numpy(), expected,
                                   rtol=0, atol=1e-12)
        assert torch.all(weights[row, length:] == 0)  # exactly zero on padding
        assert abs(float(weights[row].sum()) - 1.0) < 1e-12
        np.testing.assert_allclose(context[row].detach().numpy(),
                                   expected @ keys[row, :length].numpy(), rtol=0, atol=1e-12)


def test_padded_keys_do_not_change_the_context() -> None:
    torch.manual_seed(1)
    attention = Attention("additive", query_size=4, key_size=6)
    query, keys = torch.randn(2, 4), torch.randn(2, 5, 6)
    mask = torch.tensor([[True, True, True, False, False]] * 2)
    changed = keys.clone()
    changed[:, 3:] = 100.0
    torch.testing.assert_close(attention(query, keys, mask), attention(query, changed, mask),
                               rtol=0, atol=0)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="score='dot' needs query_size == key_size"):
        Attention("dot", query_size=4, key_size=6)
    with pytest.raises(ValueError, match="score to be one of 'additive', 'dot', 'general'"):
        Attention("cosine", query_size=4, key_size=4)
    attention = Attention("general", query_size=4, key_size=4)
    with pytest.raises(ValueError, match=r"mask of shape \(2, 5\) \(batch, source\)"):
        attention(torch.randn(2, 4), torch.randn(2, 5, 4), torch.ones(2, 4, dtype=torch.bool))


@pytest.mark.parametrize("score", ["additive", "dot", "general"])
def test_many_queries_at_once_equal_one_at_a_time(score: str) -> None:
    torch.manual_seed(2)
    attention = Attention(score, query_size=6, key_size=6).double()
    queries = torch.randn(3, 4, 6, dtype=torch.float64)
    keys = torch.randn(3, 5, 6, dtype=torch.float64)
    mask = torch.arange(5).unsqueeze(0) < torch.tensor([5, 2, 4]).unsqueeze(1)
    context, weights = attention(queries, keys, mask)
    assert context.shape == (3, 4, 6) and weights.shape == (3, 4, 5)
    for step in range(4):
        step_context, step_weights = attention(queries[:, step], keys, mask)
        torch.testing.assert_close(context[:, step], step_context, rtol=0, atol=1e-14)
        torch.testing.assert_close(weights[:, step], step_weights, rtol=0, atol=1e-14)


def test_query_and_key_shapes_are_checked() -> None:
    attention = Attention("general", query_size=4, key_size=6)
    mask = torch.ones(2, 5, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"query of shape \(batch=2, 4\)"):
        attention(torch.randn(2, 3), torch.randn(2, 5, 6), mask)
    with pytest.raises(ValueError, match=r"keys of shape \(batch, source, 6\)"):
        attention(torch.randn(2, 4), torch.randn(2, 5, 5), mask)
