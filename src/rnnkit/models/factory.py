"""The language model a :class:`~rnnkit.models.language_model.ModelConfig` describes."""

from __future__ import annotations

from torch import nn

from rnnkit.models.language_model import LanguageModel, ModelConfig
from rnnkit.models.transformer_lm import TransformerLanguageModel


def build_language_model(config: ModelConfig) -> nn.Module:
    """A recurrent :class:`LanguageModel` or a :class:`TransformerLanguageModel`, by
    ``config.architecture``; both take ``(tokens, state)`` and return ``(logits, state)``."""
    if config.architecture == "transformer":
        return TransformerLanguageModel(config)
    return LanguageModel(config)
