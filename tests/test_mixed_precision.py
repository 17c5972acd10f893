"""Mixed precision in the GAN, VAE and PixelCNN train_steps (the GPT has its own in test_gpt.py):
finite losses, float16 loss scaling, float32 outputs, and the same loss as float32 to within
the precision of the compute dtype."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_genai import models, zoo


def _build(family):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    if family in ("gan", "wgan_gp"):
        model = models.dcgan(base_filters=8, seed=0) if family == "gan" else models.wgan_gp(
            base_filters=8, discriminator_steps=2, seed=0)
        model.compile()
        return model, images
    binary = (images > 0).astype("float32")
    model = models.unconditional_vae(latent_dim=4, width=(32,), seed=0) if family == "vae" else models.gated_pixelcnn(filters=8, num_layers=2)
    model.compile()
    return model, binary


@pytest.fixture
def policy(request):
    keras.mixed_precision.set_dtype_policy(request.param)
    yield request.param
    keras.mixed_precision.set_dtype_policy("float32")


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"], indirect=True)
@pytest.mark.parametrize("family", ["gan", "wgan_gp", "vae", "pixelcnn"])
def test_training_under_mixed_precision(family, policy):
    model, data = _build(family)
    adversarial = family in ("gan", "wgan_gp")
    optimizers = [model.d_optimizer, model.g_optimizer] if adversarial else [model.optimizer]
    for optimizer in optimizers:
        scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        assert scaled == (policy == "mixed_float16"), f"{policy}: loss scaling {'on' if scaled else 'off'}"
    history = model.fit(data, batch_size=16, epochs=1, verbose=0).history
    for name, values in history.items():
        assert np.all(np.isfinite(values)), f"{name}: {values}"
    if family == "wgan_gp":
        assert "gradient_penalty" in history
    weights = model.generator.trainable_variables if adversarial else model.trainable_variables
    assert all(w.dtype == "float32" for w in weights), "variables must stay float32"
    if adversarial:
        assert model.generate(np.zeros((2, model.latent_dim), np.float32)).dtype == np.float32
        assert model.sample(2, seed=0).dtype == np.uint8
    elif family == "vae":
        assert model.elbo(data[:4])["elbo"].dtype in (np.float32, np.float64)  # never float16
        assert model.sample(2, seed=0).dtype == np.uint8
    else:
        assert model.log_prob(data[:4]).dtype in (np.float32, np.float64)


@pytest.mark.parametrize("family", ["vae", "pixelcnn"])
def test_mixed_float16_loss_matches_float32(family):
    model, data = _build(family)
    reference = model.evaluate(data, batch_size=16, verbose=0, return_dict=True)["loss"]
    weights = model.get_weights()
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        half, _ = _build(family)
        half.set_weights(weights)
        loss = half.evaluate(data, batch_size=16, verbose=0, return_dict=True)["loss"]
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    # float16 carries about 3 significant digits; the loss is a sum over 784 pixels.
    assert loss == pytest.approx(reference, rel=5e-3)


def _tiny(family):
    if family == "gpt":
        keras.utils.set_random_seed(0)
        model = models.GPT("\n abcdefgh", context_length=8, num_layers=1, num_heads=2, embed_dim=8, seed=0)
        model.compile()
        text = np.random.default_rng(0).integers(0, 10, (16, 9)).astype("int32")
        return model, (text[:, :-1], text[:, 1:])  # (tokens, next tokens)
    return _build(family)


def _compute_dtypes(model):
    """[(layer class, compute dtype)] of the layers that own weights and no sublayers, in order
    (names differ between two builds of a model in one process)."""
    return [(type(layer).__name__, layer.compute_dtype) for layer in model._flatten_layers()
            if layer.weights and not list(layer._flatten_layers(include_self=False, recursive=False))]


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("family", ["gan", "vae", "pixelcnn", "gpt"])
def test_a_preset_loads_trains_and_saves_under_another_dtype_policy(family, policy, tmp_path):
    """zoo.load(dtype=...) computes as the model built under that global policy does (nested
    layers included; outputs, logits and distribution parameters in float32), and a preset
    saved back as float32 holds the trained weights and the float32 recipe."""
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        expected = _compute_dtypes(_tiny(family)[0])
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    model, data = _tiny(family)
    zoo.save_preset(model, tmp_path / "float32", {"name": "tiny", "family": family}, samples=False)
    mixed = zoo.load(str(tmp_path / "float32"), dtype=policy)
    assert _compute_dtypes(mixed) == expected
    assert any(dtype == "float32" for _, dtype in expected) == (family != "gpt")  # the nets' outputs stay float32
    history = mixed.fit(tf.data.Dataset.from_tensor_slices(data).batch(8), epochs=1, verbose=0).history
    assert all(np.all(np.isfinite(values)) for values in history.values()), history
    assert all(w.dtype == "float32" for w in mixed.weights)
    if family == "gan":
        assert mixed.generate(mixed.noise(2, seed=0)).dtype == np.float32

    zoo.save_preset(mixed, tmp_path / "trained", {"name": "tiny", "family": family}, samples=False, dtype="float32")
    config = (tmp_path / "trained" / "config.json").read_text()
    assert "bfloat16" not in config and "float16" not in config and "LossScaleOptimizer" not in config
    reloaded = zoo.load(str(tmp_path / "trained"))
    assert {dtype for _, dtype in _compute_dtypes(reloaded)} == {"float32"}
    for saved, trained in zip(reloaded.get_weights(), mixed.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, trained)


@pytest.mark.parametrize("dtype", ["float8", "bfloat16", "int8_from_float32", "mixed_bfloat8"])
def test_a_dtype_that_is_not_a_float32_weight_policy_is_refused(dtype, tmp_path):
    model, _ = _build("gan")
    zoo.save_preset(model, tmp_path / "preset", {"name": "tiny", "family": "gan"}, samples=False)
    with pytest.raises(ValueError, match="dtype must be one of float32, mixed_bfloat16, mixed_float16"):
        zoo.load(str(tmp_path / "preset"), dtype=dtype)


@pytest.mark.parametrize("policy", ["mixed_bfloat16"], indirect=True)
def test_gradient_penalty_under_bfloat16_is_close_to_float32(policy):
    from keras_genai import losses
    from keras_genai.nets.dcgan import dcgan_discriminator

    rng = np.random.default_rng(0)
    real, fake = (rng.uniform(-1, 1, (8, 28, 28, 1)).astype("float32") for _ in range(2))
    eps = rng.uniform(0, 1, 8).astype("float32")
    critic = dcgan_discriminator(base_filters=8, normalization=None)
    keras.mixed_precision.set_dtype_policy("float32")
    critic_f32 = dcgan_discriminator(base_filters=8, normalization=None)
    critic_f32.set_weights(critic.get_weights())
    assert critic.layers[1].compute_dtype == "bfloat16" and critic_f32.layers[1].compute_dtype == "float32"
    low = float(losses.gradient_penalty(critic, real, fake, eps))
    exact = float(losses.gradient_penalty(critic_f32, real, fake, eps))
    assert low == pytest.approx(exact, rel=0.01), (low, exact)
