"""Model families."""

from keras_genai.models.gan import GAN, dcgan, latent_noise

__all__ = ["GAN", "dcgan", "latent_noise"]
