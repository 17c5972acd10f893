"""A small convolutional image classifier (the MNIST domain network for evaluation)."""

import keras
from keras import layers


def conv_classifier(image_shape=(28, 28, 1), num_classes=10, feature_dim=128, dropout=0.3, name="classifier"):
    """Builds a two-block CNN classifier.

    Input: images (batch, H, W, C) float32 in [-1, 1]. Output: logits (batch, num_classes).
    The layer named "features" is the ``feature_dim``-d penultimate layer (after ReLU) that
    evaluation uses for FID/KID/precision-recall. Every layer has a fixed name (those of the
    shipped ``mnist_classifier``), so its weights load whatever was built before in the process.
    """
    images = keras.Input(tuple(image_shape), name="images")
    x = images
    for block, filters in enumerate((32, 64)):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=_numbered("conv2d", 2 * block))(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=_numbered("conv2d", 2 * block + 1))(x)
        x = layers.MaxPooling2D(name=_numbered("max_pooling2d", block))(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    features = layers.Dense(feature_dim, activation="relu", name="features")(x)
    x = layers.Dropout(dropout, name="dropout_1")(features)
    logits = layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(images, logits, name=name)


def _numbered(name, index):
    """Keras's automatic layer names: ``conv2d``, ``conv2d_1``, ..."""
    return f"{name}_{index}" if index else name
