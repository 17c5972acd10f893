import math

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from keras_genai import metrics


def _random_spd(rng, dim):
    factor = rng.standard_normal((dim, dim))
    return factor @ factor.T / dim + 0.1 * np.eye(dim)


# --- Fréchet distance / FID ---------------------------------------------------------------


def test_fid_of_a_set_with_itself_is_zero():
    features = 10.0 * np.random.default_rng(0).standard_normal((400, 8)) + 3.0
    scale = np.trace(np.cov(features, rowvar=False))
    assert abs(metrics.fid_from_features(features, features)) < 1e-6 * scale


def test_frechet_distance_of_diagonal_gaussians_matches_closed_form():
    mean1, mean2 = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.0])
    var1, var2 = np.array([1.0, 2.0, 3.0, 4.0]), np.array([4.0, 1.0, 0.5, 2.0])
    expected = np.sum((mean1 - mean2) ** 2) + np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2))
    got = metrics.frechet_distance(mean1, np.diag(var1), mean2, np.diag(var2))
    assert isinstance(got, float)
    assert got == pytest.approx(expected, rel=1e-12)
    assert metrics.frechet_distance(mean2, np.diag(var2), mean1, np.diag(var1)) == pytest.approx(expected, rel=1e-12)


def test_fid_of_large_gaussian_samples_approaches_closed_form():
    rng = np.random.default_rng(1)
    mean1, mean2 = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.0])
    var1, var2 = np.array([1.0, 2.0, 3.0, 4.0]), np.array([4.0, 1.0, 0.5, 2.0])
    expected = np.sum((mean1 - mean2) ** 2) + np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2))
    real = mean1 + np.sqrt(var1) * rng.standard_normal((20000, 4))
    fake = mean2 + np.sqrt(var2) * rng.standard_normal((20000, 4))
    assert metrics.fid_from_features(real, fake) == pytest.approx(expected, rel=0.03)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frechet_distance_matches_scipy_sqrtm(seed):
    rng = np.random.default_rng(seed)
    dim = 16
    mean1, mean2 = rng.standard_normal(dim), rng.standard_normal(dim)
    cov1, cov2 = _random_spd(rng, dim), _random_spd(rng, dim)
    sqrt_product = np.real(scipy.linalg.sqrtm(cov1 @ cov2))
    expected = np.sum((mean1 - mean2) ** 2) + np.trace(cov1 + cov2 - 2 * sqrt_product)
    assert metrics.frechet_distance(mean1, cov1, mean2, cov2) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_accepts_singular_covariances():
    zeros = np.zeros((3, 3))
    assert metrics.frechet_distance(np.zeros(3), zeros, np.ones(3), zeros) == pytest.approx(3.0)


def test_frechet_distance_rejects_bad_parameters():
    rng = np.random.default_rng(0)
    cov = _random_spd(rng, 3)
    with pytest.raises(ValueError, match="shape"):
        metrics.frechet_distance(np.zeros(3), cov, np.zeros(3), np.eye(4))
    with pytest.raises(ValueError, match="symmetric"):
        metrics.frechet_distance(np.zeros(3), cov + np.triu(np.ones((3, 3)), 1), np.zeros(3), cov)
    with pytest.raises(ValueError, match="positive semi-definite"):
        metrics.frechet_distance(np.zeros(3), -cov, np.zeros(3), cov)


def test_streaming_statistics_over_uneven_batches_match_numpy():
    rng = np.random.default_rng(2)
    features = 1e4 + rng.standard_normal((200, 6)) @ rng.standard_normal((6, 6))
    stats = metrics.FeatureStatistics()
    start = 0
    for size in [1, 7, 0, 50, 3, 139]:
        stats.update(features[start : start + size].astype(np.float64))
        start += size
    assert stats.count == 200
    np.testing.assert_allclose(stats.mean, features.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.covariance, np.cov(features, rowvar=False), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(stats.covariance, stats.covariance.T)


def test_statistics_accept_tensorflow_tensors():
    features = np.random.default_rng(3).standard_normal((50, 4)).astype(np.float32)
    stats = metrics.FeatureStatistics()
    stats.update(tf.constant(features))
    np.testing.assert_allclose(stats.covariance, np.cov(features.astype(np.float64), rowvar=False), rtol=1e-10)
    shifted = tf.constant(features + 1.0)
    assert metrics.fid_from_features(tf.constant(features), shifted) == pytest.approx(4.0, rel=1e-5)


def test_fid_needs_more_samples_than_dimensions():
    features = np.random.default_rng(4).standard_normal((8, 8))
    message = "FID needs more samples than feature dimensions: got 8 samples of dimension 8"
    with pytest.raises(ValueError, match=message):
        metrics.fid_from_features(features, features)
    enough, too_few = metrics.FeatureStatistics(), metrics.FeatureStatistics()
    enough.update(np.random.default_rng(5).standard_normal((20, 8)))
    too_few.update(features[:5])
    with pytest.raises(ValueError, match="got 5 samples of dimension 8"):
        metrics.fid_from_statistics(enough, too_few)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_non_finite_features_raise_and_leave_statistics_unchanged(bad_value):
    features = np.random.default_rng(6).standard_normal((10, 3))
    stats = metrics.FeatureStatistics()
    stats.update(features)
    corrupted = features.copy()
    corrupted[4, 1] = bad_value
    with pytest.raises(ValueError, match="features contain NaN or inf"):
        stats.update(corrupted)
    assert stats.count == 10
    with pytest.raises(ValueError, match="features contain NaN or inf"):
        metrics.fid_from_features(features, corrupted)


def test_statistics_reject_wrong_rank_and_dimension():
    stats = metrics.FeatureStatistics()
    with pytest.raises(ValueError, match="2-D"):
        stats.update(np.zeros(5))
    stats.update(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="dimension 3"):
        stats.update(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="same dimension"):
        metrics.fid_from_features(np.zeros((10, 3)), np.zeros((10, 4)))


# --- Inception Score ----------------------------------------------------------------------


def test_inception_score_of_uniform_predictions_is_one():
    mean, std = metrics.inception_score(np.full((50, 10), 0.1), splits=5)
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_of_balanced_one_hot_predictions_is_the_class_count():
    labels = np.tile(np.arange(10), 10)  # every contiguous split of 10 holds each class once
    mean, std = metrics.inception_score(np.eye(10)[labels], splits=10)
    assert mean == pytest.approx(10.0, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_from_logits_matches_softmax_probabilities():
    logits = 3.0 * np.random.default_rng(7).standard_normal((40, 5))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = metrics.inception_score(probabilities, splits=4)
    np.testing.assert_allclose(metrics.inception_score_from_logits(logits, splits=4), expected, rtol=1e-10)
    confident = metrics.inception_score_from_logits(100.0 * np.eye(10)[np.tile(np.arange(10), 3)], splits=3)
    assert confident[0] == pytest.approx(10.0, rel=1e-9)


def test_inception_score_rejects_bad_probabilities():
    uniform = np.full((20, 4), 0.25)
    with pytest.raises(ValueError, match="non-negative"):
        metrics.inception_score(uniform - np.array([0.5, 0.0, 0.0, -0.5]), splits=2)
    with pytest.raises(ValueError, match="sum to 1"):
        metrics.inception_score(2 * uniform, splits=2)
    with pytest.raises(ValueError, match="splits"):
        metrics.inception_score(uniform, splits=21)
    with pytest.raises(ValueError, match="2-D"):
        metrics.inception_score(uniform[0], splits=1)
    with pytest.raises(ValueError, match="NaN"):
        metrics.inception_score(np.full((2, 2), np.nan), splits=1)


# --- Kernel Inception Distance ------------------------------------------------------------


def test_kid_is_near_zero_for_one_distribution_and_positive_for_a_shifted_one():
    rng = np.random.default_rng(8)
    real, fake = rng.standard_normal((500, 8)), rng.standard_normal((500, 8))
    same_mean, _ = metrics.kernel_inception_distance(real, fake, num_subsets=50, subset_size=100)
    shifted_mean, shifted_std = metrics.kernel_inception_distance(real, fake + 1.0, num_subsets=50, subset_size=100)
    assert shifted_mean > 5 * shifted_std > 0
    assert abs(same_mean) < 0.02 * shifted_mean


def _biased_mmd_squared(real, fake):
    def kernel(a, b):
        return (a @ b.T / a.shape[1] + 1.0) ** 3

    return kernel(real, real).mean() + kernel(fake, fake).mean() - 2 * kernel(real, fake).mean()


def test_kid_estimator_is_unbiased():
    unbiased, biased = [], []
    for seed in range(300):
        rng = np.random.default_rng(seed)
        real, fake = rng.standard_normal((20, 4)), rng.standard_normal((20, 4))
        unbiased.append(metrics.kernel_inception_distance(real, fake, num_subsets=1, subset_size=20, seed=seed)[0])
        biased.append(_biased_mmd_squared(real, fake))
    unbiased, biased = np.array(unbiased), np.array(biased)
    standard_error = unbiased.std() / math.sqrt(len(unbiased))
    assert abs(unbiased.mean()) < 3 * standard_error
    assert biased.mean() > 10 * standard_error  # the V-statistic would fail the check above
    assert np.any(unbiased < 0)


def test_kid_is_reproducible_and_validates_input():
    rng = np.random.default_rng(9)
    real, fake = rng.standard_normal((30, 3)), rng.standard_normal((40, 3))
    first = metrics.kernel_inception_distance(real, fake, num_subsets=5, subset_size=10, seed=3)
    assert first == metrics.kernel_inception_distance(real, fake, num_subsets=5, subset_size=10, seed=3)
    with pytest.raises(ValueError, match="at least 2 samples"):
        metrics.kernel_inception_distance(real[:1], fake, num_subsets=5)
    with pytest.raises(ValueError, match="at least 2 samples"):
        metrics.kernel_inception_distance(real, fake, subset_size=1)
    with pytest.raises(ValueError, match="same dimension"):
        metrics.kernel_inception_distance(real, fake[:, :2])


# --- Precision and recall -----------------------------------------------------------------


def test_precision_recall_of_a_set_with_itself_is_one():
    features = np.random.default_rng(10).standard_normal((300, 5))
    assert metrics.precision_recall(features, features) == {"precision": 1.0, "recall": 1.0}


def test_precision_recall_of_far_apart_sets_is_zero():
    rng = np.random.default_rng(11)
    real, fake = rng.standard_normal((200, 5)), rng.standard_normal((150, 5)) + 100.0
    assert metrics.precision_recall(real, fake) == {"precision": 0.0, "recall": 0.0}


def test_partial_coverage_has_high_precision_and_low_recall():
    rng = np.random.default_rng(12)
    real = rng.standard_normal((1000, 2))
    fake = rng.standard_normal((2000, 2))
    fake = fake[fake[:, 0] < 0][:500]  # only the left half of the real distribution
    scores = metrics.precision_recall(real, fake, k=3, batch_size=128)
    assert scores["precision"] > 0.95
    assert scores["recall"] < 0.7


def test_precision_recall_by_hand_in_one_dimension():
    # k=1: real radii are all 1; fake radii are 3.4 (at 0.5), 1.6 (at 3.9) and 1.6 (at 5.5).
    real, fake = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([[0.5], [3.9], [5.5]])
    scores = metrics.precision_recall(real, fake, k=1, batch_size=2)
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == 1.0


def test_precision_recall_does_not_depend_on_batch_size():
    rng = np.random.default_rng(13)
    real, fake = rng.standard_normal((120, 4)), 0.5 + rng.standard_normal((90, 4))
    assert metrics.precision_recall(real, fake, batch_size=7) == metrics.precision_recall(real, fake, batch_size=1000)


def test_precision_recall_validates_input():
    features = np.zeros((3, 2))
    with pytest.raises(ValueError, match="more than k=3"):
        metrics.precision_recall(features, np.ones((10, 2)), k=3)
    with pytest.raises(ValueError, match="k must be"):
        metrics.precision_recall(np.ones((10, 2)), np.ones((10, 2)), k=0)
    with pytest.raises(ValueError, match="batch_size"):
        metrics.precision_recall(np.ones((10, 2)), np.ones((10, 2)), batch_size=0)


# --- Likelihood helpers -------------------------------------------------------------------


def test_log_mean_exp_by_hand():
    assert metrics.log_mean_exp(np.full((3, 5), 2.5), axis=1) == pytest.approx(np.full(3, 2.5))
    assert metrics.log_mean_exp([0.0, math.log(3.0)]) == pytest.approx(math.log(2.0))
    assert metrics.log_mean_exp([1000.0, 1000.0 + math.log(3.0)]) == pytest.approx(1000.0 + math.log(2.0))
    assert metrics.log_mean_exp([-1000.0, -1000.0]) == pytest.approx(-1000.0)
    assert metrics.log_mean_exp([-np.inf, -np.inf]) == -np.inf
    np.testing.assert_allclose(metrics.log_mean_exp(np.zeros((2, 4)), axis=0), np.zeros(4))


def test_unit_conversions_by_hand():
    assert metrics.nats_to_bits(math.log(2.0)) == pytest.approx(1.0)
    assert metrics.bits_per_dim(784 * math.log(2.0), 784) == pytest.approx(1.0)
    np.testing.assert_allclose(metrics.bits_per_dim(tf.constant([784 * math.log(2.0), 0.0]), 784), [1.0, 0.0])
    assert metrics.bits_per_character(1.5 * math.log(2.0)) == pytest.approx(1.5)
    assert metrics.perplexity(math.log(65.0)) == pytest.approx(65.0)
    with pytest.raises(ValueError, match="num_dims"):
        metrics.bits_per_dim(1.0, 0)


def test_importance_weighted_nll_by_hand():
    log_weights = np.array([[0.0, math.log(3.0)], [-5.0, -5.0]])
    nll = metrics.importance_weighted_nll(log_weights)
    assert nll.shape == (2,)
    np.testing.assert_allclose(nll, [-math.log(2.0), 5.0])
    np.testing.assert_allclose(metrics.importance_weighted_nll(log_weights[:, :1]), -log_weights[:, 0])
    # Jensen: averaging weights never gives a looser bound than averaging log-weights.
    many = np.random.default_rng(14).standard_normal((6, 50))
    assert np.all(metrics.importance_weighted_nll(many) <= -many.mean(axis=1))
    with pytest.raises(ValueError, match="k ≥ 1"):
        metrics.importance_weighted_nll(np.zeros((3, 0)))
    with pytest.raises(ValueError, match="2-D"):
        metrics.importance_weighted_nll(np.zeros(3))


def test_elbo_is_likelihood_minus_kl():
    np.testing.assert_allclose(metrics.elbo([-10.0, -20.0], [1.0, 2.5]), [-11.0, -22.5])
    assert metrics.elbo(-3.0, 0.5) == pytest.approx(-3.5)
    with pytest.raises(ValueError, match="broadcastable"):
        metrics.elbo(np.zeros(3), np.zeros(4))


def test_nll_summary_by_hand():
    from keras_genai.metrics.likelihood import nll_summary

    summary = nll_summary([np.array([80.0, 90.0]), np.array([100.0])], num_dims=784)
    assert summary["nll"] == pytest.approx(90.0) and summary["num_examples"] == 3
    assert summary["nll_standard_error"] == pytest.approx(10.0 / np.sqrt(3))  # sample std 10
    assert summary["bits_per_dim"] == pytest.approx(90.0 / 784 / np.log(2))
    assert "bits_per_dim" not in nll_summary([np.array([1.0])], 4, discrete=False)
    with pytest.raises(ValueError, match="no test images"):
        nll_summary([], 784)
