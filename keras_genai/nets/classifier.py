"""A small convolutional image classifier (the MNIST domain network for evaluation)."""

import keras
from keras import layers


def conv_classifier(image_shape=(28, 28, 1), num_classes=10, feature_dim=128, dropout=0.3, name="classifier"):
    """Builds a two-block CNN classifier.

    Input: images (batch, H, W, C) float32 in [-1, 1]. Output: logits (batch, num_classes).
    The layer named "features" is the ``feature_dim``-d penultimate layer (after ReLU) that
    evaluation uses for FID/KID/precision-recall.
    """
    images = keras.Input(tuple(image_shape), name="images")
    x = images
    for filters in (32, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    features = layers.Dense(feature_dim, activation="relu", name="features")(x)
    x = layers.Dropout(dropout)(features)
    logits = layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(images, logits, name=name)
