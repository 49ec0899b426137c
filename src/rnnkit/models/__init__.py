"""Models built from rnnkit layers."""

from rnnkit.models.attention import Attention
from rnnkit.models.language_model import LanguageModel, ModelConfig, detach_state
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig

__all__ = ["Attention", "LanguageModel", "ModelConfig", "Seq2Seq", "Seq2SeqConfig",
           "detach_state"]
