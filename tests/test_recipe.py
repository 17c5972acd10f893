import keras
import pytest

from keras_genai import zoo
from keras_genai.zoo.recipe import peak_learning_rate, retuned


def _optimizer(rate):
    return keras.optimizers.serialize(keras.optimizers.Adam(rate))


def test_a_schedule_is_scaled_to_the_new_peak_and_keeps_its_shape():
    cosine = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=100, alpha=0.05)
    config = {"optimizer": _optimizer(cosine)}
    new = retuned(config, learning_rate=5e-4)
    schedule = keras.optimizers.schedules.deserialize(new["optimizer"]["config"]["learning_rate"])
    for step in (0, 50, 100, 150):
        assert float(schedule(step)) == pytest.approx(float(cosine(step)) / 4, rel=1e-6)
    assert config["optimizer"]["config"]["learning_rate"]["config"]["initial_learning_rate"] == 2e-3


def test_a_warm_up_schedule_peaks_at_the_new_rate():
    warm = keras.optimizers.schedules.CosineDecay(1e-5, decay_steps=100, warmup_target=1e-3, warmup_steps=10)
    new = retuned({"optimizer": _optimizer(warm)}, learning_rate=2e-4)
    schedule = keras.optimizers.schedules.deserialize(new["optimizer"]["config"]["learning_rate"])
    assert float(schedule(10)) == pytest.approx(2e-4, rel=1e-6)
    assert float(schedule(0)) == pytest.approx(2e-6, rel=1e-6)
    assert peak_learning_rate(new["optimizer"]["config"]["learning_rate"]) == pytest.approx(2e-4)


def test_both_gan_optimizers_change_and_weight_averaging_is_for_single_optimizers():
    config = {"d_optimizer": _optimizer(2e-4), "g_optimizer": _optimizer(1e-4)}
    new = retuned(config, learning_rate=5e-5)
    assert new["d_optimizer"]["config"]["learning_rate"] == new["g_optimizer"]["config"]["learning_rate"] == 5e-5
    with pytest.raises(ValueError, match="ema_decay"):
        retuned(config, weight_averaging=0.999)


def test_weight_averaging_turns_on_the_optimizer_ema():
    new = retuned({"optimizer": _optimizer(1e-3)}, weight_averaging=0.999)
    optimizer = keras.optimizers.deserialize(new["optimizer"])
    assert optimizer.use_ema and optimizer.ema_momentum == pytest.approx(0.999)


@pytest.mark.parametrize("kwargs, message", [
    ({"learning_rate": 0.0}, "learning_rate must be > 0"),
    ({"weight_averaging": 1.0}, r"decay in \(0, 1\)"),
])
def test_bad_values_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        retuned({"optimizer": _optimizer(1e-3)}, **kwargs)


def test_unsupported_schedules_and_uncompiled_presets_are_refused():
    piecewise = keras.optimizers.schedules.PiecewiseConstantDecay([10], [1e-3, 1e-4])
    with pytest.raises(ValueError, match="PiecewiseConstantDecay"):
        retuned({"optimizer": _optimizer(piecewise)}, learning_rate=1e-4)
    with pytest.raises(ValueError, match="uncompiled"):
        retuned(None, learning_rate=1e-4)


def test_every_pretrained_preset_has_a_recipe_that_can_be_retuned():
    for name in zoo.list():
        recipe = zoo.training_recipe(name)
        if recipe is None:
            continue
        retuned(recipe, learning_rate=1e-4)
