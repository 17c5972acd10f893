"""Fully connected generator and discriminator (the original GAN of Goodfellow et al., 2014)."""

import math

import keras
from keras import layers

from keras_genai.nets.dropout import ReplicaDropout


def mlp_generator(image_shape=(28, 28, 1), latent_dim=100, units=(256, 512, 1024), name="generator"):
    """z (batch, latent_dim) -> images (batch, *image_shape) in [-1, 1].

    Dense layers of ``units`` with LeakyReLU(0.2), then a tanh layer of prod(image_shape).
    """
    z = keras.Input((latent_dim,), name="z")
    x = z
    for width in units:
        x = layers.Dense(width)(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.Dense(math.prod(image_shape))(x)
    x = layers.Activation("tanh", dtype="float32")(x)
    images = layers.Reshape(tuple(image_shape), name="images")(x)
    return keras.Model(z, images, name=name)


def mlp_discriminator(image_shape=(28, 28, 1), units=(512, 256), dropout=0.3, name="discriminator"):
    """images (batch, *image_shape) -> logits (batch, 1); LeakyReLU(0.2) and dropout."""
    images = keras.Input(tuple(image_shape), name="images")
    x = layers.Flatten()(images)
    for width in units:
        x = layers.Dense(width)(x)
        x = layers.LeakyReLU(0.2)(x)
        x = ReplicaDropout(dropout)(x)
    logits = layers.Dense(1, dtype="float32", name="logits")(x)
    return keras.Model(images, logits, name=name)
