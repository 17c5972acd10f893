import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Under pytest-xdist (``-n 2``) each worker prepares TFDS datasets into a folder of its own:
    # two workers preparing MNIST into one folder at once collide on its final rename. Set here,
    # before TFDS is imported (it reads the variable then) and inherited by test subprocesses.
    _tfds = os.environ.get("TFDS_DATA_DIR") or os.path.join(os.path.expanduser("~"), "tensorflow_datasets")
    os.environ["TFDS_DATA_DIR"] = os.path.join(_tfds, "xdist-" + os.environ["PYTEST_XDIST_WORKER"])

import keras  # noqa: E402
import pytest  # noqa: E402

from keras_genai.models import dcgan  # noqa: E402

# The files that take longest (a minute or more on a 2-core machine), longest first. Under
# ``pytest -n 2 --dist loadfile --no-loadscope-reorder`` (the README's command) files go to the
# workers in collection order, so these start first and no worker is left with one of them
# while the other has finished.
LONGEST_FIRST = ("test_family_contract.py", "test_tutorials.py", "test_cli.py", "test_train_hardening.py",
                 "test_distribute.py", "test_resume.py")


def pytest_collection_modifyitems(config, items):
    if hasattr(config, "workerinput"):  # an xdist worker; a plain run keeps the usual order
        def rank(item):
            name = item.path.name
            return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

        items.sort(key=rank)  # stable: the order inside a file, and of the other files, is kept


@pytest.fixture
def tiny_gan():
    """A small compiled DCGAN for 28x28x1 images (fast to train and export)."""
    keras.utils.set_random_seed(0)
    model = dcgan((28, 28, 1), latent_dim=8, base_filters=8, seed=0)
    model.compile()
    return model


@pytest.fixture(scope="module", autouse=True)
def _release_memory_after_each_file():
    """Once a file's tests (and its module fixtures) are done, frees what they built: Keras's
    global state and the traced functions held in reference cycles. A pytest-xdist worker runs
    many files in one process; without this its memory grew past 20 GB in a full run."""
    yield
    import gc

    keras.backend.clear_session()
    gc.collect()


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
