"""Language-model quality figures from a mean cross-entropy in nats per token."""

from __future__ import annotations

import math

LN2 = math.log(2.0)


def perplexity(loss_nats: float) -> float:
    """exp(loss); capped to stay finite for diverged runs."""
    return math.exp(min(loss_nats, 700.0))


def bits_per_token(loss_nats: float) -> float:
    """Loss in bits; bits per character for a character-level model."""
    return loss_nats / LN2


def loss_report(loss_nats: float) -> dict[str, float]:
    """``{"loss": nats/token, "perplexity": ..., "bits_per_token": ...}``."""
    return {"loss": loss_nats, "perplexity": perplexity(loss_nats),
            "bits_per_token": bits_per_token(loss_nats)}
