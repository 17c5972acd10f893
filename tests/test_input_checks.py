"""Inputs every family checks the same way: seeds, batch sizes, the size of a result, GPT's
sampling controls; and samples drawn in chunks equal to samples drawn at once."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_genai import models
from keras_genai.models import GPT, conditional_dcgan, dcgan, latent_noise, sampling
from keras_genai.models.images import to_uint8
from keras_genai.models.vae.likelihoods import to_uint8 as likelihood_to_uint8

VOCAB = "\n abcdefgh"


@pytest.fixture(scope="module")
def gan():
    keras.utils.set_random_seed(0)
    return dcgan((28, 28, 1), latent_dim=8, base_filters=8, seed=0)


@pytest.fixture(scope="module")
def vae():
    keras.utils.set_random_seed(0)
    return models.unconditional_vae(image_shape=(28, 28, 1), latent_dim=3, width=(16,), seed=0)


@pytest.fixture(scope="module")
def pixelcnn():
    keras.utils.set_random_seed(0)
    return models.gated_pixelcnn((6, 6, 1), filters=8, num_layers=2, first_kernel_size=5, output_units=(16,),
                                 seed=0)


@pytest.fixture(scope="module")
def gpt():
    keras.utils.set_random_seed(0)
    return GPT(VOCAB, context_length=8, num_layers=1, num_heads=2, embed_dim=16, seed=0)


BINARY = np.zeros((2, 28, 28, 1), np.float32)


def _seeded_calls(gan, vae, pixelcnn, gpt):
    """Every public call that takes a seed, as ``name: call(seed)``."""
    return {
        "GAN.sample": lambda s: gan.sample(2, seed=s),
        "GAN.noise": lambda s: gan.noise(2, seed=s),
        "GAN.preview": lambda s: gan.preview(2, seed=s),
        "VAE.sample": lambda s: vae.sample(2, seed=s),
        "VAE.noise": lambda s: vae.noise(2, seed=s),
        "VAE.elbo": lambda s: vae.elbo(BINARY, seed=s),
        "VAE.log_weights": lambda s: vae.log_weights(BINARY, k=2, seed=s),
        "VAE.importance_weighted_nll": lambda s: vae.importance_weighted_nll(BINARY, k=2, seed=s),
        "PixelCNN.sample": lambda s: pixelcnn.sample(2, seed=s),
        "PixelCNN.sample_reference": lambda s: pixelcnn.sample_reference(1, seed=s),
        "GPT.generate": lambda s: gpt.generate("ab", 3, seed=s),
        "GPT.generate_ids": lambda s: gpt.generate_ids(np.array([[1, 2]]), 3, seed=s),
        "GAN()": lambda s: dcgan((28, 28, 1), latent_dim=8, base_filters=8, seed=s),
        "VAE()": lambda s: models.unconditional_vae(latent_dim=2, width=(8,), seed=s),
        "PixelCNN()": lambda s: models.gated_pixelcnn((6, 6, 1), filters=4, num_layers=1, output_units=(4,), seed=s),
        "GPT()": lambda s: GPT(VOCAB, context_length=4, num_layers=1, num_heads=1, embed_dim=4, seed=s),
    }


CALLS = list(_seeded_calls(*[None] * 4))


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("seed", ["5", 1.7, 2.0, True, np.float64(3.0), [1, 2]])
def test_a_seed_that_is_not_an_integer_is_a_type_error_everywhere(gan, vae, pixelcnn, gpt, call, seed):
    with pytest.raises(TypeError, match="seed must be None or an integer"):
        _seeded_calls(gan, vae, pixelcnn, gpt)[call](seed)


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("seed", [2**63, -(2**63) - 1, np.uint64(2**64 - 1)])
def test_a_seed_outside_int64_is_a_value_error_everywhere(gan, vae, pixelcnn, gpt, call, seed):
    with pytest.raises(ValueError, match=r"seed must be an integer in \[-9223372036854775808, 9223372036854775807\]"):
        _seeded_calls(gan, vae, pixelcnn, gpt)[call](seed)


def test_numpy_and_extreme_integer_seeds_work(gan, vae, gpt):
    np.testing.assert_array_equal(gan.sample(3, seed=np.int64(7)), gan.sample(3, seed=7))
    for seed in (2**63 - 1, -(2**63)):
        expected = to_uint8(gan.generate(latent_noise(3, seed, gan.latent_dim))).numpy()
        np.testing.assert_array_equal(gan.sample(3, seed=seed), expected)
    # Derived seeds wrap into int64 instead of overflowing: batch seeds seed * 1_000_003 + i,
    # one seed per prompt seed + i.
    nll = vae.importance_weighted_nll(BINARY, k=2, seed=2**62, batch_size=1)
    assert nll.shape == (2,) and np.isfinite(nll).all()
    texts = gpt.generate(["ab", "ba"], 4, seed=2**63 - 1)
    assert texts[1] == gpt.generate("ba", 4, seed=-(2**63))
    assert dcgan((28, 28, 1), latent_dim=8, base_filters=8, seed=np.int64(3)).get_config()["seed"] == 3


def test_likelihood_estimates_need_a_seed(vae):
    with pytest.raises(TypeError, match="seed must be an integer"):
        vae.elbo(BINARY, seed=None)


@pytest.mark.parametrize("value, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError), ("8", TypeError)])
def test_batch_size_must_be_a_positive_integer_everywhere(gan, vae, pixelcnn, value, error):
    z = np.zeros((2, 8), np.float32)
    calls = [
        lambda: gan.sample(2, seed=0, batch_size=value),
        lambda: gan.sample(2, seed=0, candidates=3, batch_size=value),
        lambda: gan.generate(z, batch_size=value),
        lambda: vae.sample(2, seed=0, batch_size=value),
        lambda: vae.encode(BINARY, batch_size=value),
        lambda: vae.decode(np.zeros((2, 3), np.float32), batch_size=value),
        lambda: vae.reconstruct(BINARY, batch_size=value),
        lambda: vae.elbo(BINARY, batch_size=value),
        lambda: vae.importance_weighted_nll(BINARY, k=2, batch_size=value),
        lambda: pixelcnn.sample(2, seed=0, batch_size=value),
        lambda: pixelcnn.log_prob(np.zeros((2, 6, 6, 1), np.float32), batch_size=value),
        lambda: pixelcnn.bits_per_dim(np.zeros((2, 6, 6, 1), np.float32), batch_size=value),
    ]
    for call in calls:
        with pytest.raises(error, match="batch_size must be a positive integer"):
            call()
    with pytest.raises(error, match="max_decodes must be a positive integer"):
        vae.log_weights(BINARY, k=2, max_decodes=value)


# ------------------------------------------------------------------ results that cannot fit
def test_a_result_larger_than_memory_is_refused_before_anything_is_drawn(gan, vae, pixelcnn):
    for model in (gan, vae, pixelcnn):
        with pytest.raises(ValueError, match=r"sample\(1000000000000\) needs [\d,]+ bytes .* for its result"):
            model.sample(10**12, seed=0)
    with pytest.raises(ValueError, match=r"noise\(1000000000000\) needs 32,000,000,000,000 bytes"):
        gan.noise(10**12, seed=0)


def test_the_bound_can_be_set(gan, vae, pixelcnn, gpt, monkeypatch):
    monkeypatch.setattr(sampling, "MAX_SAMPLE_BYTES", 4 * 28 * 28)
    assert gan.sample(4, seed=0).shape == (4, 28, 28, 1)
    for call in (lambda: gan.sample(5, seed=0), lambda: vae.sample(5, seed=0, batch_size=2)):
        with pytest.raises(ValueError, match=r"needs 3,920 bytes .* more than the 3,136 bytes .* \(MAX_SAMPLE_BYTES"):
            call()
    monkeypatch.setattr(sampling, "MAX_SAMPLE_BYTES", 4 * 36)
    assert pixelcnn.sample(4, seed=0).shape == (4, 6, 6, 1)
    with pytest.raises(ValueError, match="needs 180 bytes"):
        pixelcnn.sample(5, seed=0)
    monkeypatch.setattr(sampling, "MAX_SAMPLE_BYTES", 4 * 30)
    assert len(gpt.generate("ab", 28, seed=0)) == 30
    with pytest.raises(ValueError, match="generating 29 tokens for 1 sequence.* needs 124 bytes.*fewer new tokens"):
        gpt.generate("ab", 29, seed=0)


def test_the_bound_can_be_set_in_the_environment(gan, monkeypatch):
    monkeypatch.setenv("KERAS_GENAI_MAX_SAMPLE_BYTES", str(2 * 28 * 28))
    assert gan.sample(2, seed=0).shape == (2, 28, 28, 1)
    with pytest.raises(ValueError, match=r"needs 2,352 bytes .* \(\$KERAS_GENAI_MAX_SAMPLE_BYTES"):
        gan.sample(3, seed=0)
    monkeypatch.setenv("KERAS_GENAI_MAX_SAMPLE_BYTES", "lots")
    with pytest.raises(ValueError, match=r"KERAS_GENAI_MAX_SAMPLE_BYTES must be a positive integer"):
        gan.sample(1, seed=0)


class _Stop(Exception):
    pass


def test_candidates_are_drawn_and_scored_in_chunks_of_at_most_batch_size(gan, monkeypatch):
    """``candidates=10**9`` for one image must not draw 10**9 latent vectors at once: the first
    chunk is asked for at most batch_size rows (the spy stops the run there)."""
    counts = []
    original = gan._noise_rows

    def spy(seed):
        rows = original(seed)

        def draw(start, count):
            counts.append(count)
            if len(counts) == 3:
                raise _Stop
            return rows(start, count)

        return draw

    monkeypatch.setattr(gan, "_noise_rows", spy)
    with pytest.raises(_Stop):
        gan.sample(1, seed=0, candidates=10**9, batch_size=64)
    assert counts == [64, 64, 64]


@pytest.mark.parametrize("conditional", [False, True])
def test_more_candidates_than_batch_size_give_the_images_of_one_call(gan, conditional):
    model = conditional_dcgan(num_classes=10, latent_dim=8, base_filters=8, seed=0) if conditional else gan
    labels = np.array([3, 3, 9], np.int32) if conditional else None
    whole = model.sample(3, seed=4, labels=labels, candidates=7, batch_size=21)  # one call, 21 candidates
    for batch_size in (1, 3, 6):  # each image's 7 candidates in chunks
        np.testing.assert_array_equal(model.sample(3, seed=4, labels=labels, candidates=7, batch_size=batch_size),
                                      whole)


# ------------------------------------------------------------------ chunks change nothing
def test_stateless_rows_are_slices_of_one_draw():
    for distribution, draw in (("normal", tf.random.stateless_normal), ("uniform", tf.random.stateless_uniform)):
        for seed in ([5, 0], [-(2**63), 0], [2**63 - 1, 0]):
            full = draw((23, 3, 5), seed=tf.constant(seed, tf.int64)).numpy()
            rows = sampling.StatelessRows(distribution, tf.constant(seed, tf.int64), (3, 5))
            for start, count in ((0, 23), (1, 1), (3, 7), (22, 1), (9, 14)):
                np.testing.assert_array_equal(rows(start, count).numpy(), full[start : start + count])


def test_the_keras_seed_is_the_one_keras_random_uses():
    ours, theirs = keras.random.SeedGenerator(11), keras.random.SeedGenerator(11)
    for _ in range(3):
        expected = keras.random.normal((5, 4), seed=theirs).numpy()
        np.testing.assert_array_equal(sampling.StatelessRows("normal", sampling.keras_seed(ours), (4,))(0, 5), expected)


@pytest.mark.parametrize("batch_size", [1, 4, 7, 256])
def test_chunked_samples_equal_the_samples_of_one_draw(gan, vae, pixelcnn, batch_size):
    # The formulas sample used before it drew its noise in chunks.
    np.testing.assert_array_equal(gan.sample(7, seed=3, batch_size=batch_size),
                                  to_uint8(gan.generate(gan.noise(7, seed=3))).numpy())
    np.testing.assert_array_equal(vae.sample(7, seed=3, batch_size=batch_size),
                                  likelihood_to_uint8(vae.likelihood, vae.decode(vae.noise(7, seed=3))).numpy())
    loop = tf.function(pixelcnn._sample_any)
    np.testing.assert_array_equal(pixelcnn.sample(5, seed=3, batch_size=batch_size),
                                  tf.cast(loop(pixelcnn.uniforms(5, 3)) * 255.0, tf.uint8).numpy())


def test_a_gated_pixelcnn_samples_a_single_image_first():
    # The first trace with a batch of 1 broke the row loop's shape invariant.
    keras.utils.set_random_seed(0)
    model = models.gated_pixelcnn((6, 6, 1), filters=8, num_layers=2, first_kernel_size=5, output_units=(16,))
    assert model._gated_parts() is not None
    one = model.sample(1, seed=4)
    np.testing.assert_array_equal(one, model.sample(3, seed=4)[:1])
    np.testing.assert_array_equal(one, model.sample_reference(1, seed=4))


def test_unseeded_samples_follow_the_model_seed_as_before():
    def pair(builder):
        """Two copies of one model, each with its own SeedGenerator at the same state."""
        keras.utils.set_random_seed(0)
        first = builder()
        keras.utils.set_random_seed(0)
        return first, builder()

    first, second = pair(lambda: dcgan((28, 28, 1), latent_dim=8, base_filters=8, seed=5))
    for _ in range(2):
        np.testing.assert_array_equal(first.sample(3), to_uint8(second.generate(second.noise(3))).numpy())
    first, second = pair(lambda: models.unconditional_vae(latent_dim=3, width=(16,), seed=5))
    for _ in range(2):
        expected = likelihood_to_uint8(second.likelihood, second.decode(second.noise(3))).numpy()
        np.testing.assert_array_equal(first.sample(3, batch_size=2), expected)


# ------------------------------------------------------------------ GPT sampling controls
def test_gpt_controls_that_do_not_fit_the_compiled_loop(gpt):
    with pytest.raises(ValueError, match=r"max_new_tokens must be an integer >= 1 and at most 2,147,483,647"):
        gpt.generate("ab", 2**31)
    for temperature in (1e300, 3.5e38, float("inf")):
        with pytest.raises(ValueError, match=r"temperature must be a finite number >= 0 .* at most 3\.403e\+38"):
            gpt.generate("ab", 3, temperature=temperature)
    # top_k above the vocabulary size keeps every character, as top_k=None does.
    assert gpt.generate("ab", 12, top_k=2**40, seed=1) == gpt.generate("ab", 12, seed=1)
    assert gpt.generate("ab", 12, top_k=len(VOCAB) + 1, seed=1) == gpt.generate("ab", 12, seed=1)
    # A top_p that float32 rounds to 0 keeps the most likely character alone: greedy.
    assert gpt.generate("ab", 12, top_p=1e-60, seed=1) == gpt.generate("ab", 12, temperature=0)


def test_gpt_text_over_several_blocks_of_new_ids(gpt):
    # The new ids are collected 256 at a time; the text does not depend on where blocks end.
    long = gpt.generate("ab", 600, temperature=0.9, seed=2)
    assert len(long) == 602 and set(long) <= set(VOCAB)
    for length in (255, 256, 257, 513):
        assert gpt.generate("ab", length, temperature=0.9, seed=2) == long[: 2 + length]
    ids = gpt.generate_ids(np.array([[1, 2], [3, 4]]), 300, temperature=0.9, seed=2)
    assert ids.shape == (2, 302)
    np.testing.assert_array_equal(ids[:, :260], gpt.generate_ids(np.array([[1, 2], [3, 4]]), 258, temperature=0.9,
                                                                 seed=2))
