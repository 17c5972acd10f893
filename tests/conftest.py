import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import keras  # noqa: E402
import pytest  # noqa: E402

from keras_genai.models import dcgan  # noqa: E402


@pytest.fixture
def tiny_gan():
    """A small compiled DCGAN for 28x28x1 images (fast to train and export)."""
    keras.utils.set_random_seed(0)
    model = dcgan((28, 28, 1), latent_dim=8, base_filters=8, seed=0)
    model.compile()
    return model


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_GENAI_CACHE", str(tmp_path / "cache"))


@pytest.fixture(autouse=True)
def _forget_registered_presets():
    """Presets a test registers (some point at servers that stop with the test) do not leak
    into later tests."""
    from keras_genai.zoo import registry

    before = dict(registry._registered)
    yield
    registry._registered.clear()
    registry._registered.update(before)
