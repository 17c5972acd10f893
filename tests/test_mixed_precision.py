"""Mixed precision in the GAN, VAE and PixelCNN train_steps (the GPT has its own in test_gpt.py):
finite losses, float16 loss scaling, float32 outputs, and the same loss as float32 to within
the precision of the compute dtype."""

import keras
import numpy as np
import pytest

from keras_genai import models


def _build(family):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    if family == "gan":
        model = models.dcgan(base_filters=8, seed=0)
        model.compile()
        return model, images
    binary = (images > 0).astype("float32")
    model = models.vae(latent_dim=4, width=(32,), seed=0) if family == "vae" else models.gated_pixelcnn(filters=8, num_layers=2)
    model.compile()
    return model, binary


@pytest.fixture
def policy(request):
    keras.mixed_precision.set_dtype_policy(request.param)
    yield request.param
    keras.mixed_precision.set_dtype_policy("float32")


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"], indirect=True)
@pytest.mark.parametrize("family", ["gan", "vae", "pixelcnn"])
def test_training_under_mixed_precision(family, policy):
    model, data = _build(family)
    optimizers = [model.d_optimizer, model.g_optimizer] if family == "gan" else [model.optimizer]
    for optimizer in optimizers:
        scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        assert scaled == (policy == "mixed_float16"), f"{policy}: loss scaling {'on' if scaled else 'off'}"
    history = model.fit(data, batch_size=16, epochs=1, verbose=0).history
    for name, values in history.items():
        assert np.all(np.isfinite(values)), f"{name}: {values}"
    weights = model.generator.trainable_variables if family == "gan" else model.trainable_variables
    assert all(w.dtype == "float32" for w in weights), "variables must stay float32"
    if family == "gan":
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
