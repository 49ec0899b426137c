"""Models built from rnnkit layers."""

from rnnkit.models.language_model import LanguageModel, ModelConfig, detach_state

__all__ = ["LanguageModel", "ModelConfig", "detach_state"]
