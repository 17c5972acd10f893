"""Network builders shared by the model families."""

from keras_genai.nets.classifier import conv_classifier
from keras_genai.nets.dropout import ReplicaDropout
from keras_genai.nets.dcgan import dcgan_discriminator, dcgan_generator
from keras_genai.nets.latent_prior import GaussianMixturePrior, with_mixture_prior
from keras_genai.nets.mlp import mlp_discriminator, mlp_generator
from keras_genai.nets.pixelcnn import GatedPixelCNNBlock, MaskedConv2D, gated_pixelcnn, masked_pixelcnn
from keras_genai.nets.transformer import CausalSelfAttention, TransformerBlock
from keras_genai.nets.unet import SinusoidalEmbedding, unet_denoiser
from keras_genai.nets.vae import conv_decoder, conv_encoder, mlp_decoder, mlp_encoder

__all__ = ["ReplicaDropout", "GaussianMixturePrior", "with_mixture_prior", "CausalSelfAttention", "TransformerBlock", "conv_classifier", "dcgan_discriminator", "dcgan_generator", "mlp_discriminator", "mlp_generator",
           "conv_decoder", "conv_encoder", "mlp_decoder", "mlp_encoder",
           "GatedPixelCNNBlock", "MaskedConv2D", "gated_pixelcnn", "masked_pixelcnn", "SinusoidalEmbedding",
           "unet_denoiser"]
