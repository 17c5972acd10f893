"""Model families."""

from keras_genai.models.gan import GAN, latent_noise
from keras_genai.models.gpt import GPT
from keras_genai.models.schedules import HoldThenLinearDecay
from keras_genai.models.pixelcnn import PixelCNN, gated_pixelcnn, masked_pixelcnn
from keras_genai.models.gan_prior import fit_mixture_prior
from keras_genai.models.gan_builders import conditional_dcgan, dcgan, mlp_gan, wgan_gp
from keras_genai.models.vae import VAE
from keras_genai.models.vae_builders import conditional_vae, vae

__all__ = ["GAN", "GPT", "conditional_dcgan", "dcgan", "fit_mixture_prior", "latent_noise", "mlp_gan", "wgan_gp", "VAE", "vae", "conditional_vae",
           "PixelCNN", "gated_pixelcnn", "masked_pixelcnn", "HoldThenLinearDecay"]
