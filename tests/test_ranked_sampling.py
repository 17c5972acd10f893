"""Discriminator-ranked sampling: ``GAN.sample(..., candidates=m)``, its export, CLI and card."""

import resource

import numpy as np
import pytest
import tensorflow as tf

from keras_genai import export, runtime
from keras_genai.metrics import evaluate
from keras_genai.models import conditional_dcgan
from keras_genai.models.images import to_uint8
from keras_genai.zoo.preset import render_model_card


def _best_by_hand(model, num_samples, candidates, seed, labels=None):
    """Generates every candidate, scores each with the discriminator, keeps the top one."""
    z = model.noise(num_samples * candidates, seed=seed)
    repeated = None if labels is None else np.repeat(labels, candidates)
    images = model.generate(z, labels=repeated)
    inputs = images if labels is None else [images, repeated]
    scores = np.asarray(model.discriminator(inputs, training=False)).reshape(num_samples, candidates)
    best = scores.argmax(axis=1) + np.arange(num_samples) * candidates
    return to_uint8(images[best]).numpy(), scores


def test_each_image_is_the_most_real_of_its_candidates(tiny_gan):
    expected, scores = _best_by_hand(tiny_gan, 6, 4, seed=5)
    assert len(np.unique(scores.argmax(axis=1))) > 1  # the winner is not always the first draw
    np.testing.assert_array_equal(tiny_gan.sample(6, seed=5, candidates=4), expected)
    # Chunking (here chunks of 4 and 2 images, 4 candidates each) does not change the result.
    np.testing.assert_array_equal(tiny_gan.sample(6, seed=5, candidates=4, batch_size=16), expected)


def test_conditional_candidates_are_judged_with_their_label():
    model = conditional_dcgan(num_classes=10, latent_dim=8, base_filters=8, seed=0)
    labels = np.array([1, 7, 7, 3], np.int32)
    expected, _ = _best_by_hand(model, 4, 3, seed=2, labels=labels)
    np.testing.assert_array_equal(model.sample(4, seed=2, labels=labels, candidates=3), expected)
    # Chunks of 3 and 1 images keep each image's label with its candidates.
    np.testing.assert_array_equal(model.sample(4, seed=2, labels=labels, candidates=3, batch_size=9), expected)


@pytest.mark.parametrize("candidates, error", [(0, ValueError), (-2, ValueError), (2.5, TypeError),
                                               (True, TypeError), ("3", TypeError)])
def test_bad_candidates_are_refused(tiny_gan, candidates, error):
    with pytest.raises(error, match="candidates must be a positive integer"):
        tiny_gan.sample(2, seed=0, candidates=candidates)
    with pytest.raises((ValueError, TypeError), match="candidates must be a positive integer"):
        evaluate.evaluate(tiny_gan, num_samples=10, candidates=candidates, progress=False)


def test_sample_ranked_signature_matches_and_checks_its_input(tiny_gan, tmp_path):
    path = export.saved_model(tiny_gan, tmp_path / "m")
    served = runtime.run_saved_model(path, {"num_samples": np.int32(3), "candidates": np.int32(5),
                                            "seed": np.int64(9)}, "sample_ranked")["images"]
    assert served.dtype == np.uint8 and served.shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(served, tiny_gan.sample(3, seed=9, candidates=5))
    one = runtime.run_saved_model(path, {"num_samples": np.int32(3), "candidates": np.int32(1),
                                         "seed": np.int64(9)}, "sample_ranked")["images"]
    np.testing.assert_array_equal(one, tiny_gan.sample(3, seed=9))
    with pytest.raises(tf.errors.InvalidArgumentError, match="candidates must be a positive integer"):
        runtime.run_saved_model(path, {"num_samples": np.int32(3), "candidates": np.int32(0),
                                       "seed": np.int64(9)}, "sample_ranked")


def test_evaluation_passes_candidates_and_the_card_says_so():
    class Recorder:  # the part of the contract model_batches uses
        calls = []
        num_classes = None

        def sample(self, n, seed=0, candidates=1):
            self.calls.append(candidates)
            return np.zeros((n, 28, 28, 1), np.uint8)

    list(evaluate.model_batches(Recorder(), 20, 10, candidates=3))
    assert Recorder.calls == [3, 3]
    card = render_model_card({"name": "x", "metrics": {"mnist_features_ranked_best_of_3": {
        "fid": 3.0, "is_mean": 9.3, "num_samples": 10, "seed": 0, "candidates": 3, "features": "mnist",
        "reference": "mnist/test"}}})
    assert "each the most real of 3 generator draws by the discriminator" in card


def _tiny_mlp_gan(num_classes=None):
    """A GAN on 2x2x1 images with one Dense layer per network: quick to export."""
    import keras

    from keras_genai.models import GAN

    z = keras.Input((2,))
    images = keras.Input((2, 2, 1))
    inputs_g, inputs_d = [z], [images]
    hidden_g, hidden_d = z, keras.layers.Flatten()(images)
    if num_classes:
        labels = keras.Input((), dtype="int32")
        inputs_g.append(labels)
        inputs_d.append(labels)
        one_hot = keras.layers.CategoryEncoding(num_classes, output_mode="one_hot")(labels)
        hidden_g = keras.layers.Concatenate()([hidden_g, one_hot])
        hidden_d = keras.layers.Concatenate()([hidden_d, one_hot])
    generator = keras.Model(inputs_g, keras.layers.Reshape((2, 2, 1))(keras.layers.Dense(4, activation="tanh")(hidden_g)))
    discriminator = keras.Model(inputs_d, keras.layers.Dense(1)(hidden_d))
    return GAN(generator, discriminator, num_classes=num_classes, seed=0)


@pytest.mark.parametrize("num_classes", [None, 3])
def test_ranked_requests_past_the_int32_draws_are_refused_in_keras_and_served(tmp_path, num_classes):
    model = _tiny_mlp_gan(num_classes)
    labels = np.array([0, 2], np.int32) if num_classes else None
    # 2 images of 2**31 - 1 candidates: 2**32 - 2 draws, which an int32 product wraps to -2.
    too_many = 2**31 - 1
    with pytest.raises(ValueError, match="num_samples \\* candidates must be at most 2147483647"):
        model.sample(2, seed=0, labels=labels, candidates=too_many)
    path = export.saved_model(model, tmp_path / "m")
    inputs = {"labels": labels} if num_classes else {"num_samples": np.int32(2)}
    inputs["seed"] = np.int64(1)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_samples \\* candidates must be at most 2147483647"):
        runtime.run_saved_model(path, {**inputs, "candidates": np.int32(too_many)}, "sample_ranked")
    if not num_classes:  # 2**16 images of 2**16 candidates: exactly 2**32 draws, which int32 wraps to 0
        with pytest.raises(tf.errors.InvalidArgumentError, match="num_samples \\* candidates must be at most"):
            runtime.run_saved_model(path, {"num_samples": np.int32(2**16), "candidates": np.int32(2**16),
                                           "seed": np.int64(1)}, "sample_ranked")
    # Refused before anything sized by the request is made: an op that ran first (noise of 2**32
    # rows, labels repeated 2**31 - 1 times) would have raised the peak by gigabytes.
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown < 512 * 1024, f"a refused request raised peak memory by {grown / 2**20:.1f} GiB"
    # Within the bound nothing changed: served and Keras agree.
    served = runtime.run_saved_model(path, {**inputs, "candidates": np.int32(3)}, "sample_ranked")["images"]
    np.testing.assert_array_equal(served, model.sample(2, seed=1, labels=labels, candidates=3))
