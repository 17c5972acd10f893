"""Unit conversions and estimators for likelihood-based models (VAEs, flows, autoregressive).

Inputs are numpy arrays, tf tensors or python numbers of natural-log quantities (nats).
Outputs are float64: a python float for scalar input, else a numpy array of the input's
(broadcast) shape.
"""

import math

import numpy as np


def _as_float64(values):
    return np.asarray(values, dtype=np.float64)


def _to_output(array):
    return float(array) if array.ndim == 0 else array


def nats_to_bits(nats):
    """Convert nats to bits: ``nats / ln 2``. Any shape; float64 output."""
    return _to_output(_as_float64(nats) / math.log(2.0))


def bits_per_dim(nats_per_example, num_dims):
    """Negative log-likelihood per example (nats) → bits per dimension.

    Args:
        nats_per_example: NLL of whole examples in nats, any shape (e.g. (batch,) or scalar).
        num_dims: int ≥ 1, dimensions per example (e.g. 28·28·1 = 784 for MNIST).

    Returns:
        ``nats / (num_dims · ln 2)``, same shape, float64.
    """
    if isinstance(num_dims, bool) or int(num_dims) != num_dims or num_dims < 1:
        raise ValueError(f"num_dims must be an integer ≥ 1, got {num_dims}")
    return _to_output(_as_float64(nats_per_example) / (int(num_dims) * math.log(2.0)))


def bits_per_character(nats_per_char):
    """Cross-entropy per character in nats → bits per character (``nats / ln 2``)."""
    return nats_to_bits(nats_per_char)


def perplexity(nats_per_token):
    """Mean cross-entropy per token in nats → perplexity ``exp(nats)`` (≥ 1 for nats ≥ 0)."""
    return _to_output(np.exp(_as_float64(nats_per_token)))


def log_mean_exp(log_weights, axis=-1):
    """Numerically stable ``log(mean(exp(log_weights), axis))``.

    Shifts by the maximum along ``axis``, so large magnitudes neither overflow nor
    underflow. A slice of all ``-inf`` gives ``-inf``; NaN propagates.

    Args:
        log_weights: array or tensor of any shape with a non-empty ``axis``.
        axis: int, the axis to reduce.

    Returns:
        float64, the input's shape without ``axis``.
    """
    log_weights = _as_float64(log_weights)
    if log_weights.ndim == 0:
        raise ValueError("log_mean_exp needs an array with at least one axis, got a scalar")
    if log_weights.shape[axis] < 1:
        raise ValueError(f"log_mean_exp needs at least one value along axis {axis}, got shape {log_weights.shape}")
    shift = np.max(log_weights, axis=axis, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0.0)
    with np.errstate(divide="ignore"):
        result = np.log(np.mean(np.exp(log_weights - shift), axis=axis)) + np.squeeze(shift, axis=axis)
    return _to_output(result)


def importance_weighted_nll(log_weights):
    """Importance-weighted (IWAE) estimate of ``-log p(x)`` per example, in nats.

    Args:
        log_weights: (batch, k) array or tensor of ``log p(x, z_i) - log q(z_i | x)`` for k ≥ 1
            importance samples ``z_i ~ q(z | x)``.

    Returns:
        (batch,) float64: ``-log((1/k) Σ_i exp(log_weights[:, i]))``. With k = 1 it is the
        negative single-sample ELBO; it tightens towards ``-log p(x)`` as k grows.
    """
    log_weights = _as_float64(log_weights)
    if log_weights.ndim != 2:
        raise ValueError(f"log_weights must be a 2-D (batch, k) array, got shape {log_weights.shape}")
    if log_weights.shape[1] < 1:
        raise ValueError(
            f"importance_weighted_nll needs k ≥ 1 importance samples per example, got shape {log_weights.shape}"
        )
    return -log_mean_exp(log_weights, axis=1)


def elbo(log_likelihood, kl):
    """Evidence lower bound ``E_q[log p(x|z)] - KL(q(z|x) || p(z))``, in nats.

    Args:
        log_likelihood: reconstruction log-likelihood, any shape (e.g. (batch,)).
        kl: KL divergence, broadcastable against ``log_likelihood``.

    Returns:
        float64 of the broadcast shape (python float for scalars).
    """
    log_likelihood, kl = _as_float64(log_likelihood), _as_float64(kl)
    try:
        np.broadcast_shapes(log_likelihood.shape, kl.shape)
    except ValueError:
        raise ValueError(
            f"log_likelihood and kl must have broadcastable shapes, got {log_likelihood.shape} and {kl.shape}"
        ) from None
    return _to_output(log_likelihood - kl)


def nll_summary(nll_chunks, num_dims, discrete=True):
    """Mean negative log-likelihood of a test set, with its standard error.

    Args:
        nll_chunks: non-empty list of arrays of per-example NLL in nats (one per batch).
        num_dims: dimensions per example (784 for MNIST).
        discrete: whether the likelihood is a probability (bits per dimension make sense);
            False for densities such as a Gaussian.
    Returns:
        dict: nll, nll_standard_error (std / sqrt(n) across examples), bits_per_dim (when
        ``discrete``), num_examples.
    """
    if not nll_chunks:
        raise ValueError("no test images to evaluate")
    nll = np.concatenate([_as_float64(chunk).reshape(-1) for chunk in nll_chunks])
    summary = {
        "nll": float(nll.mean()),
        "nll_standard_error": float(nll.std(ddof=1) / math.sqrt(len(nll))) if len(nll) > 1 else 0.0,
    }
    if discrete:
        summary["bits_per_dim"] = float(bits_per_dim(nll.mean(), num_dims))
    summary["num_examples"] = int(len(nll))
    return summary
