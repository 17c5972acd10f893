"""The language-model family: ``GPT``, a character-level decoder-only transformer with a KV cache."""

from keras_genai.models.gpt.model import GPT, default_optimizer

__all__ = ["GPT", "default_optimizer"]
