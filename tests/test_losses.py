import math

import numpy as np
import pytest

from keras_genai import losses


def _log_sigmoid(x):
    return -math.log1p(math.exp(-x))


@pytest.mark.parametrize("real,fake", [(2.0, -1.0), (0.0, 0.0), (-3.0, 4.0)])
def test_discriminator_loss_is_negative_log_likelihood(real, fake):
    expected = -(_log_sigmoid(real) + math.log(1 - 1 / (1 + math.exp(-fake))))
    got = float(losses.minimax_discriminator_loss(np.full((4, 1), real), np.full((4, 1), fake)))
    assert got == pytest.approx(expected, rel=1e-5)


def test_generator_losses_by_hand():
    fake = np.array([[0.0], [2.0]], np.float32)
    d = 1 / (1 + np.exp(-fake))
    assert float(losses.non_saturating_generator_loss(fake)) == pytest.approx(float(np.mean(-np.log(d))), rel=1e-5)
    assert float(losses.minimax_generator_loss(fake)) == pytest.approx(float(np.mean(np.log(1 - d))), rel=1e-5)


def test_discriminator_loss_at_equilibrium_is_2_log_2():
    zeros = np.zeros((8, 1), np.float32)
    assert float(losses.minimax_discriminator_loss(zeros, zeros)) == pytest.approx(2 * math.log(2), rel=1e-6)


def test_wasserstein_losses_by_hand():
    real = np.array([[1.0], [3.0]], np.float32)
    fake = np.array([[-1.0], [0.0]], np.float32)
    assert float(losses.wasserstein_discriminator_loss(real, fake)) == pytest.approx(-0.5 - 2.0)
    assert float(losses.wasserstein_generator_loss(fake)) == pytest.approx(0.5)


def test_hinge_losses_by_hand():
    real = np.array([[2.0], [0.5]], np.float32)   # relu(1 - r): 0, 0.5
    fake = np.array([[-2.0], [0.25]], np.float32)  # relu(1 + f): 0, 1.25
    assert float(losses.hinge_discriminator_loss(real, fake)) == pytest.approx(0.25 + 0.625)
    assert float(losses.hinge_generator_loss(fake)) == pytest.approx(0.875)


def test_gradient_penalty_of_a_linear_critic_is_closed_form():
    import tensorflow as tf

    w = tf.constant([[3.0], [4.0]])  # ||grad|| = 5 everywhere -> penalty (5 - 1)^2 = 16
    critic = lambda x: tf.matmul(tf.reshape(x, [-1, 2]), w)  # noqa: E731
    real = np.random.default_rng(0).normal(size=(4, 1, 2, 1)).astype(np.float32)
    fake = np.random.default_rng(1).normal(size=(4, 1, 2, 1)).astype(np.float32)
    eps = np.random.default_rng(2).uniform(size=4).astype(np.float32)
    assert float(losses.gradient_penalty(critic, real, fake, eps)) == pytest.approx(16.0, rel=1e-5)
    unit = lambda x: tf.matmul(tf.reshape(x, [-1, 2]), w / 5.0)  # noqa: E731
    assert float(losses.gradient_penalty(unit, real, fake, eps)) == pytest.approx(0.0, abs=1e-6)


def test_gradient_penalty_uses_the_interpolation():
    import tensorflow as tf

    # C(x) = sum(x^2)/2 -> grad = x_hat; with eps = 1 the penalty only sees the real images.
    critic = lambda x: tf.reduce_sum(tf.square(x), axis=[1, 2, 3])[:, None] / 2  # noqa: E731
    real = np.full((2, 1, 1, 1), 3.0, np.float32)
    fake = np.zeros((2, 1, 1, 1), np.float32)
    assert float(losses.gradient_penalty(critic, real, fake, np.ones(2, np.float32))) == pytest.approx(4.0, rel=1e-5)
    assert float(losses.gradient_penalty(critic, real, fake, np.zeros(2, np.float32))) == pytest.approx(1.0, rel=1e-4)


def test_losses_and_likelihoods_share_one_name_check():
    from keras_genai import lookup
    from keras_genai.models.vae import likelihoods

    table = {"b": 1, "a": 2}
    assert lookup.check_name("a", table, "thing") == "a"
    for bad in ("A", "c", ["a"], {"a": 1}, None, len):
        with pytest.raises(ValueError, match=r"unknown thing .*; expected one of \['a', 'b'\] \(a thing is given "
                                             r"by its name\)"):
            lookup.check_name(bad, table, "thing")
    # Both tables answer through it: the same sentence, the known names sorted.
    for check, table, kind in ((losses.check_name, losses.ADVERSARIAL_LOSSES, "loss"),
                               (likelihoods.check_name, likelihoods.LIKELIHOODS, "likelihood")):
        with pytest.raises(ValueError) as raised:
            check("nope")
        with pytest.raises(ValueError) as shared:
            lookup.check_name("nope", table, kind)
        assert str(raised.value) == str(shared.value)
        assert str(sorted(table)) in str(raised.value)
