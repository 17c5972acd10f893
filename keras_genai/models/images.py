"""Small helpers on image tensors shared by the image families."""

import numbers

import tensorflow as tf


def check_count(num_samples):
    """Returns ``num_samples`` as an int, or raises if it is not a positive integer."""
    if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral):
        raise TypeError(f"num_samples must be a positive integer, got {num_samples!r}")
    if num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples}")
    return int(num_samples)


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
