"""Model families, one folder each (``gan/``, ``vae/``, ``pixelcnn/``, ``gpt/``, ``diffusion/``,
``classifier/``), the contract they all keep (``GenerativeModel``, ``base.py``) and what they share."""

from keras_genai.models.base import GenerativeModel, recipe_builder, recipe_builders
from keras_genai.models.classifier import Classifier
from keras_genai.models.diffusion import Diffusion, ddpm, flow_matching
from keras_genai.models.gan import GAN, conditional_dcgan, dcgan, fit_mixture_prior, latent_noise, mlp_gan, wgan_gp
from keras_genai.models.gpt import GPT
from keras_genai.models.pixelcnn import PixelCNN, gated_pixelcnn, masked_pixelcnn
from keras_genai.models.schedules import HoldThenLinearDecay
from keras_genai.models.vae import VAE, conditional_vae, unconditional_vae

__all__ = ["GAN", "GPT", "Classifier", "Diffusion", "GenerativeModel", "HoldThenLinearDecay", "PixelCNN", "VAE",
           "conditional_dcgan", "conditional_vae", "dcgan", "ddpm", "flow_matching", "fit_mixture_prior", "gated_pixelcnn", "latent_noise",
           "masked_pixelcnn", "mlp_gan", "recipe_builder", "recipe_builders", "unconditional_vae", "wgan_gp"]
