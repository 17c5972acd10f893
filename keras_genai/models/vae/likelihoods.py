"""Decoder likelihoods p(x | z) for image VAEs, as ``tfp.distributions``.

A likelihood turns the decoder's output ``params`` (batch, H, W, C * params_per_pixel) into a
distribution over whole images (event shape (H, W, C)) and knows the value range of the images
it models:

- ``bernoulli``: binarized images with pixels in {0, 1} (values in [0, 1] are accepted; the
  log-probability is then the cross-entropy); params are logits. Mean: probabilities in [0, 1].
- ``gaussian``: continuous images in [-1, 1]; params are location and log-scale per pixel.
- ``logistic``: 8-bit images scaled to [-1, 1], modelled by a discretized logistic over the
  256 grey levels (a ``QuantizedDistribution``), so log-probabilities are those of the integer
  pixels and convert to bits/dim; params are location (in [-1, 1] units) and log-scale.

A model takes a likelihood by its name (``VAE(likelihood="gaussian")``), checked against
``LIKELIHOODS`` by ``check_name`` (``keras_genai.lookup``, the one check of a name); the name is what
its config stores. GAN losses are given the same way (``GAN(loss="wasserstein")``, ``keras_genai.losses``).
"""

import numpy as np
import tensorflow as tf

from keras_genai import lookup

LIKELIHOODS = ("bernoulli", "gaussian", "logistic")
RANGES = {"bernoulli": (0.0, 1.0), "gaussian": (-1.0, 1.0), "logistic": (-1.0, 1.0)}
PARAMS_PER_PIXEL = {"bernoulli": 1, "gaussian": 2, "logistic": 2}
_MIN_LOG_SCALE = -7.0


def check_name(name):
    """Returns ``name`` if it names a likelihood; ``ValueError`` listing the names otherwise
    (``lookup.check_name``)."""
    return lookup.check_name(name, LIKELIHOODS, "likelihood")


def distributions():
    """``tfp.distributions``, imported on first use: TensorFlow Probability takes most of a second
    to import, which ``import keras_genai`` should not cost a user who never builds a VAE."""
    import tensorflow_probability as tfp

    return tfp.distributions


def _split(params):
    channels = params.shape[-1] // 2
    loc, log_scale = params[..., :channels], params[..., channels:]
    return loc, tf.maximum(log_scale, _MIN_LOG_SCALE)


def distribution(name, params):
    """p(x | z) for decoder outputs ``params`` (float32): a distribution with event shape (H, W, C)."""
    params = tf.cast(params, tf.float32)
    tfd = distributions()
    if name == "bernoulli":
        return tfd.Independent(tfd.Bernoulli(logits=params, dtype=tf.float32), reinterpreted_batch_ndims=3)
    loc, log_scale = _split(params)
    if name == "gaussian":
        return tfd.Independent(tfd.Normal(loc, tf.exp(log_scale)), reinterpreted_batch_ndims=3)
    # Grey levels 0..255; QuantizedDistribution gives P(Y = y) = F(y) - F(y - 1), so the logistic
    # is centred at y - 0.5 for the level y that ``loc`` maps to.
    pixel_loc = (loc + 1.0) * 127.5 - 0.5
    logistic = tfd.Logistic(pixel_loc, tf.exp(log_scale) * 127.5)
    return tfd.Independent(tfd.QuantizedDistribution(logistic, low=0.0, high=255.0), reinterpreted_batch_ndims=3)


def log_prob(name, params, images):
    """log p(images | z) per image, (batch,) float32 nats. ``images`` in the likelihood's range."""
    images = tf.cast(images, tf.float32)
    if name == "logistic":
        images = tf.round((images + 1.0) * 127.5)
    return distribution(name, params).log_prob(images)


def mean(name, params):
    """The mean image of p(x | z) in the likelihood's range, float32 (batch, H, W, C)."""
    params = tf.cast(params, tf.float32)
    tfd = distributions()
    if name == "bernoulli":
        return tf.sigmoid(params)
    loc, _ = _split(params)
    return tf.clip_by_value(loc, -1.0, 1.0)


def to_uint8(name, images):
    """Mean images in the likelihood's range -> uint8 in [0, 255]."""
    low, high = RANGES[name]
    scaled = (tf.cast(images, tf.float32) - low) / (high - low) * 255.0
    return tf.cast(tf.clip_by_value(tf.round(scaled), 0.0, 255.0), tf.uint8)


def check_images(name, images, image_shape):
    """Validates eager ``images`` against the likelihood's range and ``image_shape``;
    returns them as a float32 tensor (batch, H, W, C)."""
    if not tf.is_tensor(images):
        images = np.asarray(images)
        if images.dtype == np.uint8:
            raise TypeError(f"images must be floats in {list(RANGES[name])} for the {name} likelihood, got uint8 "
                            "pixels; scale them (for example keras_genai.data.images(..., value_range=...))")
    images = tf.convert_to_tensor(images)
    if not (images.dtype.is_floating or images.dtype.is_integer):
        raise TypeError(f"images must be a float array, got dtype {images.dtype.name}")
    if tuple(images.shape[1:]) != tuple(image_shape) or images.shape[0] == 0:
        raise ValueError(f"images must have shape (batch, {', '.join(map(str, image_shape))}) with batch >= 1, "
                         f"got {tuple(images.shape)}")
    images = tf.cast(images, tf.float32)
    low, high = RANGES[name]
    lo, hi = float(tf.reduce_min(images)), float(tf.reduce_max(images))
    if lo < low or hi > high or not np.isfinite([lo, hi]).all():
        hint = " (binarize them, e.g. keras_genai.data.images(..., binarize='fixed', value_range=(0, 1)))" \
            if name == "bernoulli" else ""
        raise ValueError(f"the {name} likelihood models images in [{low:g}, {high:g}]; got values from {lo:g} to "
                         f"{hi:g}{hint}")
    return images
