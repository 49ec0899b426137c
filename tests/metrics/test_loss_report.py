"""Perplexity and bits per token from a loss in nats, against their definitions."""

from __future__ import annotations

import math

import pytest

from rnnkit.metrics.language import bits_per_token, loss_report, perplexity


@pytest.mark.parametrize("loss", [0.0, 0.5, 1.7, 4.2])
def test_perplexity_is_exp_and_bits_are_nats_over_ln2(loss: float) -> None:
    assert perplexity(loss) == pytest.approx(math.e ** loss, rel=1e-12)
    assert bits_per_token(loss) == pytest.approx(loss / math.log(2), rel=1e-12)
    assert 2 ** bits_per_token(loss) == pytest.approx(perplexity(loss), rel=1e-12)


def test_a_diverged_loss_gives_a_finite_capped_perplexity() -> None:
    assert perplexity(700.0) == math.exp(700.0)
    assert perplexity(1e6) == math.exp(700.0)
    assert math.isfinite(perplexity(math.inf))


def test_loss_report_holds_all_three_figures() -> None:
    assert loss_report(2.0) == {"loss": 2.0, "perplexity": pytest.approx(math.exp(2.0)),
                                "bits_per_token": pytest.approx(2.0 / math.log(2))}
