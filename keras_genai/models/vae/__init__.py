"""The VAE family on TensorFlow Probability: ``VAE``, its builders and its pixel likelihoods."""

from keras_genai.models.vae import likelihoods
from keras_genai.models.vae.builders import conditional_vae, unconditional_vae
from keras_genai.models.vae.model import VAE

__all__ = ["VAE", "conditional_vae", "likelihoods", "unconditional_vae"]
