"""Feature networks for FID/KID/IS/precision-recall.

A ``FeatureExtractor`` maps uint8 images (batch, H, W, C) in [0, 255] to
``(features (batch, D) float32, logits (batch, K) float32)``.

- ``inception_v3()``: the usual InceptionV3 protocol (ImageNet weights, downloaded by Keras on
  first use): grey images are repeated to 3 channels, resized bilinearly *with antialiasing*
  to 299x299, scaled to [-1, 1]; features are the 2048-d average pool, logits the 1000 ImageNet
  classes. Numbers from it are comparable only with tools that use the same resize.
- ``mnist_classifier()``: the project's own MNIST network (preset ``mnist_classifier``, trained
  here on MNIST train and shipped), works offline; features are its 128-d penultimate layer,
  logits its 10 classes. Use it for MNIST-like 28x28x1 images.
"""

import keras
import numpy as np
import tensorflow as tf


class FeatureExtractor:
    """Wraps a Keras model that returns (features, logits) from preprocessed images.

    Args:
        model: ``keras.Model`` with two outputs (features, logits).
        preprocess: function from float32 images in [0, 255] (batch, H, W, C) to model input.
        image_shape: expected (H, W, C) of the uint8 input images, None entries are free.
        name: used in reports ("mnist", "inception").
    """

    def __init__(self, model, preprocess, image_shape, name):
        self.model = model
        self.preprocess = preprocess
        self.image_shape = tuple(image_shape)
        self.name = name
        self._fn = tf.function(lambda x: self.model(self.preprocess(x), training=False), reduce_retracing=True)

    @property
    def feature_dim(self):
        return int(self.model.outputs[0].shape[-1])

    def __call__(self, images):
        """uint8 images (batch, H, W, C) in [0, 255] -> (features, logits) float32 numpy arrays."""
        images = self._check(images)
        features, logits = self._fn(tf.cast(images, tf.float32))
        return features.numpy(), logits.numpy()

    def _check(self, images):
        images = images.numpy() if tf.is_tensor(images) else np.asarray(images)
        if images.dtype != np.uint8:
            raise ValueError(
                f"{self.name} features expect uint8 images in [0, 255] (use model.sample(...) or "
                f"keras_genai.models.images.to_uint8 on [-1, 1] floats), got dtype {images.dtype}"
            )
        if images.ndim != 4 or any(e is not None and e != a for e, a in zip(self.image_shape, images.shape[1:])):
            raise ValueError(f"{self.name} features expect images of shape (batch, {self.image_shape}), got {images.shape}")
        return images


def _inception_preprocess(images):
    if images.shape[-1] == 1:
        images = tf.repeat(images, 3, axis=-1)
    images = tf.image.resize(images, (299, 299), method="bilinear", antialias=True)
    return images / 127.5 - 1.0


def inception_v3(weights="imagenet"):
    """InceptionV3 features (2048-d pool) and ImageNet logits; ``weights=None`` for tests."""
    base = keras.applications.InceptionV3(include_top=True, weights=weights, classifier_activation=None)
    pool = base.get_layer("avg_pool").output
    model = keras.Model(base.inputs, [pool, base.outputs[0]], name="inception_features")
    return FeatureExtractor(model, _inception_preprocess, (None, None, None), "inception")


def _unit_range(images):
    return images / 127.5 - 1.0


def mnist_classifier(model=None):
    """The shipped MNIST domain network as a ``FeatureExtractor`` (offline).

    ``model`` defaults to ``keras_genai.zoo.load("mnist_classifier")``; it takes images in
    [-1, 1] and has a layer named "features" before its logits.
    """
    if model is None:
        from keras_genai import zoo

        model = zoo.load("mnist_classifier", compile=False)
    two_outputs = keras.Model(model.inputs, [model.get_layer("features").output, model.outputs[0]])
    return FeatureExtractor(two_outputs, _unit_range, (28, 28, 1), "mnist")


def get(name):
    """A feature extractor by name: "mnist" or "inception"."""
    if name == "mnist":
        return mnist_classifier()
    if name == "inception":
        return inception_v3()
    raise ValueError(f"unknown feature network {name!r}; expected 'mnist' or 'inception'")
