"""Small helpers on image tensors shared by the image families."""

import numbers

import numpy as np
import tensorflow as tf


def check_count(value, name="num_samples"):
    """Returns ``value`` as an int: ``TypeError`` if it is not an integer, ``ValueError`` if < 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def to_uint8(images):
    """Float images in [-1, 1] (any shape) -> uint8 tensor in [0, 255], rounded and clipped."""
    scaled = (tf.cast(images, tf.float32) + 1.0) * 127.5
    return tf.cast(tf.clip_by_value(tf.round(scaled), 0.0, 255.0), tf.uint8)


def images_from_batch(data):
    """The images of a training batch: ``x`` itself, or the first item of ``(x, y, ...)``."""
    if isinstance(data, (tuple, list)):
        data = data[0]
    if isinstance(data, dict):
        data = data["images"] if "images" in data else data["image"]
    return data


def check_labels(labels, num_samples, num_classes, family):
    """Class labels for ``num_samples`` examples of a ``family`` model ("GAN", "VAE", ...).

    ``num_classes`` None (unconditional): labels must be None. Otherwise an int (used for every
    example) or ``num_samples`` ints in [0, num_classes). Returns int32 numpy or None.
    """
    if num_classes is None:
        if labels is not None:
            raise ValueError(f"this {family} is unconditional; do not pass labels")
        return None
    if labels is None:
        raise ValueError(f"this {family} is conditional: pass labels (ints in [0, {num_classes}))")
    if isinstance(labels, numbers.Integral) and not isinstance(labels, bool):
        labels = np.full((num_samples,), labels)
    labels = np.asarray(labels.numpy() if tf.is_tensor(labels) else labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
    if labels.shape != (num_samples,):
        raise ValueError(f"expected {num_samples} labels (one per sample), got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must be in [0, {num_classes}), got values from {labels.min()} to {labels.max()}")
    return labels.astype(np.int32)

