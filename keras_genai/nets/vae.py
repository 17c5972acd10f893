"""Encoder and decoder builders for variational autoencoders.

Encoders map images (batch, H, W, C) [and labels (batch,) int32] to the parameters of a diagonal
Gaussian posterior: two float32 outputs ``mean`` and ``log_variance``, each (batch, latent_dim).
Decoders map z (batch, latent_dim) [and labels] to the parameters of the likelihood p(x | z):
float32 (batch, H, W, C * params_per_pixel) (1 for Bernoulli logits, 2 for location and log-scale
of a Gaussian or discretized logistic). Conditional nets embed the label and concatenate it:
to the flattened image features in the encoder and to z in the decoder.

Two shapes of nets:

- ``conv_encoder`` / ``conv_decoder``: strided convolutions (image side divisible by 4:
  28 -> 14 -> 7, 64 -> 32 -> 16 ...), any number of downsampling blocks;
- ``mlp_encoder`` / ``mlp_decoder``: fully connected, the classic VAE of Kingma & Welling (2014).
"""

import math

import keras
from keras import layers


def _check(image_shape, latent_dim):
    if len(tuple(image_shape)) != 3 or min(image_shape) < 1:
        raise ValueError(f"image_shape must be (height, width, channels), got {image_shape}")
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")


def _conditioning(num_classes, width):
    labels = keras.Input((), dtype="int32", name="labels")
    embedded = layers.Embedding(num_classes, width, name="label_embedding")(labels)
    return labels, embedded


def _gaussian_head(x, latent_dim):
    mean = layers.Dense(latent_dim, dtype="float32", name="mean")(x)
    log_variance = layers.Dense(latent_dim, dtype="float32", name="log_variance")(x)
    return mean, log_variance


def conv_encoder(image_shape=(28, 28, 1), latent_dim=32, filters=(32, 64), hidden=256, num_classes=None,
                 name="encoder"):
    """Convolutional encoder: per entry of ``filters`` a stride-2 and a stride-1 3x3 convolution
    (ELU), then a dense layer of ``hidden`` units and the Gaussian head.

    Args:
        image_shape: (H, W, C); H and W divisible by 2 ** len(filters).
        latent_dim: size of z.
        num_classes: conditional encoder (labels (batch,) int32 as second input).
    Returns:
        ``keras.Model``: images [, labels] -> [mean, log_variance], each (batch, latent_dim) float32.
    """
    _check(image_shape, latent_dim)
    factor = 2 ** len(filters)
    if image_shape[0] % factor or image_shape[1] % factor:
        raise ValueError(f"conv_encoder with {len(filters)} downsampling blocks needs H and W divisible by "
                         f"{factor}, got {tuple(image_shape)}")
    images = keras.Input(tuple(image_shape), name="images")
    inputs, x = images, images
    for width in filters:
        x = layers.Conv2D(width, 3, strides=2, padding="same", activation="elu")(x)
        x = layers.Conv2D(width, 3, padding="same", activation="elu")(x)
    x = layers.Flatten()(x)
    if num_classes:
        labels, embedded = _conditioning(num_classes, 16)
        inputs = [images, labels]
        x = layers.Concatenate()([x, embedded])
    x = layers.Dense(hidden, activation="elu")(x)
    return keras.Model(inputs, list(_gaussian_head(x, latent_dim)), name=name)


def conv_decoder(image_shape=(28, 28, 1), latent_dim=32, filters=(64, 32), hidden=256, params_per_pixel=1,
                 num_classes=None, name="decoder"):
    """Convolutional decoder mirroring ``conv_encoder``: dense layers to a (H/f, W/f, filters[0])
    map, then per entry of ``filters`` a stride-2 transposed and a 3x3 convolution (ELU), and a
    3x3 convolution to ``C * params_per_pixel`` float32 channels (no activation).

    Returns:
        ``keras.Model``: z (batch, latent_dim) [, labels] -> (batch, H, W, C * params_per_pixel).
    """
    _check(image_shape, latent_dim)
    height, width, channels = image_shape
    factor = 2 ** len(filters)
    if height % factor or width % factor:
        raise ValueError(f"conv_decoder with {len(filters)} upsampling blocks needs H and W divisible by "
                         f"{factor}, got {tuple(image_shape)}")
    z = keras.Input((latent_dim,), name="z")
    inputs, x = z, z
    if num_classes:
        labels, embedded = _conditioning(num_classes, 16)
        inputs = [z, labels]
        x = layers.Concatenate()([z, embedded])
    x = layers.Dense(hidden, activation="elu")(x)
    x = layers.Dense((height // factor) * (width // factor) * filters[0], activation="elu")(x)
    x = layers.Reshape((height // factor, width // factor, filters[0]))(x)
    for width_ in filters:
        x = layers.Conv2DTranspose(width_, 3, strides=2, padding="same", activation="elu")(x)
        x = layers.Conv2D(width_, 3, padding="same", activation="elu")(x)
    params = layers.Conv2D(channels * params_per_pixel, 3, padding="same", dtype="float32", name="params")(x)
    return keras.Model(inputs, params, name=name)


def mlp_encoder(image_shape=(28, 28, 1), latent_dim=32, units=(512, 256), num_classes=None, name="encoder"):
    """Fully connected encoder (ELU): images [, labels] -> [mean, log_variance] (batch, latent_dim)."""
    _check(image_shape, latent_dim)
    images = keras.Input(tuple(image_shape), name="images")
    inputs, x = images, layers.Flatten()(images)
    if num_classes:
        labels, embedded = _conditioning(num_classes, 16)
        inputs = [images, labels]
        x = layers.Concatenate()([x, embedded])
    for width in units:
        x = layers.Dense(width, activation="elu")(x)
    return keras.Model(inputs, list(_gaussian_head(x, latent_dim)), name=name)


def mlp_decoder(image_shape=(28, 28, 1), latent_dim=32, units=(256, 512), params_per_pixel=1, num_classes=None,
                name="decoder"):
    """Fully connected decoder (ELU): z [, labels] -> (batch, H, W, C * params_per_pixel) float32."""
    _check(image_shape, latent_dim)
    height, width, channels = image_shape
    z = keras.Input((latent_dim,), name="z")
    inputs, x = z, z
    if num_classes:
        labels, embedded = _conditioning(num_classes, 16)
        inputs = [z, labels]
        x = layers.Concatenate()([z, embedded])
    for width_ in units:
        x = layers.Dense(width_, activation="elu")(x)
    x = layers.Dense(math.prod(image_shape) * params_per_pixel, dtype="float32")(x)
    params = layers.Reshape((height, width, channels * params_per_pixel), name="params")(x)
    return keras.Model(inputs, params, name=name)
