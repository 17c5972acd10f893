"""Network builders shared by the model families."""

from keras_genai.nets.classifier import conv_classifier
from keras_genai.nets.dcgan import dcgan_discriminator, dcgan_generator
from keras_genai.nets.mlp import mlp_discriminator, mlp_generator

__all__ = ["conv_classifier", "dcgan_discriminator", "dcgan_generator", "mlp_discriminator", "mlp_generator"]
