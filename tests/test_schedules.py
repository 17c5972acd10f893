import keras
import numpy as np
import pytest

from keras_genai import models, zoo
from keras_genai.models import HoldThenLinearDecay
from keras_genai.zoo.recipe import retuned


def test_holds_then_decays_linearly_then_stays_at_the_end():
    schedule = HoldThenLinearDecay(2e-4, hold_steps=100, decay_steps=50, end_learning_rate=2e-6)
    expected = {0: 2e-4, 100: 2e-4, 125: 1.01e-4, 150: 2e-6, 1000: 2e-6}
    for step, rate in expected.items():
        assert float(schedule(step)) == pytest.approx(rate, rel=1e-5), step


def test_without_hold_it_is_a_linear_polynomial_decay():
    ours = HoldThenLinearDecay(1e-3, hold_steps=0, decay_steps=40, end_learning_rate=1e-5)
    keras_own = keras.optimizers.schedules.PolynomialDecay(1e-3, 40, end_learning_rate=1e-5, power=1.0)
    for step in (0, 7, 20, 39, 40, 90):
        assert float(ours(step)) == pytest.approx(float(keras_own(step)), rel=1e-5)


@pytest.mark.parametrize("kwargs", [dict(hold_steps=-1), dict(decay_steps=0), dict(hold_steps=2.5),
                                    dict(initial_learning_rate=0.0), dict(end_learning_rate=-1e-6),
                                    dict(end_learning_rate=2e-3)])
def test_out_of_range_arguments_are_refused(kwargs):
    arguments = dict(initial_learning_rate=1e-3, hold_steps=10, decay_steps=10, end_learning_rate=0.0)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match="must be"):
        HoldThenLinearDecay(**arguments)


def test_a_gan_recipe_with_it_survives_a_preset_round_trip_and_a_new_peak(tmp_path):
    gan = models.dcgan(base_filters=8, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(HoldThenLinearDecay(2e-4, 30, 70, 2e-6), beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(HoldThenLinearDecay(2e-4, 30, 70, 2e-6), beta_1=0.5))
    meta = {"name": "tiny", "family": "gan", "dataset": {"name": "mnist"}, "training": {}}
    zoo.save_preset(gan, tmp_path / "tiny", meta, samples=False)
    loaded = zoo.load(str(tmp_path / "tiny"))
    schedule = loaded.g_optimizer._learning_rate
    assert isinstance(schedule, HoldThenLinearDecay)
    assert float(schedule(65)) == pytest.approx(1.01e-4, rel=1e-5)
    faster = retuned(zoo.training_recipe(str(tmp_path / "tiny")), learning_rate=4e-4)
    rate = keras.saving.deserialize_keras_object(faster["g_optimizer"]["config"]["learning_rate"])
    assert isinstance(rate, HoldThenLinearDecay)
    assert (float(rate(0)), float(rate(100))) == pytest.approx((4e-4, 4e-6), rel=1e-5)


def test_training_follows_the_schedule_to_a_standstill():
    """Both GAN optimizers read the schedule in the compiled step: once it reaches 0, Adam
    leaves every weight where it is."""
    gan = models.dcgan(base_filters=8, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(HoldThenLinearDecay(1e-3, 2, 2, 0.0)),
                g_optimizer=keras.optimizers.Adam(HoldThenLinearDecay(1e-3, 2, 2, 0.0)))
    images = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    before = [w.numpy().copy() for w in gan.trainable_weights]
    gan.fit(images, batch_size=4, epochs=1, verbose=0)  # steps 0-3: rates 1e-3, 1e-3, 1e-3, 5e-4
    moved = [w.numpy().copy() for w in gan.trainable_weights]
    assert any(not np.array_equal(a, b) for a, b in zip(before, moved))
    gan.fit(images, batch_size=4, epochs=1, verbose=0)  # steps 4-7: rate 0
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(moved, gan.trainable_weights))


@pytest.mark.parametrize("argument, value", [("hold_steps", None), ("decay_steps", "10"), ("initial_learning_rate", None),
                                             ("hold_steps", True), ("decay_steps", float("inf")),
                                             ("initial_learning_rate", float("inf")), ("hold_steps", float("nan"))])
def test_missing_or_non_finite_arguments_are_named(argument, value):
    arguments = dict(initial_learning_rate=1e-3, hold_steps=10, decay_steps=10, end_learning_rate=0.0)
    arguments[argument] = value
    with pytest.raises(ValueError, match=f"{argument} must be a finite number"):
        HoldThenLinearDecay(**arguments)
