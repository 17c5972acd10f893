"""Fréchet distance between Gaussians fitted to features (the maths behind FID).

Features are accumulated in float64 by :class:`FeatureStatistics`, which keeps only a mean
vector and a scatter matrix, so arbitrarily many batches fit in ``O(dim**2)`` memory.
"""

import numpy as np

from keras_genai.metrics.checks import as_feature_matrix, as_feature_pair


class FeatureStatistics:
    """Streaming mean and unbiased covariance of feature vectors.

    Batches are merged with Chan et al.'s parallel update in float64: each batch is centred
    on its own mean before its scatter matrix is formed, so large feature offsets do not
    cancel catastrophically. The batches themselves are never stored.

        stats = FeatureStatistics()
        for batch in batches:           # each (batch_size, dim), any float dtype
            stats.update(batch)
        stats.mean, stats.covariance     # (dim,), (dim, dim) float64
    """

    def __init__(self):
        self._count = 0
        self._mean = None
        self._scatter = None  # sum over samples of (x - mean)(x - mean)^T

    def update(self, features):
        """Add a batch of features.

        Args:
            features: (batch, dim) array or tensor of finite reals, any float dtype. ``batch``
                may be 0; ``dim`` must match earlier batches.

        Raises:
            ValueError: on a rank other than 2, a ``dim`` that differs from earlier batches,
                or NaN/inf values (the statistics are left unchanged).
        """
        batch = as_feature_matrix(features, "features")
        if self._mean is not None and batch.shape[1] != self.dim:
            raise ValueError(
                f"features must have dimension {self.dim} like earlier batches, got shape {batch.shape}"
            )
        if self._mean is None:
            dim = batch.shape[1]
            self._mean = np.zeros(dim)
            self._scatter = np.zeros((dim, dim))
        batch_count = batch.shape[0]
        if batch_count == 0:
            return
        batch_mean = batch.mean(axis=0)
        centred = batch - batch_mean
        batch_scatter = centred.T @ centred

        total = self._count + batch_count
        delta = batch_mean - self._mean
        self._mean = self._mean + delta * (batch_count / total)
        self._scatter = (
            self._scatter + batch_scatter + np.outer(delta, delta) * (self._count * batch_count / total)
        )
        self._count = total

    @property
    def count(self):
        """Number of feature vectors seen so far (python int)."""
        return self._count

    @property
    def dim(self):
        """Feature dimension (python int), or None before the first update."""
        return None if self._mean is None else self._mean.shape[0]

    @property
    def mean(self):
        """Mean feature vector, float64 of shape (dim,). Needs at least one sample."""
        if self._count < 1:
            raise ValueError("FeatureStatistics.mean needs at least 1 sample, got 0")
        return self._mean.copy()

    @property
    def covariance(self):
        """Unbiased (ddof=1) covariance, symmetric float64 of shape (dim, dim). Needs ≥ 2 samples."""
        if self._count < 2:
            raise ValueError(f"FeatureStatistics.covariance needs at least 2 samples, got {self._count}")
        covariance = self._scatter / (self._count - 1)
        return (covariance + covariance.T) / 2


def _check_covariance(covariance, dim, name):
    covariance = np.asarray(covariance, dtype=np.float64)
    if covariance.shape != (dim, dim):
        raise ValueError(f"{name} must have shape ({dim}, {dim}) to match the means, got {covariance.shape}")
    if not np.all(np.isfinite(covariance)):
        raise ValueError(f"{name} contains NaN or inf")
    scale = np.max(np.abs(covariance), initial=0.0)
    if np.max(np.abs(covariance - covariance.T), initial=0.0) > 1e-5 * scale:
        raise ValueError(f"{name} must be a symmetric matrix")
    return (covariance + covariance.T) / 2


def _psd_eigenvalues(eigenvalues, name):
    """Clip round-off negatives to 0; reject matrices that are clearly not positive semi-definite."""
    largest = np.max(np.abs(eigenvalues), initial=0.0)
    if eigenvalues.size and eigenvalues.min() < -1e-4 * largest:
        raise ValueError(
            f"{name} must be positive semi-definite, got an eigenvalue of {eigenvalues.min():.3g} "
            f"(largest magnitude {largest:.3g})"
        )
    return np.clip(eigenvalues, 0.0, None)


def frechet_distance(mean1, cov1, mean2, cov2):
    """Squared Fréchet (2-Wasserstein) distance between N(mean1, cov1) and N(mean2, cov2).

    ``||mean1 - mean2||² + Tr(cov1 + cov2 - 2 (cov1 cov2)^{1/2})``. The trace of the matrix
    square root equals the sum of square roots of the eigenvalues of the symmetric matrix
    ``sqrt(cov1) cov2 sqrt(cov1)``, which is computed with symmetric eigendecompositions
    only (no complex arithmetic); eigenvalues below zero from round-off are clipped to 0.

    Args:
        mean1, mean2: (dim,) arrays or tensors, finite.
        cov1, cov2: (dim, dim) symmetric positive semi-definite arrays or tensors (singular
            matrices are fine).

    Returns:
        python float ≥ 0 (0 for identical Gaussians, up to round-off).

    Raises:
        ValueError: on mismatched shapes, NaN/inf, or non-symmetric / clearly indefinite
            covariances.
    """
    mean1 = np.asarray(mean1, dtype=np.float64)
    mean2 = np.asarray(mean2, dtype=np.float64)
    if mean1.ndim != 1 or mean1.shape != mean2.shape:
        raise ValueError(f"means must be 1-D with equal shapes, got {mean1.shape} and {mean2.shape}")
    if not (np.all(np.isfinite(mean1)) and np.all(np.isfinite(mean2))):
        raise ValueError("means contain NaN or inf")
    dim = mean1.shape[0]
    cov1 = _check_covariance(cov1, dim, "cov1")
    cov2 = _check_covariance(cov2, dim, "cov2")

    eigenvalues1, eigenvectors1 = np.linalg.eigh(cov1)
    eigenvalues1 = _psd_eigenvalues(eigenvalues1, "cov1")
    _psd_eigenvalues(np.linalg.eigvalsh(cov2), "cov2")
    sqrt_cov1 = (eigenvectors1 * np.sqrt(eigenvalues1)) @ eigenvectors1.T
    product = sqrt_cov1 @ cov2 @ sqrt_cov1
    product_eigenvalues = np.clip(np.linalg.eigvalsh((product + product.T) / 2), 0.0, None)
    trace_sqrt_product = np.sum(np.sqrt(product_eigenvalues))

    difference = mean1 - mean2
    distance = difference @ difference + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt_product
    return max(float(distance), 0.0)


def fid_from_statistics(stats1, stats2):
    """Fréchet distance between two :class:`FeatureStatistics` (e.g. real and generated).

    Returns:
        python float ≥ 0.

    Raises:
        ValueError: if the feature dimensions differ, or if either side has no more samples
            than feature dimensions (its covariance could not be full rank, so the result
            would be meaningless).
    """
    for stats in (stats1, stats2):
        if not isinstance(stats, FeatureStatistics):
            raise ValueError(f"expected FeatureStatistics, got {type(stats).__name__}")
        if stats.dim is None:
            raise ValueError("FID needs more samples than feature dimensions: got 0 samples")
    if stats1.dim != stats2.dim:
        raise ValueError(f"feature dimensions differ: {stats1.dim} and {stats2.dim}")
    for stats in (stats1, stats2):
        if stats.count <= stats.dim:
            raise ValueError(
                "FID needs more samples than feature dimensions: "
                f"got {stats.count} samples of dimension {stats.dim}"
            )
    return frechet_distance(stats1.mean, stats1.covariance, stats2.mean, stats2.covariance)


def fid_from_features(real, fake):
    """Fréchet distance between Gaussians fitted to two feature sets.

    Args:
        real, fake: (n_real, dim) and (n_fake, dim) arrays or tensors of finite reals; each
            needs more rows than ``dim``.

    Returns:
        python float ≥ 0.

    Raises:
        ValueError: on wrong rank, mismatched ``dim``, NaN/inf, or too few samples.
    """
    real, fake = as_feature_pair(real, fake)
    real_stats, fake_stats = FeatureStatistics(), FeatureStatistics()
    real_stats.update(real)
    fake_stats.update(fake)
    return fid_from_statistics(real_stats, fake_stats)
