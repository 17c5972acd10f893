"""Image input pipelines through TensorFlow Datasets.

On a machine with internet nothing needs to be set: TFDS downloads and prepares the dataset.
Offline, put the dataset's original archive files (same names as the TFDS download URLs) in a
folder and pass it as ``manual_dir``, or set ``KERAS_GENAI_DATA_DIR`` to a folder holding one
sub-folder per dataset (``$KERAS_GENAI_DATA_DIR/mnist/train-images-idx3-ubyte.gz`` ...).
Prepared datasets go to ``data_dir`` (default: TFDS's, ``~/tensorflow_datasets`` or
``$TFDS_DATA_DIR``).
"""

import dataclasses
import os
import socket
import threading
import urllib.parse
import urllib.request

import numpy as np
import tensorflow as tf

DATA_DIR_ENV = "KERAS_GENAI_DATA_DIR"
# Seconds to wait for a connection to a download host (or its proxy) before an unprepared dataset
# whose files are not in the offline folder is reported as unavailable (TFDS itself retries for minutes).
CONNECT_TIMEOUT_S = 5.0


@dataclasses.dataclass(frozen=True)
class ImageDataset:
    """How one TFDS image dataset becomes model input."""

    tfds_name: str
    image_shape: tuple
    num_classes: int
    center_crop: int | None = None  # square crop around the centre before resizing


IMAGE_DATASETS = {
    "mnist": ImageDataset("mnist", (28, 28, 1), 10),
    "fashion_mnist": ImageDataset("fashion_mnist", (28, 28, 1), 10),
    "cifar10": ImageDataset("cifar10", (32, 32, 3), 10),
    # CelebA (218x178): the usual 140x140 face crop, then 64x64 with antialiasing.
    "celeb_a": ImageDataset("celeb_a", (64, 64, 3), 0, center_crop=140),
}


def resolve_manual_dir(name, manual_dir=None):
    """The folder TFDS should read ``name``'s archives from, or None to download them.

    ``manual_dir`` wins; else ``$KERAS_GENAI_DATA_DIR/<name>`` if it exists, else
    ``$KERAS_GENAI_DATA_DIR`` itself.
    """
    if manual_dir is not None:
        manual_dir = os.fspath(manual_dir)
        if not os.path.isdir(manual_dir):
            raise FileNotFoundError(f"manual_dir {manual_dir!r} is not a folder")
        return manual_dir
    root = os.environ.get(DATA_DIR_ENV)
    if not root:
        return None
    if not os.path.isdir(root):
        raise FileNotFoundError(f"${DATA_DIR_ENV}={root!r} is not a folder")
    candidate = os.path.join(root, name)
    return candidate if os.path.isdir(candidate) else root


def builder(name, data_dir=None, manual_dir=None):
    """A prepared ``tfds`` builder for ``name`` (downloads, or reads ``manual_dir`` offline)."""
    import tensorflow_datasets as tfds

    tfds_builder = tfds.builder(name, data_dir=data_dir)
    manual = resolve_manual_dir(name, manual_dir)
    _check_files_or_network(name, tfds_builder, manual)
    download_config = tfds.download.DownloadConfig(manual_dir=manual) if manual else None
    tfds_builder.download_and_prepare(download_config=download_config)
    return tfds_builder


def _check_files_or_network(name, tfds_builder, manual):
    """Raises ``FileNotFoundError`` within seconds when ``tfds_builder`` (not prepared yet) still
    has files to download that are not in the folder ``manual`` and their host (or proxy) does
    not answer within ``CONNECT_TIMEOUT_S``. Prepared datasets are not checked; nor are builders
    that do not list their files (TFDS then downloads, or fails, as usual)."""
    builder_dir = getattr(tfds_builder, "data_dir", None)
    if builder_dir is None or tf.io.gfile.exists(os.fspath(builder_dir)):
        return
    files = {url: info.filename or os.path.basename(urllib.parse.urlparse(url).path)
             for url, info in (getattr(tfds_builder, "url_infos", None) or {}).items()}
    missing = {url: file for url, file in files.items()
               if not (manual and os.path.isfile(os.path.join(manual, file)))}
    if not missing:
        return
    targets = sorted({_connection_target(url) for url in missing})
    unreachable = [f"{host}:{port} ({problem})" for host, port in targets
                   if (problem := _connection_problem(host, port)) is not None]
    if not unreachable:
        return
    folder = name.replace("_", "") if name in TEXT_DATASETS else name
    names = list(dict.fromkeys(files.values()))
    files_are, them = (f"file {names[0]}", "it") if len(names) == 1 else (f"files {', '.join(names)}", "them")
    absent = f"; {', '.join(missing.values())} missing from {manual}" if manual else ""
    raise FileNotFoundError(
        f"{name} is not prepared in {builder_dir} and cannot be downloaded (no connection to "
        f"{', '.join(unreachable)}). Offline, put its original {files_are} in a folder and pass manual_dir=... "
        f"(CLI: --manual-dir), or set ${DATA_DIR_ENV} to a folder holding {folder}/ with {them}{absent}.")


def _connection_problem(host, port):
    """None when a TCP connection to ``host:port`` opens within ``CONNECT_TIMEOUT_S``, the name
    lookup included (it runs in a daemon thread: a resolver that hangs cannot hold us up), else why not."""
    outcome = []

    def connect():
        try:
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
            outcome.append(None)
        except OSError as error:
            outcome.append(f"{type(error).__name__}: {error}")

    thread = threading.Thread(target=connect, name=f"keras-genai-probe-{host}", daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT_S)
    return outcome[0] if outcome else f"no answer within {CONNECT_TIMEOUT_S:g} s"


def _connection_target(url):
    """(host, port) that downloading ``url`` connects to first: the proxy from the environment
    (``https_proxy`` ...; requests uses the same) unless ``no_proxy`` exempts the host, else the server."""
    parts = urllib.parse.urlsplit(url)
    default_port = {"https": 443, "http": 80, "ftp": 21}.get(parts.scheme, 443)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        proxy_parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return proxy_parts.hostname, proxy_parts.port or {"https": 443}.get(proxy_parts.scheme, 80)
    return parts.hostname, parts.port or default_port


def image_spec(name):
    """The ``ImageDataset`` entry for ``name``, with a clear error for unknown names."""
    if name not in IMAGE_DATASETS:
        raise ValueError(f"unknown image dataset {name!r}; expected one of {sorted(IMAGE_DATASETS)}")
    return IMAGE_DATASETS[name]


def preprocess_image(image, spec, value_range=(-1.0, 1.0)):
    """uint8 image (H, W, C) -> float32 ``spec.image_shape`` scaled to ``value_range``."""
    image = tf.convert_to_tensor(image)
    if spec.center_crop:
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        size = spec.center_crop
        image = tf.image.crop_to_bounding_box(image, (height - size) // 2, (width - size) // 2, size, size)
    image = tf.cast(image, tf.float32)
    target = spec.image_shape[:2]
    if spec.center_crop or image.shape[:2] != target:
        image = tf.image.resize(image, target, method="bilinear", antialias=True)
    low, high = value_range
    image = image / 255.0 * (high - low) + low
    return tf.ensure_shape(tf.clip_by_value(image, low, high), spec.image_shape)


def images(
    name,
    split="train",
    batch_size=128,
    shuffle=True,
    seed=0,
    with_labels=False,
    value_range=(-1.0, 1.0),
    drop_remainder=True,
    data_dir=None,
    manual_dir=None,
    binarize=None,
):
    """A batched image ``tf.data.Dataset`` from TFDS.

    Args:
        name: one of ``IMAGE_DATASETS`` (mnist, fashion_mnist, cifar10, celeb_a).
        split: a TFDS split string ("train", "test", "train[:10%]", ...).
        batch_size: images per batch.
        shuffle, seed: seeded shuffling (same seed -> same order).
        with_labels: also yield int32 labels (batch,).
        value_range: (low, high) of the float pixels; (-1, 1) matches tanh generators.
        drop_remainder: drop the last partial batch (keeps batch shapes static).
        data_dir, manual_dir: see the module docstring.
        binarize: None (grey levels), "dynamic" or "fixed": each pixel becomes ``high`` with
            probability intensity / 255, else ``low`` (use ``value_range=(0, 1)`` for Bernoulli
            VAEs). "dynamic" draws new pixels every epoch (seeded by ``seed``: the same run
            sees the same sequence); "fixed" draws them once per image from ``seed`` and the
            image's position in the stored split, so every pass (and every shuffle) sees the
            same binary images, as for the evaluation of binarized MNIST.
    Returns:
        Dataset of float32 images (batch, H, W, C), or (images, labels) with ``with_labels``.
    """
    spec = image_spec(name)
    if binarize not in BINARIZATIONS:
        raise ValueError(f"binarize must be one of {BINARIZATIONS}, got {binarize!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if with_labels and not spec.num_classes:
        raise ValueError(f"{name!r} has no class labels; use with_labels=False")
    tfds_builder = builder(spec.tfds_name, data_dir=data_dir, manual_dir=manual_dir)
    ds = tfds_builder.as_dataset(split=split, shuffle_files=shuffle, read_config=_read_config(seed))

    def to_example(example, pixel_seed=None):
        image = preprocess_image(example["image"], spec, value_range)
        if pixel_seed is not None:
            image = _binarize(image, pixel_seed, value_range)
        if with_labels:
            return image, tf.cast(example["label"], tf.int32)
        return image

    # No tf.data cache: a partial read (``images(...).take(100)``, the usual first look) would
    # leave it half written, with a warning; the split is decoded as it streams, beside training.
    if binarize == "fixed":  # one seed per image: its position in the stored split
        ds = ds.enumerate().map(lambda i, e: {**e, "pixel_seed": tf.stack([tf.cast(seed, tf.int64), i])})
    if shuffle:
        ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    if binarize == "dynamic":  # fresh seeds every epoch, from a seeded stream
        pairs = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, pairs).map(lambda e, s: {**e, "pixel_seed": s})
    if binarize:
        ds = ds.map(lambda e: to_example(e, e["pixel_seed"]), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


BINARIZATIONS = (None, "dynamic", "fixed")

# Splits up to this many stored bytes are held in memory by ``image_stream`` (MNIST: 47 MB).
STREAM_MEMORY_LIMIT = 2e9
_PIXELS = 0x5EED  # folded into the binarization keys of ``image_stream``


def split_size(name, split="train", data_dir=None, manual_dir=None):
    """(examples, bytes of stored pixels) of an image dataset's split; ``image_stream`` holds
    splits of at most ``STREAM_MEMORY_LIMIT`` bytes in memory."""
    return _split_size(builder(image_spec(name).tfds_name, data_dir=data_dir, manual_dir=manual_dir), split)


def _split_size(tfds_builder, split):
    count = tfds_builder.info.splits[split].num_examples
    return count, count * int(np.prod(tfds_builder.info.features["image"].shape))


def image_stream(name, split="train", batch_size=128, seed=0, start_step=0, with_labels=False,
                 value_range=(-1.0, 1.0), binarize=None, data_dir=None, manual_dir=None):
    """Endless training batches in which batch number ``s`` depends on ``(seed, s)`` alone.

    Data epoch ``e = s // steps_per_epoch`` visits the split in the order of a permutation
    drawn from ``(seed, e)``, ``batch_size`` images per step (each epoch's last partial batch is
    dropped); "dynamic" binarization draws from ``(seed, s)``. A stream started at
    ``start_step`` yields exactly the batches an uninterrupted run sees from that step on, so
    training restored from a checkpoint at step ``s`` continues bit for bit. The split is held in
    memory as stored (uint8), which suits MNIST-sized and CIFAR-sized data, not CelebA.

    Args:
        name, split, with_labels, value_range, data_dir, manual_dir: as in ``images``.
        batch_size: images per step, at most the split's size.
        seed: int; the permutations and binary pixels.
        start_step: int >= 0, the global step of the first batch.
        binarize: None or "dynamic" ("fixed" is for evaluation: use ``images``).
    Returns:
        (dataset, steps_per_epoch): float32 images (batch, H, W, C) in ``value_range`` (or
        (images, labels int32)), and the number of steps in one pass over the split.
    """
    spec = image_spec(name)
    if binarize not in (None, "dynamic"):
        raise ValueError(f"image_stream binarizes with None or 'dynamic', got {binarize!r} "
                         "(fixed binarization is for evaluation: data.images(..., binarize='fixed'))")
    if with_labels and not spec.num_classes:
        raise ValueError(f"{name!r} has no class labels; use with_labels=False")
    if isinstance(start_step, bool) or not isinstance(start_step, (int, np.integer)) or start_step < 0:
        raise ValueError(f"start_step must be an integer >= 0, got {start_step!r}")
    tfds_builder = builder(spec.tfds_name, data_dir=data_dir, manual_dir=manual_dir)
    count, stored = _split_size(tfds_builder, split)
    if stored > STREAM_MEMORY_LIMIT:
        raise ValueError(f"{name}/{split} holds {stored / 1e9:.1f} GB of pixels, more than image_stream keeps in "
                         f"memory ({STREAM_MEMORY_LIMIT / 1e9:.0f} GB); use data.images")
    if not 1 <= batch_size <= count:
        raise ValueError(f"batch_size must be in [1, {count}] for {name}/{split}, got {batch_size}")
    import tensorflow_datasets as tfds

    arrays = tfds.as_numpy(tfds_builder.as_dataset(split=split, batch_size=-1))
    pixels = tf.constant(arrays["image"])
    labels = tf.constant(arrays["label"].astype(np.int32)) if with_labels else None
    steps_per_epoch = count // batch_size

    stored_shape = tuple(tfds_builder.info.features["image"].shape)
    as_is = not spec.center_crop and stored_shape == spec.image_shape  # scaling only: one op per batch
    low, high = value_range

    def preprocess(batch):
        if not as_is:
            return tf.map_fn(lambda image: preprocess_image(image, spec, value_range), batch,
                             fn_output_signature=tf.float32)
        images = tf.cast(batch, tf.float32) / 255.0 * (high - low) + low
        return tf.ensure_shape(tf.clip_by_value(images, low, high), (None, *spec.image_shape))

    def batch_at(step):
        epoch, position = step // steps_per_epoch, step % steps_per_epoch
        order = tf.random.experimental.stateless_shuffle(tf.range(count), seed=tf.stack([seed, -1 - epoch]))
        rows = order[position * batch_size: (position + 1) * batch_size]
        images = preprocess(tf.gather(pixels, rows))
        if binarize:  # a key of its own, apart from the models' (seed, step) noise keys
            key = tf.random.experimental.stateless_fold_in(tf.stack([tf.cast(seed, tf.int64), step]), _PIXELS)
            images = _binarize(images, key, value_range)
        return (images, tf.gather(labels, rows)) if with_labels else images

    ds = tf.data.Dataset.counter(start=int(start_step), dtype=tf.int64).map(batch_at)
    return ds.prefetch(tf.data.AUTOTUNE), steps_per_epoch


def _binarize(image, pixel_seed, value_range):
    """Bernoulli pixels: ``high`` with probability (image - low) / (high - low), else ``low``."""
    low, high = value_range
    probability = (image - low) / (high - low)
    uniform = tf.random.stateless_uniform(tf.shape(image), seed=pixel_seed)
    return tf.where(uniform < probability, tf.cast(high, image.dtype), tf.cast(low, image.dtype))


def _read_config(seed):
    import tensorflow_datasets as tfds

    return tfds.ReadConfig(shuffle_seed=seed)


TEXT_DATASETS = ("tiny_shakespeare",)


def text(name="tiny_shakespeare", split="train", data_dir=None, manual_dir=None):
    """The whole text of one split of a TFDS text dataset, as a str.

    ``tiny_shakespeare`` holds one document per split (train ~1.0M characters, validation and
    test ~55.8k each). Offline, ``manual_dir`` (or ``$KERAS_GENAI_DATA_DIR/tinyshakespeare``)
    holds the original ``input.txt``.
    """
    if name not in TEXT_DATASETS:
        raise ValueError(f"unknown text dataset {name!r}; expected one of {list(TEXT_DATASETS)}")
    manual_dir = manual_dir if manual_dir is not None else _text_manual_dir(name)
    tfds_builder = builder(name, data_dir=data_dir, manual_dir=manual_dir)
    parts = [example["text"] for example in tfds_builder.as_dataset(split=split).as_numpy_iterator()]
    return b"".join(parts).decode("utf-8")


def _text_manual_dir(name):
    root = os.environ.get(DATA_DIR_ENV)
    folder = os.path.join(root, name.replace("_", "")) if root else None
    return folder if folder and os.path.isdir(folder) else None


def vocabulary_of(text):
    """The characters of ``text``, distinct and sorted by code point (a model vocabulary)."""
    return "".join(sorted(set(text)))


def text_windows(ids, sequence_length, batch_size, shuffle=True, seed=0, windows=None):
    """Training or evaluation batches ``(tokens, targets)`` from one long id sequence.

    Args:
        ids: int array (N,) of token ids.
        sequence_length: L, the positions per window.
        batch_size: windows per batch.
        shuffle: True draws ``windows`` random start offsets per epoch (seeded, different each
            epoch); False takes consecutive non-overlapping windows (evaluation: every
            character but the first of each window is predicted once).
        windows: windows per epoch when shuffling (default N // L, about one pass).
    Returns:
        Dataset of int32 (tokens, targets), each (batch, L); targets are tokens shifted by one.
    """
    ids = np.asarray(ids, dtype=np.int32)
    if ids.ndim != 1 or len(ids) < sequence_length + 1:
        raise ValueError(f"need a 1-d id sequence longer than sequence_length={sequence_length}, got shape {ids.shape}")
    if batch_size < 1 or sequence_length < 1:
        raise ValueError(f"batch_size and sequence_length must be >= 1, got {batch_size}, {sequence_length}")
    table = tf.constant(ids)
    last_start = len(ids) - sequence_length - 1
    if shuffle:
        count = windows or len(ids) // sequence_length
        starts = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(count)
        starts = starts.map(lambda r: tf.cast(r % (last_start + 1), tf.int32))
    else:
        starts = tf.data.Dataset.range(0, last_start + 1, sequence_length).map(lambda s: tf.cast(s, tf.int32))

    def window(start):
        chunk = table[start: start + sequence_length + 1]
        return chunk[:-1], chunk[1:]

    ds = starts.map(window, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=shuffle).prefetch(tf.data.AUTOTUNE)


def text_window_stream(ids, sequence_length, batch_size, seed=0, start_step=0, windows=None):
    """Endless training batches of random windows in which batch ``s`` depends on ``(seed, s)``.

    The resumable counterpart of ``text_windows(..., shuffle=True)``: started at ``start_step``
    it yields exactly the batches an uninterrupted run sees from that step on.

    Args:
        ids: int array (N,) of token ids.
        sequence_length, batch_size: as in ``text_windows``.
        seed: int; the window starts.
        start_step: int >= 0, the global step of the first batch.
        windows: windows per epoch (default N // sequence_length); sets ``steps_per_epoch``.
    Returns:
        (dataset of int32 (tokens, targets), each (batch, L); steps_per_epoch = windows // batch_size).
    """
    ids = np.asarray(ids, dtype=np.int32)
    if ids.ndim != 1 or len(ids) < sequence_length + 1:
        raise ValueError(f"need a 1-d id sequence longer than sequence_length={sequence_length}, got shape {ids.shape}")
    if batch_size < 1 or sequence_length < 1:
        raise ValueError(f"batch_size and sequence_length must be >= 1, got {batch_size}, {sequence_length}")
    if isinstance(start_step, bool) or not isinstance(start_step, (int, np.integer)) or start_step < 0:
        raise ValueError(f"start_step must be an integer >= 0, got {start_step!r}")
    table = tf.constant(ids)
    last_start = len(ids) - sequence_length - 1
    steps_per_epoch = max(1, (windows or len(ids) // sequence_length) // batch_size)
    offsets = tf.range(sequence_length + 1)

    def batch_at(step):
        starts = tf.random.stateless_uniform((batch_size,), seed=tf.stack([seed, step]), minval=0,
                                             maxval=last_start + 1, dtype=tf.int32)
        chunks = tf.gather(table, starts[:, None] + offsets[None, :])
        return chunks[:, :-1], chunks[:, 1:]

    ds = tf.data.Dataset.counter(start=int(start_step), dtype=tf.int64).map(batch_at)
    return ds.prefetch(tf.data.AUTOTUNE), steps_per_epoch


def preset_images(dataset, batch_size, seed, with_labels=False, start_epoch=0, steps_per_epoch=None, data_dir=None,
                  manual_dir=None):
    """Training batches of a preset's image dataset: ``(batches, steps per epoch)``, from ``start_epoch``.

    ``dataset`` is a preset's metadata section: ``name``, ``split`` (default "train") and the
    optional pixel options ``value_range`` and ``binarize``. Splits that fit in memory stream
    step-keyed batches (``image_stream``: an interrupted run resumes bit for bit); larger ones
    (CelebA) use ``images``, whose resumed epochs see a new order. ``steps_per_epoch`` defaults
    to the split's size over ``batch_size``.
    """
    name, split = dataset["name"], dataset.get("split", "train")
    count, stored = split_size(name, split, data_dir, manual_dir)
    steps = steps_per_epoch or count // batch_size
    options = dict(split=split, batch_size=batch_size, seed=seed, with_labels=with_labels, data_dir=data_dir,
                   manual_dir=manual_dir)
    if dataset.get("value_range"):
        options["value_range"] = tuple(dataset["value_range"])
    if dataset.get("binarize"):
        options["binarize"] = dataset["binarize"]
    if stored <= STREAM_MEMORY_LIMIT:
        train, _ = image_stream(name, start_step=start_epoch * steps, **options)
        return train, steps
    return images(name, **options).repeat(), steps
