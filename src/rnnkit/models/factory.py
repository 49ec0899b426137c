"""The model a configuration describes: recurrent or Transformer, by its ``architecture``."""

from __future__ import annotations

from torch import nn

from rnnkit.models.language_model import LanguageModel, ModelConfig
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.transformer_lm import TransformerLanguageModel
from rnnkit.models.transformer_seq2seq import TransformerSeq2Seq


def build_language_model(config: ModelConfig) -> nn.Module:
    """A recurrent :class:`LanguageModel` or a :class:`TransformerLanguageModel`, by
    ``config.architecture``; both take ``(tokens, state)`` and return ``(logits, state)``."""
    if config.architecture == "transformer":
        return TransformerLanguageModel(config)
    return LanguageModel(config)


def build_seq2seq(config: Seq2SeqConfig) -> nn.Module:
    """A recurrent :class:`Seq2Seq` or a :class:`TransformerSeq2Seq`, by
    ``config.architecture``; both answer ``encode``, ``decode_step`` and ``forward``."""
    if config.architecture == "transformer":
        return TransformerSeq2Seq(config)
    return Seq2Seq(config)
