"""PixelCNN: causal masks, gated stacks without a blind spot, exact likelihood, compiled sampling."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_genai import export, models, nets
from keras_genai.nets.pixelcnn import causal_mask


def dependencies(network, shape, pixel, labels=None, batch=16):
    """Boolean (H, W): the input pixels the output at ``pixel`` has a non-zero gradient for, on
    any of ``batch`` random images (a union, so a ReLU that happens to be off does not hide one)."""
    x = tf.Variable(tf.cast(tf.random.stateless_uniform((batch, *shape), seed=[1, 2]) < 0.5, tf.float32))
    with tf.GradientTape() as tape:
        inputs = [x, tf.repeat(labels, batch)] if labels is not None else x
        out = tf.reduce_sum(network(inputs)[:, pixel[0], pixel[1]])
    return np.abs(tape.gradient(out, x).numpy()).sum(axis=(0, 3)) > 0


def before(shape, pixel):
    """Boolean (H, W): the pixels that come strictly before ``pixel`` in raster order."""
    order = np.arange(shape[0] * shape[1]).reshape(shape[:2])
    return order < pixel[0] * shape[1] + pixel[1]


def test_masks_of_type_a_and_b():
    a, b = causal_mask((3, 3), 1, 1, "A")[..., 0, 0], causal_mask((3, 3), 1, 1, "B")[..., 0, 0]
    np.testing.assert_array_equal(a, [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(b, [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="mask_type"):
        nets.MaskedConv2D(4, 3, mask_type="C")
    with pytest.raises(ValueError, match="odd"):
        causal_mask((2, 3), 1, 1, "A")


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_masked_conv_sees_only_the_past(mask_type):
    layer = nets.MaskedConv2D(2, 5, mask_type=mask_type)
    got = dependencies(layer, (7, 7, 1), (3, 3))
    expected = before((7, 7, 1), (3, 3)) & (np.abs(np.arange(7)[:, None] - 3) <= 2) & (np.abs(np.arange(7) - 3) <= 2)
    expected[3, 3] = mask_type == "B"
    np.testing.assert_array_equal(got, expected)


def test_gated_stack_is_causal_and_has_no_blind_spot():
    shape = (9, 9, 1)
    network = nets.gated_pixelcnn(shape, filters=4, num_layers=4, kernel_size=3, first_kernel_size=5,
                                  output_units=(8,))
    for pixel in [(0, 0), (0, 5), (4, 4), (2, 3), (4, 0), (8, 8)]:
        got = dependencies(network, shape, pixel)
        past = before(shape, pixel)
        assert not (got & ~past).any(), f"pixel {pixel} sees the future"
        if pixel in [(0, 5), (4, 4), (2, 3)]:  # the receptive field covers the image: every earlier pixel
            np.testing.assert_array_equal(got, past)
    # The receptive field grows by one column per block on each side: (4, 0) reaches columns 0..5.
    assert dependencies(network, shape, (4, 0))[3, :6].all()


def test_wider_kernels_stay_causal_and_sample_like_the_reference_loop():
    """kernel_size 5 (the pixelcnn_mnist preset): the stacks grow two rows or columns per block,
    still never see the future, and the row-cached sampler draws what the naive loop draws."""
    shape = (9, 9, 1)
    keras.utils.set_random_seed(1)
    model = models.gated_pixelcnn(shape, filters=4, num_layers=3, kernel_size=5, first_kernel_size=7,
                                  output_units=(8,), seed=0)
    for pixel in [(0, 3), (4, 4), (8, 0), (8, 8)]:
        got = dependencies(model.network, shape, pixel)
        assert not (got & ~before(shape, pixel)).any(), f"pixel {pixel} sees the future"
    # The 7x7 first block reaches 4 rows up and 4 columns left, each 5-wide block 2 more.
    big = (16, 16, 1)
    network = nets.gated_pixelcnn(big, filters=4, num_layers=3, kernel_size=5, first_kernel_size=7, output_units=(8,))
    seen = dependencies(network, big, (15, 8))
    assert 15 - np.flatnonzero(seen.any(axis=1)).min() == 4 + 2 * 2
    assert 8 - np.flatnonzero(seen[15]).min() == 4 + 2 * 2
    assert model._gated_parts() is not None
    np.testing.assert_array_equal(model.sample(3, seed=4), model.sample_reference(3, seed=4))


def test_plain_masked_stack_has_the_blind_spot():
    shape = (9, 9, 1)
    network = nets.masked_pixelcnn(shape, filters=4, num_layers=4, kernel_size=3, first_kernel_size=5,
                                   output_units=(8,))
    got = dependencies(network, shape, (4, 4))
    past = before(shape, (4, 4))
    assert not (got & ~past).any()
    assert (past & ~got).any()  # some pixels above-right are never seen
    assert not got[3, 8] and got[3, 5]


def test_conditional_network_is_causal_and_uses_the_label():
    shape = (6, 6, 1)
    network = nets.gated_pixelcnn(shape, filters=4, num_layers=3, num_classes=3, output_units=(8,))
    labels = tf.constant([2])
    got = dependencies(network, shape, (3, 2), labels)
    np.testing.assert_array_equal(got, before(shape, (3, 2)))
    x = tf.zeros((1, *shape))
    keras.utils.set_random_seed(0)
    for layer in network.layers:
        if isinstance(layer, keras.layers.Embedding):
            layer.embeddings.assign(tf.random.normal(layer.embeddings.shape))
    assert not np.allclose(network([x, tf.constant([0])]), network([x, tf.constant([1])]))


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(0)
    model = models.gated_pixelcnn((6, 6, 1), filters=8, num_layers=3, first_kernel_size=5, output_units=(16,),
                                  seed=0)
    model.compile()
    return model


def binary(n, shape=(6, 6, 1), seed=0):
    return (np.random.default_rng(seed).random((n, *shape)) < 0.4).astype(np.float32)


def test_log_prob_is_the_sum_of_bernoulli_log_likelihoods(tiny):
    x = binary(5)
    logits = tiny(x).numpy().astype(np.float64)
    p = 1.0 / (1.0 + np.exp(-logits))
    by_hand = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
    np.testing.assert_allclose(tiny.log_prob(x), by_hand, rtol=1e-5)
    np.testing.assert_allclose(tiny.bits_per_dim(x), -by_hand / (36 * np.log(2)), rtol=1e-5)
    np.testing.assert_allclose(tiny.log_prob(x, batch_size=2), tiny.log_prob(x), rtol=1e-6)
    # Ints and bools of 0/1 are the same images.
    np.testing.assert_allclose(tiny.log_prob(x.astype(np.int32)), tiny.log_prob(x), rtol=1e-6)


def test_log_prob_normalises_over_all_images():
    """Sum of p(x) over every binary 2x2 image is 1 (the model is a proper distribution)."""
    model = models.gated_pixelcnn((2, 2, 1), filters=4, num_layers=2, first_kernel_size=3, output_units=(4,))
    for layer in model.network.layers:
        for w in layer.weights:
            w.assign(tf.random.stateless_normal(w.shape, seed=[3, len(w.name)]))
    grid = np.array([[(k >> b) & 1 for b in range(4)] for k in range(16)], np.float32).reshape(16, 2, 2, 1)
    assert abs(np.exp(model.log_prob(grid)).sum() - 1.0) < 1e-5


def test_compiled_sampling_equals_the_naive_reference_loop(tiny):
    images = tiny.sample(6, seed=11)
    assert images.dtype == np.uint8 and images.shape == (6, 6, 6, 1)
    assert set(np.unique(images)) <= {0, 255}
    np.testing.assert_array_equal(images, tiny.sample_reference(6, seed=11))
    np.testing.assert_array_equal(images, tiny.sample(6, seed=11, batch_size=4))  # batching does not matter
    assert tiny.sample(3).shape == (3, 6, 6, 1)  # fresh randomness from the SeedGenerator


def test_sampling_follows_the_model():
    """Logits forced to +20 / -20 (p = 1 / 0): every sampled pixel must be 255 / 0; at logit 0
    (p = 1/2) about half of them are."""
    model = models.gated_pixelcnn((4, 4, 1), filters=4, num_layers=2, first_kernel_size=3, output_units=(4,))
    logits = model.network.get_layer("logits")
    logits.kernel.assign(tf.zeros_like(logits.kernel))
    for value, expected in ((20.0, 255), (-20.0, 0)):
        logits.bias.assign([value])
        assert (model.sample(3, seed=0) == expected).all()
    logits.bias.assign([0.0])
    assert 0.4 < (model.sample(64, seed=0) == 255).mean() < 0.6


def test_fit_lowers_the_nll_and_reports_bits_per_dim(tiny):
    x = binary(64, seed=1)
    before_nll = -tiny.log_prob(x).mean()
    history = tiny.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=3, verbose=0)
    assert set(history.history) == {"loss", "bits_per_dim"}
    np.testing.assert_allclose(history.history["bits_per_dim"][-1], history.history["loss"][-1] / (36 * np.log(2)),
                               rtol=1e-5)
    assert -tiny.log_prob(x).mean() < before_nll


def test_conditional_model_samples_and_scores_with_labels(tmp_path):
    model = models.gated_pixelcnn((5, 5, 1), filters=4, num_layers=2, first_kernel_size=3, output_units=(8,),
                                  num_classes=3, seed=0)
    model.compile()
    x, y = binary(8, (5, 5, 1)), np.arange(8) % 3
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(4), epochs=1, verbose=0)
    assert model.log_prob(x, labels=y).shape == (8,)
    images = model.sample(4, seed=0, labels=[0, 1, 2, 0])
    np.testing.assert_array_equal(images, model.sample_reference(4, seed=0, labels=[0, 1, 2, 0]))
    assert model.preview(6, seed=0)[1] == 3
    path = export.saved_model(model, tmp_path / "cond")
    loaded = tf.saved_model.load(path)
    out = loaded.signatures["sample"](labels=tf.constant([0, 1, 2, 0]), seed=tf.constant(0, tf.int64))["images"]
    np.testing.assert_array_equal(out.numpy(), images)
    scores = loaded.signatures["log_prob"](images=tf.constant(x), labels=tf.constant(y, tf.int32))
    np.testing.assert_allclose(scores["log_prob"].numpy(), model.log_prob(x, labels=y), rtol=1e-6)
    with pytest.raises(ValueError, match="conditional"):
        model.sample(2, seed=0)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        model.log_prob(x[:2], labels=[0, 3])


def test_bad_inputs_are_refused_with_clear_errors(tiny):
    with pytest.raises(ValueError, match="binary"):
        tiny.log_prob(np.full((2, 6, 6, 1), 0.5, np.float32))
    with pytest.raises(ValueError, match="binary"):
        tiny.log_prob(np.full((2, 6, 6, 1), 255, np.uint8))  # uint8 pixels, not 0/1
    with pytest.raises(ValueError, match=r"shape \(batch, 6, 6, 1\)"):
        tiny.log_prob(np.zeros((2, 6, 6), np.float32))
    with pytest.raises(ValueError, match="batch >= 1"):
        tiny.log_prob(np.zeros((0, 6, 6, 1), np.float32))
    with pytest.raises(TypeError, match="numeric"):
        tiny.log_prob(np.array([[["a"]]]))
    with pytest.raises(ValueError, match="positive integer"):
        tiny.sample(0)
    with pytest.raises(TypeError, match="positive integer"):
        tiny.sample(2.5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="binary"):
        tiny.fit(tf.data.Dataset.from_tensor_slices(np.full((4, 6, 6, 1), 0.3, np.float32)).batch(4), verbose=0)
    with pytest.raises(ValueError, match="logit per pixel"):
        models.PixelCNN(nets.gated_pixelcnn((6, 6, 1), filters=4, num_layers=1, params_per_pixel=2))
    with pytest.raises(ValueError, match="inputs"):
        models.PixelCNN(nets.gated_pixelcnn((6, 6, 1), filters=4, num_layers=1), num_classes=3)
    with pytest.raises(ValueError, match="kernel_size"):
        nets.GatedPixelCNNBlock(4, kernel_size=4)


def test_keras_file_round_trip_in_a_fresh_process(tiny, tmp_path):
    path = str(tmp_path / "tiny.keras")
    tiny.save(path)
    x = binary(4, seed=5)
    np.save(tmp_path / "x.npy", x)
    code = textwrap.dedent(f"""
        import numpy as np, keras, keras_genai
        model = keras.saving.load_model({path!r})
        x = np.load({str(tmp_path / 'x.npy')!r})
        np.save({str(tmp_path / 'lp.npy')!r}, model.log_prob(x))
        np.save({str(tmp_path / 's.npy')!r}, model.sample(4, seed=7))
        print(type(model).__name__, model.optimizer is not None)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "PixelCNN True" in result.stdout
    np.testing.assert_allclose(np.load(tmp_path / "lp.npy"), tiny.log_prob(x), rtol=1e-6)
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), tiny.sample(4, seed=7))


def test_row_cached_sampling_is_used_for_gated_networks_only(tiny):
    assert tiny._gated_parts() is not None
    masked = models.masked_pixelcnn((5, 5, 1), filters=4, num_layers=2, first_kernel_size=3, output_units=(4,))
    assert masked._gated_parts() is None
    np.testing.assert_array_equal(masked.sample(3, seed=2), masked.sample_reference(3, seed=2))
    # The row-cached loop and the whole-network loop draw the same images.
    whole = tf.function(tiny._sample_loop)(tiny.uniforms(4, 5))
    np.testing.assert_array_equal(tiny.sample(4, seed=5), (whole.numpy() * 255).astype(np.uint8))
