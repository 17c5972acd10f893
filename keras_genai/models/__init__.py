"""Model families."""

from keras_genai.models.gan import GAN, latent_noise
from keras_genai.models.gan_builders import conditional_dcgan, dcgan, mlp_gan, wgan_gp

__all__ = ["GAN", "conditional_dcgan", "dcgan", "latent_noise", "mlp_gan", "wgan_gp"]
