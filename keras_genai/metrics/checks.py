"""Input validation shared by the metric modules."""

import numpy as np


def as_feature_matrix(features, name):
    """Converts ``features`` (numpy array or tf tensor) to a finite float64 (n, dim) matrix."""
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (num_samples, dim) array, got shape {array.shape}")
    if array.shape[1] == 0:
        raise ValueError(f"{name} must have at least one feature dimension, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contain NaN or inf")
    return array


def as_feature_pair(real, fake):
    """Both feature sets as finite float64 matrices of the same dimension: ``(real, fake)``."""
    real = as_feature_matrix(real, "real features")
    fake = as_feature_matrix(fake, "fake features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and fake features must have the same dimension, got {real.shape} and {fake.shape}")
    return real, fake
