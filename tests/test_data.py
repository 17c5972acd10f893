"""Behaviour tests for ``keras_genai.data`` (TFDS image pipelines).

* MNIST tests run on the real archives found under ``$KERAS_GENAI_DATA_DIR/mnist`` and are
  skipped when that folder is missing. MNIST is prepared once per module into a temporary
  TFDS ``data_dir`` (about 10 s).
* CelebA and CIFAR-10 run on ``tfds.testing.mock_data`` (no files needed).
"""

import os
import socket
import time
import types

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_genai import data

ENV = data.DATA_DIR_ENV
MNIST_TRAIN, MNIST_TEST = 60_000, 10_000


def _first(ds):
    return next(iter(ds))


def _np(x):
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


# --------------------------------------------------------------------------- MNIST (real files)


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    """MNIST prepared once for this module from the real archives.

    Preparation goes through the ``manual_dir`` parameter with ``KERAS_GENAI_DATA_DIR``
    unset, so it also proves that the parameter alone is enough (the machine is offline:
    TFDS cannot fall back to downloading). The env-var route into ``builder`` is covered
    cheaply by ``test_builder_passes_resolved_manual_dir_to_tfds``.
    """
    root = os.environ.get(ENV)
    if not root:
        pytest.skip(f"{ENV} is not set; it must name a folder holding mnist/ with the four MNIST .gz archives")
    mnist_dir = os.path.join(root, "mnist")
    if not os.path.isdir(mnist_dir):
        pytest.skip(f"{mnist_dir} does not exist (expected the four original MNIST .gz archives there)")
    data_dir = str(tmp_path_factory.mktemp("tfds"))
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(ENV)
        prepared = data.builder("mnist", data_dir=data_dir, manual_dir=mnist_dir)
    return types.SimpleNamespace(data_dir=data_dir, manual_dir=mnist_dir, builder=prepared)


def test_mnist_prepared_from_manual_dir_parameter(mnist):
    splits = mnist.builder.info.splits
    assert splits["train"].num_examples == MNIST_TRAIN
    assert splits["test"].num_examples == MNIST_TEST
    # Prepared into the given data_dir, not TFDS's default one.
    assert os.path.commonpath([mnist.builder.data_dir, mnist.data_dir]) == mnist.data_dir
    assert any(f.startswith("mnist-train.tfrecord") for f in os.listdir(mnist.builder.data_dir))


def test_mnist_batches_shape_dtype_and_range(mnist):
    batch = _np(_first(data.images("mnist", batch_size=32, data_dir=mnist.data_dir)))
    assert batch.shape == (32, 28, 28, 1)
    assert batch.dtype == np.float32
    assert batch.min() >= -1.0 and batch.max() <= 1.0
    # MNIST has pure black background and saturated strokes: both ends are reached.
    assert batch.min() <= -0.99 and batch.max() >= 0.99


def test_mnist_value_range_matches_raw_pixels(mnist):
    kwargs = dict(split="test", batch_size=16, shuffle=False, data_dir=mnist.data_dir)
    unit = _np(_first(data.images("mnist", value_range=(0.0, 1.0), **kwargs)))
    signed = _np(_first(data.images("mnist", **kwargs)))
    assert unit.shape == (16, 28, 28, 1) and unit.dtype == np.float32
    assert unit.min() >= 0.0 and unit.max() <= 1.0
    assert unit.min() <= 0.01 and unit.max() >= 0.99
    np.testing.assert_allclose(signed, 2.0 * unit - 1.0, atol=1e-6)
    # Same pixels as TFDS's own unshuffled test split, only rescaled.
    raw = tfds.as_numpy(mnist.builder.as_dataset(split="test", shuffle_files=False).take(16).batch(16))
    raw = next(iter(raw))["image"].astype(np.float32)
    np.testing.assert_allclose(unit, raw / 255.0, atol=1e-6)


def test_mnist_with_labels(mnist):
    images, labels = _first(data.images("mnist", batch_size=256, with_labels=True, data_dir=mnist.data_dir))
    assert images.shape == (256, 28, 28, 1) and images.dtype == tf.float32
    assert labels.shape == (256,) and labels.dtype == tf.int32
    labels = _np(labels)
    assert labels.min() >= 0 and labels.max() <= 9
    assert len(np.unique(labels)) >= 8  # a shuffled batch of 256 covers (nearly) every digit


def test_mnist_seeded_shuffle(mnist):
    def first(seed):
        return _np(_first(data.images("mnist", batch_size=64, seed=seed, data_dir=mnist.data_dir)))

    a, b, c = first(0), first(0), first(1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    "batch_size,drop_remainder,sizes",
    [
        (1000, False, [1000] * 10),  # divides 10,000
        (3000, False, [3000, 3000, 3000, 1000]),  # does not divide: last partial batch kept
        (3000, True, [3000, 3000, 3000]),  # ... or dropped
    ],
)
def test_mnist_test_split_size(mnist, batch_size, drop_remainder, sizes):
    ds = data.images(
        "mnist", split="test", batch_size=batch_size, shuffle=False, drop_remainder=drop_remainder,
        data_dir=mnist.data_dir,
    )
    got = [int(batch.shape[0]) for batch in ds]
    assert got == sizes
    if not drop_remainder:
        assert sum(got) == MNIST_TEST


def test_mnist_sub_split(mnist):
    ds = data.images("mnist", split="test[:1000]", batch_size=300, shuffle=False, drop_remainder=False,
                     data_dir=mnist.data_dir)
    assert sum(int(batch.shape[0]) for batch in ds) == 1000


def test_mnist_manual_dir_parameter_without_env(mnist, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    images, labels = _first(
        data.images("mnist", split="test", batch_size=8, with_labels=True, shuffle=False,
                    data_dir=mnist.data_dir, manual_dir=mnist.manual_dir)
    )
    assert images.shape == (8, 28, 28, 1) and labels.shape == (8,)


def test_missing_manual_dir_raises(tmp_path):
    missing = tmp_path / "no-such-folder"
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        data.images("mnist", data_dir=str(tmp_path / "tfds"), manual_dir=missing)
    with pytest.raises(FileNotFoundError):
        data.resolve_manual_dir("mnist", missing)


def test_unknown_dataset_raises_naming_known_ones(tmp_path):
    with pytest.raises(ValueError, match="imagenet_nope") as info:
        data.images("imagenet_nope", data_dir=str(tmp_path))
    for known in ("mnist", "fashion_mnist", "cifar10", "celeb_a"):
        assert known in str(info.value)


@pytest.mark.parametrize("batch_size", [0, -4])
def test_non_positive_batch_size_raises(tmp_path, batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        data.images("mnist", batch_size=batch_size, data_dir=str(tmp_path))


def test_builder_passes_resolved_manual_dir_to_tfds(tmp_path, monkeypatch):
    """``builder`` hands ``resolve_manual_dir``'s answer to TFDS (no real preparation)."""
    calls = []

    class FakeBuilder:
        def __init__(self, name, data_dir=None):
            calls.append({"name": name, "data_dir": data_dir})

        def download_and_prepare(self, download_config=None):
            calls[-1]["download_config"] = download_config

    monkeypatch.setattr(tfds, "builder", FakeBuilder)
    (tmp_path / "mnist").mkdir()
    monkeypatch.setenv(ENV, str(tmp_path))
    data.builder("mnist", data_dir="somewhere")
    assert calls[-1]["name"] == "mnist" and calls[-1]["data_dir"] == "somewhere"
    assert os.fspath(calls[-1]["download_config"].manual_dir) == str(tmp_path / "mnist")

    explicit = tmp_path / "explicit"
    explicit.mkdir()
    data.builder("mnist", manual_dir=explicit)
    assert os.fspath(calls[-1]["download_config"].manual_dir) == str(explicit)

    monkeypatch.delenv(ENV)
    data.builder("mnist")
    assert calls[-1]["download_config"] is None  # nothing configured: plain TFDS download


# --------------------------------------------------------------------------- mocked TFDS


@pytest.fixture(scope="module")
def mock_metadata_dir(tmp_path_factory):
    """Minimal TFDS metadata (features + split sizes) for ``MockPolicy.USE_FILES``.

    ``images`` reads ``info.splits[split].num_examples``, which ``MockPolicy.USE_CODE``
    leaves empty, so real split sizes are written here. They also pick the pipeline's
    branches: CIFAR-10 (50,000 small images) is cached, CelebA is not.
    """
    root = str(tmp_path_factory.mktemp("tfds_metadata"))
    for name, train in [("celeb_a", 162_770), ("cifar10", 50_000)]:
        b = tfds.builder(name, data_dir=root)
        b.info.set_splits(
            tfds.core.SplitDict(
                [
                    tfds.core.SplitInfo(name="train", shard_lengths=[train], num_bytes=0),
                    tfds.core.SplitInfo(name="test", shard_lengths=[10_000], num_bytes=0),
                ]
            )
        )
        os.makedirs(b.data_dir, exist_ok=True)
        b.info.write_to_directory(b.data_dir)
    return root


@pytest.fixture
def mock_tfds(mock_metadata_dir, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)

    def mock(num_examples, **kwargs):
        return tfds.testing.mock_data(
            num_examples=num_examples, policy=tfds.testing.MockPolicy.USE_FILES, data_dir=mock_metadata_dir,
            **kwargs,
        )

    return mock


def _celeb_a_like(centre_value, border_value):
    """218x178x3 uint8 with the centre 140x140 (the CelebA crop) set apart from the rest."""
    image = np.full((218, 178, 3), border_value, np.uint8)
    top, left = (218 - 140) // 2, (178 - 140) // 2
    image[top : top + 140, left : left + 140] = centre_value
    return image


def test_celeb_a_mock_batches(mock_tfds):
    with mock_tfds(6):
        batches = [_np(b) for b in data.images("celeb_a", batch_size=4, drop_remainder=False)]
    assert [b.shape for b in batches] == [(4, 64, 64, 3), (2, 64, 64, 3)]
    for b in batches:
        assert b.dtype == np.float32
        assert b.min() >= -1.0 and b.max() <= 1.0
        assert b.std() > 0.05  # random pixels survive, not a constant image


def test_celeb_a_pipeline_keeps_only_centre_crop(mock_tfds):
    """Through ``images``: a white face box on black borders comes out all white."""
    white_centre = _celeb_a_like(255, 0)

    def as_dataset(self, split, decoders=None, read_config=None, shuffle_files=False):
        return tf.data.Dataset.from_tensors({"image": white_centre}).repeat(3)

    with mock_tfds(3, as_dataset_fn=as_dataset):
        batch = _np(_first(data.images("celeb_a", batch_size=3)))
    assert batch.shape == (3, 64, 64, 3)
    np.testing.assert_allclose(batch, 1.0, atol=1e-3)


def test_cifar10_mock_batches_and_labels(mock_tfds):
    with mock_tfds(10):
        images, labels = _first(data.images("cifar10", batch_size=8, with_labels=True))
        unshuffled = _np(_first(data.images("cifar10", batch_size=8, shuffle=False)))
        raw = next(iter(tfds.as_numpy(tfds.builder("cifar10").as_dataset(split="train").batch(8))))
    assert images.shape == (8, 32, 32, 3) and images.dtype == tf.float32
    assert labels.shape == (8,) and labels.dtype == tf.int32
    assert _np(images).min() >= -1.0 and _np(images).max() <= 1.0
    assert _np(labels).min() >= 0 and _np(labels).max() <= 9
    # No resize for 32x32: exactly the raw pixels mapped to [-1, 1].
    assert unshuffled.shape == (8, 32, 32, 3) and unshuffled.dtype == np.float32
    np.testing.assert_allclose(unshuffled, raw["image"].astype(np.float32) / 127.5 - 1.0, atol=1e-6)


def test_celeb_a_with_labels_is_a_clear_error(mock_tfds):
    with mock_tfds(2), pytest.raises(ValueError, match="label"):
        data.images("celeb_a", batch_size=2, with_labels=True)


# --------------------------------------------------------------------------- preprocess_image


CELEB_A = data.IMAGE_DATASETS["celeb_a"]
MNIST = data.IMAGE_DATASETS["mnist"]


def test_preprocess_celeb_a_centre_crop_white():
    out = _np(data.preprocess_image(_celeb_a_like(255, 0), CELEB_A))
    assert out.shape == (64, 64, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, 1.0, atol=1e-3)


def test_preprocess_celeb_a_border_is_discarded():
    # The complement: white everywhere except the crop box -> nothing white may leak in.
    out = _np(data.preprocess_image(_celeb_a_like(0, 255), CELEB_A))
    np.testing.assert_allclose(out, -1.0, atol=1e-3)


def test_preprocess_celeb_a_keeps_orientation():
    image = _celeb_a_like(0, 0)
    top, left = (218 - 140) // 2, (178 - 140) // 2
    image[top : top + 70, left : left + 140] = 255  # upper half of the crop box white
    out = _np(data.preprocess_image(image, CELEB_A))
    np.testing.assert_allclose(out[:28], 1.0, atol=1e-3)
    np.testing.assert_allclose(out[36:], -1.0, atol=1e-3)


def test_preprocess_celeb_a_downscale_is_antialiased():
    # 1-pixel black/white stripes in the crop box: an antialiased 140 -> 64 resize averages
    # them to mid grey; nearest or non-antialiased bilinear would keep (near) pure -1/1 pixels.
    image = _celeb_a_like(0, 0)
    image[:, ::2] = 255
    out = _np(data.preprocess_image(image, CELEB_A))
    assert out.shape == (64, 64, 3)
    assert np.abs(out).max() < 0.35


@pytest.mark.parametrize("spec,shape", [(CELEB_A, (218, 178, 3)), (MNIST, (28, 28, 1))])
@pytest.mark.parametrize("value_range", [(-1.0, 1.0), (0.0, 1.0)])
def test_preprocess_constant_grey(spec, shape, value_range):
    low, high = value_range
    out = _np(data.preprocess_image(np.full(shape, 128, np.uint8), spec, value_range))
    assert out.shape == spec.image_shape and out.dtype == np.float32
    np.testing.assert_allclose(out, low + 128 / 255 * (high - low), atol=1e-5)
    if value_range == (-1.0, 1.0):
        np.testing.assert_allclose(out, 128 / 127.5 - 1.0, atol=1e-5)  # 0.0039...


# --------------------------------------------------------------------------- resolve_manual_dir


def test_resolve_parameter_wins_over_env(tmp_path, monkeypatch):
    env_root = tmp_path / "env"
    (env_root / "mnist").mkdir(parents=True)
    explicit = tmp_path / "explicit"
    explicit.mkdir()
    monkeypatch.setenv(ENV, str(env_root))
    assert data.resolve_manual_dir("mnist", explicit) == str(explicit)
    assert data.resolve_manual_dir("mnist", str(explicit)) == str(explicit)


def test_resolve_env_sub_folder(tmp_path, monkeypatch):
    (tmp_path / "mnist").mkdir()
    monkeypatch.setenv(ENV, str(tmp_path))
    assert data.resolve_manual_dir("mnist") == os.path.join(str(tmp_path), "mnist")


def test_resolve_env_root_without_sub_folder(tmp_path, monkeypatch):
    (tmp_path / "mnist").mkdir()
    monkeypatch.setenv(ENV, str(tmp_path))
    assert data.resolve_manual_dir("cifar10") == str(tmp_path)


@pytest.mark.parametrize("value", [None, ""])
def test_resolve_unset_is_none(monkeypatch, value):
    if value is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, value)
    assert data.resolve_manual_dir("mnist") is None


# --------------------------------------------------------------------------- recipes on mock data


def test_dcgan_celeba_recipe_trains_on_mock_celeb_a(mock_tfds):
    """The recipe-only preset: its untrained model fits its own dataset pipeline."""
    from keras_genai import zoo

    meta = zoo.info("dcgan_celeba")
    model = zoo.load("dcgan_celeba", pretrained=False)
    with mock_tfds(16):
        train = data.images(meta["dataset"]["name"], split=meta["dataset"]["split"], batch_size=8)
        history = model.fit(train, epochs=1, verbose=0)
    assert int(model.g_optimizer.iterations) == 2
    assert np.isfinite(history.history["g_loss"]).all()
    assert model.sample(2, seed=0).shape == (2, 64, 64, 3)


@pytest.mark.parametrize("name", ["dcgan_cifar10", "wgan_gp_cifar10"])
def test_cifar10_recipes_train_on_mock_cifar10(mock_tfds, name):
    from keras_genai import zoo

    meta = zoo.info(name)
    model = zoo.load(name, pretrained=False)
    with mock_tfds(20):
        train = data.images(meta["dataset"]["name"], split=meta["dataset"]["split"], batch_size=10)
        history = model.fit(train, epochs=1, verbose=0)
    assert int(model.g_optimizer.iterations) == 2
    assert np.isfinite(history.history["d_loss"]).all()


def test_vae_celeba_recipe_trains_on_mock_celeb_a(mock_tfds):
    """The recipe-only VAE (discretized logistic likelihood) fits its own pipeline in [-1, 1]."""
    from keras_genai import zoo

    meta = zoo.info("vae_celeba")
    model = zoo.load("vae_celeba", pretrained=False)
    with mock_tfds(16):
        train = data.images(meta["dataset"]["name"], split=meta["dataset"]["split"], batch_size=8,
                            value_range=tuple(meta["dataset"]["value_range"]))
        history = model.fit(train, epochs=1, verbose=0)
    assert int(model.optimizer.iterations) == 2
    assert np.isfinite(history.history["elbo"]).all()
    assert model.sample(2, seed=0).shape == (2, 64, 64, 3)


# ------------------------------------------------------------------ step-keyed streams (resumable)
def _stream(mnist, **kwargs):
    options = dict(split="train[:1000]", batch_size=100, seed=3, data_dir=mnist.data_dir, manual_dir=mnist.manual_dir)
    options.update(kwargs)
    return data.image_stream("mnist", **options)


def test_image_stream_batch_s_depends_on_seed_and_step_only(mnist):
    stream, steps = _stream(mnist, with_labels=True)
    assert steps == 10
    batches = [(_np(x), _np(y)) for (x, y), _ in zip(stream, range(25))]
    later, _ = _stream(mnist, with_labels=True, start_step=13)
    for (x, y), expected in zip(later, batches[13:16]):
        np.testing.assert_array_equal(_np(x), expected[0])
        np.testing.assert_array_equal(_np(y), expected[1])
    first_epoch = np.concatenate([x.reshape(100, -1) for x, _ in batches[:10]])
    assert len(np.unique(first_epoch, axis=0)) == len(np.unique(_np(next(iter(
        data.images("mnist", "train[:1000]", batch_size=1000, shuffle=False, data_dir=mnist.data_dir,
                    manual_dir=mnist.manual_dir)))).reshape(1000, -1), axis=0))  # every image once per epoch
    assert not np.array_equal(batches[0][0], batches[10][0]), "each epoch has its own order"
    other, _ = _stream(mnist, with_labels=True, seed=4)
    assert not np.array_equal(_np(next(iter(other))[0]), batches[0][0])


def test_image_stream_dynamic_binarization_is_step_keyed(mnist):
    stream, _ = _stream(mnist, value_range=(0.0, 1.0), binarize="dynamic")
    first = [_np(x) for x, _ in zip(stream, range(12))]
    assert set(np.unique(first[0])) <= {0.0, 1.0}
    again, _ = _stream(mnist, value_range=(0.0, 1.0), binarize="dynamic", start_step=11)
    np.testing.assert_array_equal(_np(next(iter(again))), first[11])


@pytest.mark.parametrize("kwargs, message", [
    (dict(binarize="fixed"), "fixed binarization is for evaluation"),
    (dict(start_step=-1), "start_step must be an integer >= 0"),
    (dict(start_step=1.5), "start_step must be an integer >= 0"),
    (dict(batch_size=1001), r"batch_size must be in \[1, 1000\]"),
])
def test_image_stream_bad_arguments(mnist, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _stream(mnist, **kwargs)


def test_text_window_stream_is_step_keyed():
    ids = np.arange(500) % 37
    stream, steps = data.text_window_stream(ids, 8, 4, seed=1, windows=40)
    assert steps == 10
    batches = [(_np(t), _np(y)) for (t, y), _ in zip(stream, range(6))]
    np.testing.assert_array_equal(batches[0][0][:, 1:], batches[0][1][:, :-1])  # targets are shifted tokens
    later, _ = data.text_window_stream(ids, 8, 4, seed=1, start_step=4, windows=40)
    np.testing.assert_array_equal(_np(next(iter(later))[0]), batches[4][0])
    with pytest.raises(ValueError, match="start_step must be an integer >= 0"):
        data.text_window_stream(ids, 8, 4, start_step=-2)


def test_splits_larger_than_the_stream_memory_limit_are_refused(mnist, monkeypatch):
    assert data.split_size("mnist", "train[:1000]", mnist.data_dir, mnist.manual_dir) == (1000, 1000 * 28 * 28)
    monkeypatch.setattr(data, "STREAM_MEMORY_LIMIT", 1000 * 28 * 28 - 1)
    with pytest.raises(ValueError, match="more than image_stream keeps in memory.*use data.images"):
        _stream(mnist)


# --------------------------------------------------------------------------- offline, no files


MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
               "t10k-labels-idx1-ubyte.gz")


@pytest.fixture
def network(monkeypatch, tmp_path):
    """Connections ``data`` opens (host, port), answered by ``network.reachable``; TFDS's own
    download step is recorded (``network.prepared``), never run, so no test can download or wait
    minutes for TFDS's retries."""
    state = types.SimpleNamespace(reachable=False, connections=[], prepared=[])

    class Connected:
        def close(self):
            pass

    def create_connection(address, timeout=None, *args, **kwargs):
        state.connections.append(tuple(address))
        if not state.reachable:
            raise OSError(101, "Network is unreachable")
        return Connected()

    def download_and_prepare(self, download_config=None, **kwargs):
        state.prepared.append((self.name, download_config))

    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", download_and_prepare)
    for variable in (ENV, "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "empty_tfds"))
    return state


def test_offline_without_the_files_fails_within_seconds_naming_them(network, tmp_path):
    start = time.monotonic()
    with pytest.raises(FileNotFoundError) as info:
        data.images("mnist", data_dir=str(tmp_path / "tfds"))
    assert time.monotonic() - start < 10
    message = str(info.value)
    for expected in ("KERAS_GENAI_DATA_DIR", "manual_dir", "--manual-dir", "mnist/", "storage.googleapis.com:443",
                     *MNIST_FILES):
        assert expected in message, (expected, message)
    assert network.connections == [("storage.googleapis.com", 443)] and network.prepared == []


def test_offline_text_names_its_file_and_folder(network, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"file input\.txt .*KERAS_GENAI_DATA_DIR to a folder holding "
                                                r"tinyshakespeare/"):
        data.text("tiny_shakespeare", data_dir=str(tmp_path / "tfds"))
    assert network.prepared == []


def test_offline_with_an_incomplete_manual_dir_names_the_missing_file(network, tmp_path):
    manual = tmp_path / "mnist"
    manual.mkdir()
    for name in MNIST_FILES[1:]:
        (manual / name).write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=f"train-images-idx3-ubyte.gz missing from {manual}"):
        data.builder("mnist", data_dir=str(tmp_path / "tfds"), manual_dir=manual)
    assert network.prepared == []


def test_complete_manual_dir_and_prepared_datasets_need_no_network(network, tmp_path):
    manual = tmp_path / "mnist"
    manual.mkdir()
    for name in MNIST_FILES:
        (manual / name).write_bytes(b"")
    data.builder("mnist", data_dir=str(tmp_path / "tfds"), manual_dir=manual)
    assert os.fspath(network.prepared[-1][1].manual_dir) == str(manual)
    prepared = tfds.builder("mnist", data_dir=str(tmp_path / "prepared"))
    os.makedirs(prepared.data_dir)  # what TFDS checks: the version folder exists
    data.builder("mnist", data_dir=str(tmp_path / "prepared"))
    assert network.connections == [] and len(network.prepared) == 2


def test_online_the_download_goes_ahead_through_the_configured_proxy(network, tmp_path, monkeypatch):
    network.reachable = True
    data.builder("mnist", data_dir=str(tmp_path / "tfds"))
    assert network.connections == [("storage.googleapis.com", 443)] and network.prepared == [("mnist", None)]
    monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
    data.builder("mnist", data_dir=str(tmp_path / "tfds"))
    assert network.connections[-1] == ("proxy.internal", 3128) and len(network.prepared) == 2


def test_a_prepared_mnist_loads_without_any_connection(mnist, network):
    images = _first(data.images("mnist", split="test", batch_size=4, data_dir=mnist.data_dir))
    assert images.shape == (4, 28, 28, 1) and network.connections == []
