"""DCGAN generator and discriminator builders (Radford et al., 2015).

Supported image shapes: 28x28 (grey or colour), 32x32 and 64x64. The generator starts from a
7x7 (for 28) or 4x4 (for 32, 64) feature map and doubles the resolution with strided
transposed convolutions, halving the filters each time; it ends in ``tanh`` so images are in
[-1, 1]. The discriminator mirrors it with strided convolutions and LeakyReLU(0.2) and returns
one logit per image.

Batch normalization is synchronized: under ``tf.distribute`` the batch statistics are those of
the global batch (one all-reduce per layer), so N replicas train like one device on the same
batch; on one device it is ordinary batch normalization.
"""

import keras
from keras import layers

from keras_genai.nets.dropout import ReplicaDropout

SUPPORTED_SIZES = {28: 7, 32: 4, 64: 4}


def _upsampling_steps(image_shape):
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (height, width, channels), got {image_shape}")
    height, width, channels = image_shape
    if height != width or height not in SUPPORTED_SIZES:
        raise ValueError(
            f"DCGAN supports square images of size {sorted(SUPPORTED_SIZES)}, got {height}x{width}"
        )
    if channels not in (1, 3):
        raise ValueError(f"DCGAN supports 1 or 3 channels, got {channels}")
    start = SUPPORTED_SIZES[height]
    steps = 0
    while start * 2**steps < height:
        steps += 1
    return start, steps


def dcgan_generator(image_shape=(28, 28, 1), latent_dim=100, base_filters=64, num_classes=None, refine=False,
                    name="generator"):
    """Builds a DCGAN generator.

    Args:
        image_shape: (height, width, channels) of the output, height in {28, 32, 64}.
        latent_dim: size of the noise vector z.
        base_filters: filters of the last hidden layer; earlier layers use multiples of it.
        num_classes: for a conditional generator: labels (batch,) int32 are embedded in
            ``latent_dim`` dimensions and concatenated with z.
        refine: False: the last transposed convolution outputs the image (Radford et al.).
            True: a 3x3 convolution block follows every intermediate upsampling, the last
            upsampling keeps ``base_filters`` channels and a 3x3 convolution at full resolution
            outputs the image (twice the filters throughout, about 2.7x the parameters for
            MNIST; sharper digits, see the dcgan_mnist card).
    Returns:
        A functional ``keras.Model`` mapping z (batch, latent_dim) float32 [and labels] to
        images (batch, height, width, channels) float32 in [-1, 1].
    """
    start, steps = _upsampling_steps(tuple(image_shape))
    filters = base_filters * 2 ** (steps if refine else steps - 1)
    z = keras.Input((latent_dim,), name="z")
    inputs, x = z, z
    if num_classes:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs = [z, labels]
        x = layers.Concatenate()([z, layers.Embedding(num_classes, latent_dim, name="label_embedding")(labels)])
    x = _normalized_relu(layers.Dense(start * start * filters, use_bias=False)(x))
    x = layers.Reshape((start, start, filters))(x)
    for _ in range(steps - 1):
        filters //= 2
        x = _normalized_relu(layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False)(x))
        if refine:
            x = _normalized_relu(layers.Conv2D(filters, 3, padding="same", use_bias=False)(x))
    if refine:
        x = _normalized_relu(layers.Conv2DTranspose(filters // 2, 4, strides=2, padding="same", use_bias=False)(x))
        x = layers.Conv2D(image_shape[-1], 3, padding="same")(x)
    else:
        x = layers.Conv2DTranspose(image_shape[-1], 4, strides=2, padding="same")(x)
    images = layers.Activation("tanh", dtype="float32", name="images")(x)
    return keras.Model(inputs, images, name=name)


def _critic_block(x, filters, kernel_size, strides, normalization, dropout):
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=normalization != "batch")(x)
    if normalization == "batch":
        x = layers.BatchNormalization(synchronized=True)(x)
    elif normalization == "layer":
        x = layers.LayerNormalization(axis=[1, 2, 3])(x)
    x = layers.LeakyReLU(0.2)(x)
    return ReplicaDropout(dropout)(x) if dropout else x


def _normalized_relu(x):
    return layers.ReLU()(layers.BatchNormalization(synchronized=True)(x))


def dcgan_discriminator(image_shape=(28, 28, 1), base_filters=64, dropout=0.0, normalization="batch",
                        num_classes=None, refine=False, name="discriminator"):
    """Builds a DCGAN discriminator (or WGAN critic).

    Args:
        image_shape: (height, width, channels) of the input images, in [-1, 1].
        base_filters: filters of the first convolution; each later one doubles them.
        dropout: dropout rate after each convolution block (0 disables it).
        normalization: "batch" (DCGAN), "layer" or None; WGAN-GP critics must not use
            batch normalization (the gradient penalty is per sample).
        num_classes: for a projection discriminator (Miyato & Koyama, 2018): labels
            (batch,) int32 add ``<embed(label), features>`` to the logit.
        refine: True adds a 3x3 convolution block (same filters, normalization, LeakyReLU,
            dropout; normalized even at the first resolution) after every strided one:
            about 2.3x the parameters for MNIST (324k instead of 138k).
    Returns:
        A functional ``keras.Model`` mapping images (batch, H, W, C) [and labels] to
        logits (batch, 1) float32.
    """
    if normalization not in ("batch", "layer", None):
        raise ValueError(f"normalization must be 'batch', 'layer' or None, got {normalization!r}")
    _, steps = _upsampling_steps(tuple(image_shape))
    images = keras.Input(tuple(image_shape), name="images")
    x = images
    filters = base_filters
    for i in range(steps):
        # DCGAN leaves the block that reads the image unnormalized.
        x = _critic_block(x, filters, 4, 2, normalization if i > 0 else None, dropout)
        if refine:
            x = _critic_block(x, filters, 3, 1, normalization, dropout)
        filters *= 2
    features = layers.Flatten()(x)
    logits = layers.Dense(1, dtype="float32", name="logits")(features)
    if not num_classes:
        return keras.Model(images, logits, name=name)
    labels = keras.Input((), dtype="int32", name="labels")
    embedded = layers.Embedding(num_classes, features.shape[-1], name="label_projection")(labels)
    projection = layers.Dot(axes=1)([embedded, features])
    logits = layers.Add(dtype="float32", name="projected_logits")([logits, projection])
    return keras.Model([images, labels], logits, name=name)
