"""Improved precision and recall (Kynkäänniemi et al., 2019) from k-nearest-neighbour balls.

Each set's manifold is approximated by the union of balls around its samples, a ball's
radius being the distance to the sample's k-th nearest neighbour within its own set.
Precision asks how many fake samples land on the real manifold, recall the reverse.
"""

import numpy as np

from keras_genai.metrics.checks import as_feature_pair


def _squared_distances(rows, columns, columns_squared_norms):
    """Pairwise squared Euclidean distances ``||a||² + ||b||² - 2 a·b``, clipped at 0."""
    rows_squared_norms = np.einsum("ij,ij->i", rows, rows)
    squared = rows_squared_norms[:, None] + columns_squared_norms[None, :] - 2.0 * rows @ columns.T
    return np.maximum(squared, 0.0)


def _squared_knn_radii(features, k, batch_size):
    """Squared distance from each row to its k-th nearest other row, shape (n,)."""
    squared_norms = np.einsum("ij,ij->i", features, features)
    radii = np.empty(features.shape[0])
    for start in range(0, features.shape[0], batch_size):
        stop = min(start + batch_size, features.shape[0])
        squared = _squared_distances(features[start:stop], features, squared_norms)
        squared[np.arange(stop - start), np.arange(start, stop)] = np.inf  # a sample is not its own neighbour
        radii[start:stop] = np.partition(squared, k - 1, axis=1)[:, k - 1]
    return radii


def _fraction_inside_balls(queries, centres, squared_radii, batch_size):
    """Fraction of query rows within distance radius of at least one centre row."""
    centres_squared_norms = np.einsum("ij,ij->i", centres, centres)
    inside = 0
    for start in range(0, queries.shape[0], batch_size):
        squared = _squared_distances(queries[start : start + batch_size], centres, centres_squared_norms)
        inside += int(np.count_nonzero(np.any(squared <= squared_radii[None, :], axis=1)))
    return inside / queries.shape[0]


def precision_recall(real, fake, k=3, batch_size=1000):
    """Improved precision and recall of generated features against real ones.

    Distances are computed in float64, ``batch_size`` rows at a time, so peak extra memory
    is about ``batch_size × max(n_real, n_fake)`` float64 values.

    Args:
        real, fake: (n_real, dim) and (n_fake, dim) arrays or tensors of finite reals; each
            needs more than ``k`` rows.
        k: int ≥ 1, the neighbour whose distance sets a ball's radius (3 in the paper).
        batch_size: int ≥ 1, rows per distance block.

    Returns:
        dict with python floats in [0, 1]: ``precision`` (fraction of fake samples inside at
        least one real ball) and ``recall`` (fraction of real samples inside at least one
        fake ball). Points on a ball's boundary count as inside.

    Raises:
        ValueError: on wrong rank, mismatched dim, NaN/inf, bad k or batch_size, or a set
            with k or fewer samples.
    """
    real, fake = as_feature_pair(real, fake)
    if int(k) != k or k < 1:
        raise ValueError(f"k must be an integer ≥ 1, got {k}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be an integer ≥ 1, got {batch_size}")
    k, batch_size = int(k), int(batch_size)
    for name, features in (("real", real), ("fake", fake)):
        if features.shape[0] <= k:
            raise ValueError(
                f"precision_recall needs more than k={k} {name} samples to find k nearest neighbours, "
                f"got {features.shape[0]}"
            )
    real_radii = _squared_knn_radii(real, k, batch_size)
    fake_radii = _squared_knn_radii(fake, k, batch_size)
    return {
        "precision": _fraction_inside_balls(fake, real, real_radii, batch_size),
        "recall": _fraction_inside_balls(real, fake, fake_radii, batch_size),
    }
