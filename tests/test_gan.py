import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_genai import nets
from keras_genai.models import GAN, dcgan, wgan_gp


@pytest.mark.parametrize("refine", [False, True])
@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (64, 64, 3)])
def test_dcgan_nets_have_the_documented_shapes(shape, refine):
    generator = nets.dcgan_generator(shape, latent_dim=16, base_filters=8, refine=refine)
    discriminator = nets.dcgan_discriminator(shape, base_filters=8)
    images = generator(np.zeros((2, 16), np.float32))
    assert images.shape == (2, *shape)
    assert float(tf.reduce_max(tf.abs(images))) <= 1.0
    assert discriminator(images).shape == (2, 1)


def test_the_refined_generator_adds_a_3x3_block_per_resolution_and_ends_at_base_filters():
    plain = nets.dcgan_generator((28, 28, 1), latent_dim=16, base_filters=8)
    refined = nets.dcgan_generator((28, 28, 1), latent_dim=16, base_filters=8, refine=True)
    def convs(model):
        return [(type(layer).__name__, layer.kernel.shape) for layer in model.layers if "Conv" in type(layer).__name__]
    assert convs(plain) == [("Conv2DTranspose", (4, 4, 8, 16)), ("Conv2DTranspose", (4, 4, 1, 8))]
    assert convs(refined) == [("Conv2DTranspose", (4, 4, 16, 32)), ("Conv2D", (3, 3, 16, 16)),
                              ("Conv2DTranspose", (4, 4, 8, 16)), ("Conv2D", (3, 3, 8, 1))]
    for model in (dcgan((28, 28, 1), latent_dim=16, base_filters=8, refine=True, seed=0),
                  wgan_gp((28, 28, 1), latent_dim=16, base_filters=8, discriminator_steps=2, refine=True, seed=0)):
        assert convs(model.generator) == convs(refined)
        model.compile()
        before = [w.numpy().copy() for w in model.generator.trainable_weights]
        model.fit(np.zeros((16, 28, 28, 1), np.float32), batch_size=8, epochs=1, verbose=0)
        assert all(np.any(b != a.numpy()) for b, a in zip(before, model.generator.trainable_weights))


def test_the_refined_discriminator_adds_a_3x3_block_per_resolution_and_keeps_the_critic_unnormalized():
    def convs(model):
        return [(layer.kernel.shape, layer.strides) for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    plain = nets.dcgan_discriminator((28, 28, 1), base_filters=8)
    refined = nets.dcgan_discriminator((28, 28, 1), base_filters=8, refine=True)
    assert convs(plain) == [((4, 4, 1, 8), (2, 2)), ((4, 4, 8, 16), (2, 2))]
    assert convs(refined) == [((4, 4, 1, 8), (2, 2)), ((3, 3, 8, 8), (1, 1)),
                              ((4, 4, 8, 16), (2, 2)), ((3, 3, 16, 16), (1, 1))]
    assert refined(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 1)
    critic = wgan_gp((28, 28, 1), latent_dim=16, base_filters=8, refine_discriminator=True, seed=0).discriminator
    assert convs(critic) == convs(refined)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in critic.layers)
    model = dcgan((28, 28, 1), latent_dim=16, base_filters=8, refine_discriminator=True, seed=0)
    assert convs(model.discriminator) == convs(refined)
    model.compile()
    before = [w.numpy().copy() for w in model.discriminator.trainable_weights]
    model.fit(np.zeros((16, 28, 28, 1), np.float32), batch_size=8, epochs=1, verbose=0)
    assert all(np.any(b != a.numpy()) for b, a in zip(before, model.discriminator.trainable_weights))


def test_dcgan_rejects_unsupported_shapes():
    with pytest.raises(ValueError, match="square images of size"):
        nets.dcgan_generator((48, 48, 3))
    with pytest.raises(ValueError, match="1 or 3 channels"):
        nets.dcgan_discriminator((28, 28, 2))


def test_generator_and_discriminator_must_agree():
    with pytest.raises(ValueError, match="discriminator expects"):
        GAN(nets.dcgan_generator((28, 28, 1), 8, 8), nets.dcgan_discriminator((32, 32, 3), 8))


def _blobs(n=64):
    """Tiny 'dataset': bright squares on a dark background, in [-1, 1]."""
    images = -np.ones((n, 28, 28, 1), np.float32)
    images[:, 8:20, 8:20] = 1.0
    return tf.data.Dataset.from_tensor_slices(images).batch(16)


def test_fit_updates_both_networks_and_reports_metrics(tiny_gan):
    g_before = [w.numpy().copy() for w in tiny_gan.generator.trainable_weights]
    d_before = [w.numpy().copy() for w in tiny_gan.discriminator.trainable_weights]
    history = tiny_gan.fit(_blobs(), epochs=2, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(v).all() for v in history.history.values())
    assert 0.0 <= history.history["d_real"][-1] <= 1.0
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(g_before, tiny_gan.generator.trainable_weights))
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(d_before, tiny_gan.discriminator.trainable_weights))
    assert int(tiny_gan.d_optimizer.iterations) == 8 and int(tiny_gan.g_optimizer.iterations) == 8


def test_fit_accepts_image_label_pairs(tiny_gan):
    labelled = _blobs().map(lambda x: (x, tf.zeros(tf.shape(x)[0], tf.int32)))
    assert np.isfinite(tiny_gan.fit(labelled, epochs=1, verbose=0).history["d_loss"][0])


def test_discriminator_learns_to_separate_real_from_fake(tiny_gan):
    history = tiny_gan.fit(_blobs(256).repeat(2), epochs=1, verbose=0)
    assert history.history["d_real"][0] > history.history["d_fake"][0]


def test_sample_is_uint8_and_seeded(tiny_gan):
    a = tiny_gan.sample(5, seed=3)
    assert a.shape == (5, 28, 28, 1) and a.dtype == np.uint8
    assert not np.array_equal(tiny_gan.sample(5), tiny_gan.sample(5))  # seed=None: fresh noise
    assert np.array_equal(tiny_gan.sample(5, seed=3, batch_size=2), a)


def test_generate_maps_z_to_images_in_range(tiny_gan):
    z = tiny_gan.noise(3, seed=0)
    images = tiny_gan.generate(z)
    assert images.shape == (3, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0


@pytest.mark.parametrize("count", [0, -3])
def test_sample_rejects_non_positive_counts(tiny_gan, count):
    with pytest.raises(ValueError, match="positive integer"):
        tiny_gan.sample(count)


def test_sample_rejects_non_integer_counts(tiny_gan):
    with pytest.raises(TypeError, match="positive integer"):
        tiny_gan.sample(2.5)


@pytest.mark.parametrize("z", [np.zeros((2, 7), np.float32), np.zeros((8,), np.float32), np.zeros((0, 8), np.float32)])
def test_generate_rejects_wrong_shapes(tiny_gan, z):
    with pytest.raises(ValueError, match=r"shape \(batch, 8\)"):
        tiny_gan.generate(z)


def test_generate_rejects_integer_z(tiny_gan):
    with pytest.raises(TypeError, match="float"):
        tiny_gan.generate(np.zeros((2, 8), np.int32))


def test_fit_without_compile_says_so():
    model = dcgan((28, 28, 1), latent_dim=8, base_filters=8)
    with pytest.raises(RuntimeError, match="compile"):
        model.train_step(tf.zeros((2, 28, 28, 1)))


RESUME = """
import sys, numpy as np, keras, tensorflow as tf
import keras_genai  # registers the classes
model = keras.saving.load_model(sys.argv[1])
assert int(model.d_optimizer.iterations) == 4, int(model.d_optimizer.iterations)
assert abs(float(model.g_optimizer.learning_rate) - 1e-3) < 1e-9
np.testing.assert_array_equal(model.sample(4, seed=1), np.load(sys.argv[2]))
images = -np.ones((32, 28, 28, 1), np.float32)
model.fit(tf.data.Dataset.from_tensor_slices(images).batch(16), epochs=1, verbose=0)
assert int(model.d_optimizer.iterations) == 6
print("resumed")
"""


def test_keras_file_round_trip_in_fresh_process_resumes_fit(tmp_path):
    keras.utils.set_random_seed(0)
    model = dcgan((28, 28, 1), latent_dim=8, base_filters=8, seed=0)
    model.compile(g_optimizer=keras.optimizers.Adam(1e-3))
    model.fit(_blobs(32), epochs=2, verbose=0)
    model.save(tmp_path / "gan.keras")
    np.save(tmp_path / "expected.npy", model.sample(4, seed=1))
    result = subprocess.run(
        [sys.executable, "-c", RESUME, str(tmp_path / "gan.keras"), str(tmp_path / "expected.npy")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resumed" in result.stdout
