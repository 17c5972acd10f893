"""Inception Score: exp of the mean KL divergence between p(y|x) and the marginal p(y)."""

import numpy as np


def _split_scores(probabilities, splits):
    scores = []
    for part in np.array_split(probabilities, splits):
        marginal = part.mean(axis=0, keepdims=True)
        # 0 · log 0 = 0; wherever p(y|x) > 0 the marginal is > 0 too.
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0)
        scores.append(np.exp(terms.sum(axis=1).mean()))
    return np.asarray(scores)


def inception_score(probabilities, splits=10):
    """Inception Score of class probabilities, averaged over splits.

    The rows are divided into ``splits`` contiguous, nearly equal parts (``np.array_split``,
    so no row is dropped); each part scores ``exp(mean_x KL(p(y|x) || p(y)))`` with p(y) the
    part's mean prediction. Rows are renormalised to sum to exactly 1 first.

    Args:
        probabilities: (n, num_classes) array or tensor; every row non-negative and summing
            to 1 within 1e-3.
        splits: int with 1 ≤ splits ≤ n.

    Returns:
        (mean, std): python floats in [1, num_classes]; std is the population (ddof=0)
        standard deviation over splits (0 when splits == 1).

    Raises:
        ValueError: on wrong rank, NaN/inf, negative entries, rows not summing to 1, or a bad
            number of splits.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[0] == 0 or probabilities.shape[1] == 0:
        raise ValueError(
            f"probabilities must be a non-empty 2-D (num_samples, num_classes) array, got shape {probabilities.shape}"
        )
    if not np.all(np.isfinite(probabilities)):
        raise ValueError("probabilities contain NaN or inf")
    if probabilities.min() < 0:
        raise ValueError(
            f"probabilities must be non-negative, got {probabilities.min():.3g}; "
            "pass logits to inception_score_from_logits"
        )
    row_sums = probabilities.sum(axis=1)
    worst = int(np.argmax(np.abs(row_sums - 1.0)))
    if abs(row_sums[worst] - 1.0) > 1e-3:
        raise ValueError(
            f"each row of probabilities must sum to 1 (within 1e-3), row {worst} sums to {row_sums[worst]:.6g}; "
            "pass logits to inception_score_from_logits"
        )
    num_samples = probabilities.shape[0]
    if int(splits) != splits or not 1 <= splits <= num_samples:
        raise ValueError(f"splits must be an integer in [1, {num_samples}] (the number of samples), got {splits}")
    scores = _split_scores(probabilities / row_sums[:, None], int(splits))
    return float(scores.mean()), float(scores.std())


def inception_score_from_logits(logits, splits=10):
    """Inception Score of unnormalised class logits (softmax is applied in float64).

    Args:
        logits: (n, num_classes) array or tensor of finite reals.
        splits: int with 1 ≤ splits ≤ n.

    Returns:
        (mean, std) as in :func:`inception_score`.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"logits must be a non-empty 2-D (num_samples, num_classes) array, got shape {logits.shape}")
    if not np.all(np.isfinite(logits)):
        raise ValueError("logits contain NaN or inf")
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return inception_score(exponentials / exponentials.sum(axis=1, keepdims=True), splits)
