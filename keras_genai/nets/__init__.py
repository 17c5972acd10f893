"""Network builders shared by the model families."""

from keras_genai.nets.dcgan import dcgan_discriminator, dcgan_generator

__all__ = ["dcgan_discriminator", "dcgan_generator"]
