"""What every family's fit() promises before training starts: a clear error without compile()."""

import numpy as np
import pytest

from keras_genai import models


def _family(name):
    rng = np.random.default_rng(0)
    if name == "gan":
        return models.dcgan(base_filters=8, seed=0), rng.uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    if name == "vae":
        return models.unconditional_vae(latent_dim=2, width=(8,), seed=0), (rng.uniform(size=(4, 28, 28, 1)) > 0.5).astype("float32")
    if name == "pixelcnn":
        return models.gated_pixelcnn(filters=4, num_layers=1), (rng.uniform(size=(4, 28, 28, 1)) > 0.5).astype("float32")
    gpt = models.GPT("ab", context_length=4, num_layers=1, num_heads=1, embed_dim=4, seed=0)
    tokens = rng.integers(0, 2, (4, 5)).astype("int32")
    return gpt, (tokens[:, :-1], tokens[:, 1:])


@pytest.mark.parametrize("name", ["gan", "vae", "pixelcnn", "gpt"])
def test_fit_before_compile_is_a_clear_error(name):
    model, data = _family(name)
    with pytest.raises((RuntimeError, ValueError), match="compile"):
        if isinstance(data, tuple):
            model.fit(data[0], data[1], epochs=1, verbose=0)
        else:
            model.fit(data, epochs=1, verbose=0)


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_fit_on_a_dataset_reads_it_in_its_own_order_without_a_shuffle_warning(name):
    import warnings

    import tensorflow as tf

    model, data = _family(name)
    model.compile()
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(dataset, epochs=1, verbose=0)
    assert not [w for w in caught if "shuffle" in str(w.message)]
