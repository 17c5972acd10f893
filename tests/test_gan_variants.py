"""The GAN variants: MLP GAN, WGAN-GP, conditional GAN, EMA; their exports and bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_genai import export, runtime
from keras_genai.models import GAN, conditional_dcgan, dcgan, mlp_gan, wgan_gp
from keras_genai.nets import dcgan_discriminator, dcgan_generator


def _labelled(n=40, batch=20):
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (n, 28, 28, 1)).astype(np.float32)
    labels = rng.integers(0, 10, n).astype(np.int32)
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch)


@pytest.fixture
def cgan():
    keras.utils.set_random_seed(0)
    model = conditional_dcgan(num_classes=10, latent_dim=8, base_filters=8, seed=0)
    model.compile()
    return model


def test_mlp_gan_has_the_classic_layout_and_trains():
    model = mlp_gan(latent_dim=16, seed=0)
    dense = [l.units for l in model.generator.layers if isinstance(l, keras.layers.Dense)]
    assert dense == [256, 512, 1024, 784]
    assert any(isinstance(l, keras.layers.Dropout) for l in model.discriminator.layers)
    model.compile()
    history = model.fit(_labelled().map(lambda x, y: x), epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"]).all()
    assert model.sample(3, seed=0).shape == (3, 28, 28, 1)


def test_wgan_gp_runs_five_critic_steps_per_generator_step():
    model = wgan_gp(latent_dim=8, base_filters=8, seed=0)
    model.compile()
    assert float(model.d_optimizer.beta_1) == 0.0 and abs(float(model.d_optimizer.beta_2) - 0.9) < 1e-6
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in model.discriminator.layers)
    history = model.fit(_labelled(40, 20).map(lambda x, y: x), epochs=1, verbose=0)
    assert int(model.d_optimizer.iterations) == 10 and int(model.g_optimizer.iterations) == 2
    assert "gradient_penalty" in history.history and history.history["gradient_penalty"][0] >= 0


def test_ema_generator_tracks_and_is_used_for_sampling():
    keras.utils.set_random_seed(0)
    model = GAN(dcgan_generator((28, 28, 1), 8, 8), dcgan_discriminator((28, 28, 1), 8), ema_decay=0.5, seed=0)
    model.compile()
    model.fit(_labelled().map(lambda x, y: x), epochs=1, verbose=0)
    live = model.generator.get_weights()[0]
    ema = model.ema_generator.get_weights()[0]
    assert not np.allclose(live, ema)
    z = model.noise(2, seed=0)
    np.testing.assert_allclose(model.generate(z), model.ema_generator(z, training=False), atol=1e-6)


def test_ema_weights_round_trip_through_keras_files(tmp_path):
    model = GAN(dcgan_generator((28, 28, 1), 8, 8), dcgan_discriminator((28, 28, 1), 8), ema_decay=0.9, seed=0)
    model.compile()
    model.fit(_labelled().map(lambda x, y: x), epochs=1, verbose=0)
    model.save(tmp_path / "ema.keras")
    loaded = keras.saving.load_model(tmp_path / "ema.keras")
    np.testing.assert_array_equal(loaded.sample(2, seed=1), model.sample(2, seed=1))


@pytest.mark.parametrize("fraction, batch, kept", [(0.5, 8, 4), (0.3, 8, 3), (0.01, 8, 1), (0.15, 100, 15)])
def test_top_k_generator_loss_only_sends_gradient_to_the_most_real_fakes(fraction, batch, kept):
    model = GAN(dcgan_generator((28, 28, 1), 8, 8), dcgan_discriminator((28, 28, 1), 8), generator_top_k=fraction)
    logits = tf.Variable(np.random.default_rng(0).normal(size=(batch, 1)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model._most_real(logits))
    reached = np.flatnonzero(tape.gradient(loss, logits).numpy()[:, 0])
    most_real = np.argsort(-logits.numpy()[:, 0])[:kept]
    assert sorted(reached) == sorted(most_real)


def test_a_top_k_generator_step_trains_on_the_fakes_the_discriminator_rates_most_real():
    def one_step(fraction):
        keras.utils.set_random_seed(0)
        model = GAN(dcgan_generator((28, 28, 1), 8, 8), dcgan_discriminator((28, 28, 1), 8),
                    generator_top_k=fraction, seed=0)
        model.compile()
        logs = model.fit(_labelled(20, 20).map(lambda x, y: x), epochs=1, verbose=0).history
        return logs["g_loss"][0], model.generator.get_weights()
    all_loss, all_weights = one_step(1.0)
    top_loss, top_weights = one_step(0.25)
    # Same weights, noise and discriminator update; the kept fakes have the highest logits,
    # so their non-saturating loss -log D(G(z)) is below the mean over all fakes.
    assert top_loss < all_loss
    assert any(not np.allclose(a, b) for a, b in zip(all_weights, top_weights))


def test_top_k_training_runs_and_survives_a_keras_file(tmp_path):
    keras.utils.set_random_seed(0)
    model = dcgan(latent_dim=8, base_filters=8, seed=0, generator_top_k=0.5)
    model.compile()
    history = model.fit(_labelled().map(lambda x, y: x), epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"]).all() and int(model.g_optimizer.iterations) == 2
    model.save(tmp_path / "topk.keras")
    loaded = keras.saving.load_model(tmp_path / "topk.keras")
    assert loaded.generator_top_k == 0.5
    np.testing.assert_array_equal(loaded.sample(2, seed=1), model.sample(2, seed=1))


def test_conditional_gan_trains_and_samples_requested_labels(cgan):
    history = cgan.fit(_labelled(), epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"]).all()
    a = cgan.sample(4, seed=0, labels=[0, 1, 2, 3])
    assert a.shape == (4, 28, 28, 1)
    np.testing.assert_array_equal(cgan.sample(4, seed=0, labels=3), cgan.sample(4, seed=0, labels=[3, 3, 3, 3]))
    assert not np.array_equal(cgan.sample(4, seed=0, labels=1), cgan.sample(4, seed=0, labels=2))


@pytest.mark.parametrize("labels,error,match", [
    ([0, 1], ValueError, "expected 3 labels"),
    ([0, -1, 2], ValueError, r"in \[0, 10\)"),
    ([0.5, 1, 2], TypeError, "integers"),
])
def test_conditional_gan_rejects_bad_labels(cgan, labels, error, match):
    with pytest.raises(error, match=match):
        cgan.sample(3, labels=labels)


def test_conditional_gan_needs_labelled_data(cgan):
    with pytest.raises(ValueError, match=r"\(images, labels\)"):
        cgan.fit(_labelled().map(lambda x, y: x), epochs=1, verbose=0)


def test_mismatched_networks_are_refused():
    with pytest.raises(ValueError, match="conditional"):
        GAN(dcgan_generator((28, 28, 1), 8, 8), dcgan_discriminator((28, 28, 1), 8), num_classes=10)
    with pytest.raises(ValueError, match="unknown loss"):
        GAN(dcgan_generator((28, 28, 1), 8, 8), dcgan_discriminator((28, 28, 1), 8), loss="lsgan")
    with pytest.raises(ValueError, match="discriminator_steps"):
        GAN(dcgan_generator((28, 28, 1), 8, 8), dcgan_discriminator((28, 28, 1), 8), discriminator_steps=0)


def test_conditional_exports_take_labels(cgan, tmp_path):
    # Fresh-process SavedModel and LiteRT parity of a conditional GAN: test_family_contract.py.
    path = export.saved_model(cgan, tmp_path / "cgan")
    out = runtime.run_saved_model(path, {"labels": np.array([7, 7, 1], np.int32), "seed": 5}, "sample")["images"]
    np.testing.assert_array_equal(out, cgan.sample(3, seed=5, labels=[7, 7, 1]))
    body = export.rest_request_body(cgan, "sample", num_samples=3, seed=1)
    assert '"labels": [0, 1, 2]' in body


@pytest.mark.parametrize("builder", [mlp_gan, wgan_gp])
def test_unconditional_variants_export_and_match(builder, tmp_path):
    model = builder(latent_dim=8, seed=0) if builder is mlp_gan else builder(latent_dim=8, base_filters=8, seed=0)
    model.compile()
    path = export.saved_model(model, tmp_path / "m")
    assert export.check_saved_model(model, path)["sample"]["max_abs_diff"] <= 1
    lite = export.tflite(model, tmp_path / "m.tflite", quantize="float16")
    assert export.check_tflite(model, lite, "float16")["tflite_float16"]["max_abs_diff"] <= export.TOLERANCE["tflite_float16"]


@pytest.mark.parametrize("option, value, message", [
    ("gradient_penalty", -1.0, "gradient_penalty must be >= 0"),
    ("ema_decay", 1.0, r"ema_decay must be None or in \(0, 1\)"),
    ("ema_decay", 0.0, r"ema_decay must be None or in \(0, 1\)"),
    ("num_classes", 1, "num_classes must be None or an integer >= 2"),
    ("generator_top_k", 0.0, r"generator_top_k must be a fraction in \(0, 1\]"),
    ("generator_top_k", 1.5, r"generator_top_k must be a fraction in \(0, 1\]"),
    ("generator_top_k", True, r"generator_top_k must be a fraction in \(0, 1\]"),
])
def test_out_of_range_options_are_refused(option, value, message):
    with pytest.raises(ValueError, match=message):
        GAN(dcgan_generator((28, 28, 1), 8, 8), dcgan_discriminator((28, 28, 1), 8), **{option: value})


def test_a_batch_smaller_than_the_critic_steps_is_a_clear_error():
    model = wgan_gp(base_filters=8, discriminator_steps=5, seed=0)
    model.compile()
    with pytest.raises(Exception, match="at least discriminator_steps=5 images"):
        model.fit(np.zeros((3, 28, 28, 1), np.float32), batch_size=3, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"discriminator_steps must be an integer in \[1, 31\]"):
        wgan_gp(base_filters=8, discriminator_steps=32)
