"""Kernel Inception Distance: an unbiased MMD² between two feature sets.

Unlike FID it has an unbiased estimator, so it is meaningful for small sample sizes and its
average over subsets can be slightly negative when both sets come from one distribution.
"""

import numpy as np

from keras_genai.metrics.checks import as_feature_pair


def _polynomial_kernel(a, b):
    """Cubic polynomial kernel ``(a·b / dim + 1)^3`` between the rows of a and b."""
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def _unbiased_mmd_squared(real, fake):
    """Unbiased MMD² of two equally sized (m, dim) samples; within-set diagonals are excluded."""
    m = real.shape[0]
    kernel_real = _polynomial_kernel(real, real)
    kernel_fake = _polynomial_kernel(fake, fake)
    kernel_cross = _polynomial_kernel(real, fake)
    within_real = (kernel_real.sum() - np.trace(kernel_real)) / (m * (m - 1))
    within_fake = (kernel_fake.sum() - np.trace(kernel_fake)) / (m * (m - 1))
    return within_real + within_fake - 2.0 * kernel_cross.sum() / (m * m)


def kernel_inception_distance(real, fake, num_subsets=100, subset_size=1000, seed=0):
    """KID: mean and standard deviation of the unbiased MMD² over random subsets.

    Each of ``num_subsets`` rounds draws ``min(subset_size, n_real, n_fake)`` rows without
    replacement from each set (numpy ``default_rng(seed)``, so results are reproducible)
    and evaluates the unbiased MMD² with kernel ``k(x, y) = (x·y / dim + 1)^3``.

    Args:
        real, fake: (n_real, dim) and (n_fake, dim) arrays or tensors of finite reals.
        num_subsets: int ≥ 1.
        subset_size: int; the effective size must be ≥ 2.
        seed: anything ``np.random.default_rng`` accepts (int, None, Generator).

    Returns:
        (mean, std): python floats; std is the population (ddof=0) standard deviation over
        subsets. The mean is ≈ 0 for equal distributions and can be slightly negative.

    Raises:
        ValueError: on wrong rank, mismatched dim, NaN/inf, num_subsets < 1 or an effective
            subset size < 2.
    """
    real, fake = as_feature_pair(real, fake)
    if int(num_subsets) != num_subsets or num_subsets < 1:
        raise ValueError(f"num_subsets must be an integer ≥ 1, got {num_subsets}")
    size = min(int(subset_size), real.shape[0], fake.shape[0])
    if size < 2:
        raise ValueError(
            f"KID needs subsets of at least 2 samples: got subset size {size} "
            f"(subset_size={subset_size}, {real.shape[0]} real, {fake.shape[0]} fake samples)"
        )
    rng = np.random.default_rng(seed)
    estimates = np.empty(int(num_subsets))
    for index in range(int(num_subsets)):
        real_subset = real[rng.choice(real.shape[0], size, replace=False)]
        fake_subset = fake[rng.choice(fake.shape[0], size, replace=False)]
        estimates[index] = _unbiased_mmd_squared(real_subset, fake_subset)
    return float(estimates.mean()), float(estimates.std())
