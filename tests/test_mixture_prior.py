"""The Gaussian-mixture latent prior: the layer, splicing it into a generator, fitting it to a
GAN's own samples, and a GAN with a prior through training, saving and export."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_genai import export, zoo
from keras_genai.models import conditional_dcgan, dcgan, fit_mixture_prior
from keras_genai.models.gan import kmeans
from keras_genai.nets import GaussianMixturePrior, with_mixture_prior


def _normal(rows, dim=4, seed=0):
    return np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)


def test_components_are_drawn_with_their_probabilities():
    prior = GaussianMixturePrior([0.2, 0.5, 0.3])
    z = _normal(200_000)
    counts = np.bincount(np.asarray(prior.components(z)), minlength=3) / len(z)
    np.testing.assert_allclose(counts, [0.2, 0.5, 0.3], atol=0.005)


def test_output_is_the_component_mean_plus_its_scale_times_z():
    prior = GaussianMixturePrior([0.5, 0.5])
    z = _normal(64)
    prior.build(z.shape)
    np.testing.assert_array_equal(np.asarray(prior(z)), z)  # a new prior is the identity
    means = np.arange(8, dtype=np.float32).reshape(2, 4)
    prior.means.assign(means)
    prior.log_scales.assign(np.log([[0.5], [2.0]]).astype(np.float32))
    component = (z[:, 0] > 0).astype(int)  # the median of N(0, 1) splits two equal components
    expected = means[component] + np.array([0.5, 2.0], np.float32)[component, None] * z
    np.testing.assert_allclose(np.asarray(prior(z)), expected, rtol=1e-6)


@pytest.mark.parametrize("probabilities", [[], [0.5, 0.6], [1.2, -0.2], [[0.5, 0.5]]])
def test_bad_probabilities_are_refused(probabilities):
    with pytest.raises(ValueError, match="probabilities must be"):
        GaussianMixturePrior(probabilities)


@pytest.mark.parametrize("build", [lambda: dcgan(latent_dim=8, base_filters=8).generator,
                                   lambda: conditional_dcgan(latent_dim=8, base_filters=8).generator])
def test_spliced_prior_starts_as_the_identity_and_copies_the_weights(build):
    keras.utils.set_random_seed(0)
    generator = build()
    spliced = with_mixture_prior(generator, [0.25, 0.75])
    z = _normal(5, dim=8)
    inputs = [z, np.arange(5, dtype=np.int32)] if len(generator.inputs) > 1 else z
    np.testing.assert_array_equal(np.asarray(spliced(inputs)), np.asarray(generator(inputs)))
    spliced.get_layer("mixture_prior").means.assign(np.ones((2, 8), np.float32))
    assert not np.allclose(np.asarray(spliced(inputs)), np.asarray(generator(inputs)))
    dense = next(layer.name for layer in generator.layers if isinstance(layer, keras.layers.Dense))
    spliced.get_layer(dense).kernel.assign(np.zeros_like(spliced.get_layer(dense).kernel))
    assert np.any(np.asarray(generator.get_layer(dense).kernel) != 0), "the copy must not share weights"
    with pytest.raises(ValueError, match="already has a 'mixture_prior' layer"):
        with_mixture_prior(spliced, [1.0])
    with pytest.raises(TypeError, match="needs a functional keras.Model"):
        with_mixture_prior(keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)]), [1.0])


def test_kmeans_finds_separated_blobs_and_keeps_every_cluster():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]], np.float64)
    points = np.concatenate([c + rng.standard_normal((50, 2)) for c in centres])
    assignment = kmeans(points, 3, seed=1)
    groups = [set(assignment[i * 50:(i + 1) * 50]) for i in range(3)]
    assert all(len(g) == 1 for g in groups) and len(set.union(*groups)) == 3
    duplicates = np.zeros((20, 2))  # every point the same: clusters would empty without re-seeding
    assert set(kmeans(duplicates, 4)) == {0, 1, 2, 3}


def test_fitted_prior_weights_are_cluster_shares_and_means_their_latents(tiny_gan):
    fitted = fit_mixture_prior(tiny_gan, num_components=3, mean_scale=2.0, scale=0.5, num_samples=600, seed=4)
    prior = fitted.generator.get_layer("mixture_prior")
    assert prior.num_components == 3 and abs(sum(prior.probabilities) - 1) < 1e-9
    np.testing.assert_allclose(np.exp(np.asarray(prior.log_scales)), 0.5, rtol=1e-6)
    z = tiny_gan.noise(600, seed=4).numpy()
    assignment = kmeans(tiny_gan.generate(z).reshape(600, -1), 3, seed=4)
    np.testing.assert_allclose(prior.probabilities, np.bincount(assignment, minlength=3) / 600, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(prior.means),
                               np.stack([2.0 * z[assignment == k].mean(0) for k in range(3)]), rtol=1e-5)
    # the discriminator is copied, not shared
    np.testing.assert_array_equal(fitted.discriminator.get_weights()[0], tiny_gan.discriminator.get_weights()[0])
    assert fitted.discriminator is not tiny_gan.discriminator


def test_fit_mixture_prior_refuses_what_it_cannot_fit(tiny_gan):
    with pytest.raises(ValueError, match="unconditional"):
        fit_mixture_prior(conditional_dcgan(latent_dim=8, base_filters=8), num_samples=10)
    with pytest.raises(ValueError, match="ema_decay"):
        fit_mixture_prior(dcgan(latent_dim=8, base_filters=8, ema_decay=0.9), num_samples=10)
    with pytest.raises(ValueError, match="at most num_samples"):
        fit_mixture_prior(tiny_gan, num_components=20, num_samples=10)
    with pytest.raises(ValueError, match="mean_scale must be a positive number"):
        fit_mixture_prior(tiny_gan, num_components=2, mean_scale=0, num_samples=10)
    with pytest.raises(ValueError, match="scale must be a positive number"):
        fit_mixture_prior(tiny_gan, num_components=2, scale=float("inf"), num_samples=10)
    with pytest.raises(TypeError, match="scale must be a positive number"):
        fit_mixture_prior(tiny_gan, num_components=2, scale="1", num_samples=10)
    fitted = fit_mixture_prior(tiny_gan, num_components=2, num_samples=10)
    with pytest.raises(ValueError, match="already has a 'mixture_prior' layer"):
        fit_mixture_prior(fitted, num_components=2, num_samples=10)
    with pytest.raises(TypeError, match="needs a GAN"):
        fit_mixture_prior(object())


def test_gan_with_a_prior_trains_saves_loads_and_exports(tiny_gan, tmp_path):
    fitted = fit_mixture_prior(tiny_gan, num_components=4, mean_scale=1.5, num_samples=400, seed=0)
    fitted.compile()
    images = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype(np.float32)
    before = fitted.generator.get_layer("mixture_prior").get_weights()[0].copy()
    fitted.fit(images, batch_size=32, epochs=1, verbose=0)
    assert not np.array_equal(before, fitted.generator.get_layer("mixture_prior").get_weights()[0]), \
        "the prior's means train with the generator"
    zoo.save_preset(fitted, tmp_path / "preset", {"name": "tiny_prior", "family": "gan"}, samples=False)
    expected = fitted.sample(3, seed=5)
    script = ("import sys, json, numpy as np, keras_genai; "
              "m = keras_genai.zoo.load(sys.argv[1]); print(json.dumps(m.sample(3, seed=5).tolist()))")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "preset")], capture_output=True, text=True,
                         check=True)
    np.testing.assert_array_equal(np.array(json.loads(out.stdout.strip().splitlines()[-1])), expected)
    mixed = zoo.load(tmp_path / "preset", dtype="mixed_bfloat16").generator
    assert mixed.get_layer("mixture_prior").compute_dtype == "float32"
    assert {layer.compute_dtype for layer in mixed.layers if isinstance(layer, keras.layers.Dense)} == {"bfloat16"}
    path = export.saved_model(fitted, tmp_path / "served")
    assert export.check_saved_model(fitted, path)["sample"]["max_abs_diff"] <= 1
    lite = export.tflite(fitted, tmp_path / "edge.tflite")
    assert export.check_tflite(fitted, lite)["tflite_float32"]["max_abs_diff"] < 1e-4
