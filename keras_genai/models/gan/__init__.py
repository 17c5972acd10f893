"""The GAN family: ``GAN`` (its ``train_step``, sampling and exports), the builders of its
variants (MLP GAN, DCGAN, WGAN-GP, conditional DCGAN) and the fitted Gaussian-mixture prior."""

from keras_genai.models.gan.builders import conditional_dcgan, dcgan, mlp_gan, wgan_gp
from keras_genai.models.gan.model import GAN, best_of_candidates, latent_noise
from keras_genai.models.gan.prior import fit_mixture_prior, kmeans

__all__ = ["GAN", "best_of_candidates", "conditional_dcgan", "dcgan", "fit_mixture_prior", "kmeans", "latent_noise",
           "mlp_gan", "wgan_gp"]
