import math

import numpy as np
import pytest

from keras_genai import losses


def _log_sigmoid(x):
    return -math.log1p(math.exp(-x))


@pytest.mark.parametrize("real,fake", [(2.0, -1.0), (0.0, 0.0), (-3.0, 4.0)])
def test_discriminator_loss_is_negative_log_likelihood(real, fake):
    expected = -(_log_sigmoid(real) + math.log(1 - 1 / (1 + math.exp(-fake))))
    got = float(losses.discriminator_loss(np.full((4, 1), real), np.full((4, 1), fake)))
    assert got == pytest.approx(expected, rel=1e-5)


def test_generator_losses_by_hand():
    fake = np.array([[0.0], [2.0]], np.float32)
    d = 1 / (1 + np.exp(-fake))
    assert float(losses.non_saturating_generator_loss(fake)) == pytest.approx(float(np.mean(-np.log(d))), rel=1e-5)
    assert float(losses.minimax_generator_loss(fake)) == pytest.approx(float(np.mean(np.log(1 - d))), rel=1e-5)


def test_discriminator_loss_at_equilibrium_is_2_log_2():
    zeros = np.zeros((8, 1), np.float32)
    assert float(losses.discriminator_loss(zeros, zeros)) == pytest.approx(2 * math.log(2), rel=1e-6)
