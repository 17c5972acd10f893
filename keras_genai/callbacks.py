"""Training callbacks: sample grids, TensorBoard images, a resumable standard set, a workdir lock."""

import contextlib
import json
import math
import os
import shlex
import shutil
import sys
import time
import warnings
import weakref

import keras
import numpy as np
import tensorflow as tf

from keras_genai import plot
from keras_genai.zoo.remote import sha256_of


class SampleGrid(keras.callbacks.Callback):
    """Saves a PNG grid of samples from the same fixed noise after every ``every`` epochs.

    Files are ``<directory>/epoch_0001.png``, ... The model needs ``preview(n, seed)``
    (conditional models show one class per column).

    Example:

    ```python
    import numpy as np
    import keras_genai

    gan = keras_genai.models.dcgan((28, 28, 1), latent_dim=8, base_filters=8, seed=0)
    gan.compile()
    images = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    grid = keras_genai.callbacks.SampleGrid("run/samples", num_samples=16, seed=0, every=2)
    gan.fit(images, batch_size=16, epochs=2, callbacks=[grid])  # writes run/samples/epoch_0002.png
    ```
    """

    def __init__(self, directory, num_samples=64, seed=0, every=1):
        super().__init__()
        self.directory = os.fspath(directory)
        self.num_samples = num_samples
        self.seed = seed
        self.every = every

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        os.makedirs(self.directory, exist_ok=True)
        images, columns = self.model.preview(self.num_samples, seed=self.seed)
        path = os.path.join(self.directory, f"epoch_{epoch + 1:04d}.png")
        plot.save_grid(images, path, columns=columns, title=f"epoch {epoch + 1}")


class TensorBoardImages(keras.callbacks.Callback):
    """Writes sample images (fixed noise) as TensorBoard image summaries each epoch.

    They go to ``<log_dir>/samples`` beside the ``train`` scalars of ``keras.callbacks.TensorBoard``,
    at the same step: the epoch, counted from 0 as Keras counts its epoch scalars.

    Example:

    ```python
    import numpy as np
    import keras
    import keras_genai

    vae = keras_genai.models.unconditional_vae(latent_dim=8, width=32, seed=0)
    vae.compile()
    images = (np.random.default_rng(0).uniform(size=(32, 28, 28, 1)) > 0.5).astype("float32")
    callbacks = [keras.callbacks.TensorBoard("run/logs"), keras_genai.callbacks.TensorBoardImages("run/logs")]
    vae.fit(images, batch_size=16, epochs=2, callbacks=callbacks)  # then: tensorboard --logdir run/logs
    ```
    """

    def __init__(self, log_dir, num_samples=16, seed=0):
        super().__init__()
        self.log_dir = os.path.join(os.fspath(log_dir), "samples")
        self.num_samples = num_samples
        self.seed = seed
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        images, _ = self.model.preview(self.num_samples, seed=self.seed)
        with self._writer.as_default():
            tf.summary.image("samples", tf.cast(images, tf.float32) / 255.0, step=epoch, max_outputs=self.num_samples)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class TextSamples(keras.callbacks.Callback):
    """Writes ``<folder>/epoch_XXXX.txt``: a language model's continuation of a fixed prompt
    (same prompt and seed every epoch, so files are comparable; a prompt with characters outside
    the vocabulary is replaced by the vocabulary's first character).

    Example:

    ```python
    import numpy as np
    import keras_genai

    gpt = keras_genai.models.GPT(" abcdefgh", context_length=8, num_layers=1, num_heads=1, embed_dim=8, seed=0)
    gpt.compile(optimizer="adam")
    ids = gpt.encode("abc defgh " * 20)
    windows = np.stack([ids[i : i + 9] for i in range(0, len(ids) - 9, 3)])
    samples = keras_genai.callbacks.TextSamples("run/text", prompt="abc", max_new_tokens=20, seed=0)
    gpt.fit(windows[:, :-1], windows[:, 1:], batch_size=16, epochs=1, callbacks=[samples])  # run/text/epoch_0001.txt
    ```
    """

    def __init__(self, folder, prompt="\n", max_new_tokens=300, temperature=0.8, seed=0, every=1):
        super().__init__()
        self.folder = os.fspath(folder)
        self.prompt, self.max_new_tokens, self.temperature, self.seed = prompt, max_new_tokens, temperature, seed
        self.every = every

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        os.makedirs(self.folder, exist_ok=True)
        prompt = self.prompt if set(self.prompt) <= set(self.model.vocabulary) else self.model.vocabulary[0]
        text = self.model.generate(prompt, self.max_new_tokens, temperature=self.temperature, seed=self.seed)
        with open(os.path.join(self.folder, f"epoch_{epoch + 1:04d}.txt"), "w") as f:
            f.write(text)


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training at the first batch (or epoch) whose logs hold a non-finite value (loss,
    metrics). ``failure`` says what became non-finite and where, for example "g_loss became nan
    at batch 3 of epoch 2" (None while nothing did); the caller decides what to keep.

    Example:

    ```python
    import numpy as np
    import keras
    import keras_genai

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(1e30), loss="mse")  # a learning rate that diverges
    stop = keras_genai.callbacks.StopOnNonFinite()
    model.fit(np.ones((64, 1)), np.ones((64, 1)), batch_size=8, epochs=3, callbacks=[stop], verbose=0)
    print(stop.failure)  # for example "loss became inf at batch 2 of epoch 1"
    ```
    """

    def __init__(self):
        super().__init__()
        self.failure = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        _stop_at_non_finite_batch(self, batch, self._epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        bad = _non_finite(logs)
        if bad and self.failure is None:
            self.failure = f"{bad[0]} became {bad[1]} in the logs of epoch {epoch + 1}"
            self.model.stop_training = True


class SafeCheckpoint(keras.callbacks.ModelCheckpoint):
    """``ModelCheckpoint`` (whole model after each epoch) that stops training at the first batch
    whose logs hold a non-finite value (loss, metrics) and then never writes the broken model
    over the last good checkpoint. ``failure`` describes what happened (None if nothing did).

    Each checkpoint is written to a partial file beside the target (``.last.partial.keras`` for
    ``last.keras``) and renamed over it when complete, so a process killed while saving leaves
    the previous checkpoint in place.

    Example:

    ```python
    import numpy as np
    import keras
    import keras_genai

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    checkpoint = keras_genai.callbacks.SafeCheckpoint("run/last.keras")
    model.fit(np.ones((16, 1)), np.ones((16, 1)), epochs=2, callbacks=[checkpoint], verbose=0)
    model = keras.saving.load_model("run/last.keras")  # the last epoch whose logs were all finite
    ```
    """

    def __init__(self, filepath, **kwargs):
        super().__init__(filepath, **kwargs)
        self.failure = None
        self.last_good_epoch = None

    def on_train_batch_end(self, batch, logs=None):
        if _stop_at_non_finite_batch(self, batch, self._current_epoch, logs):
            kept = (f"{self.filepath} still holds the model after epoch {self.last_good_epoch}"
                    if self.last_good_epoch else "no checkpoint had been written yet")
            print(f"\nTraining stopped: {self.failure}. {kept}; lower the learning rate or check the data, "
                  "then continue from it with keras.saving.load_model.", flush=True)
        if self.failure is None:
            super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.failure is not None or _non_finite(logs):
            return
        bad = _non_finite_weights_at_epoch_end(self.model, logs)
        if bad:  # a finite loss does not prove finite weights (e.g. a moving variance that overflowed)
            self.failure = f"the weights {', '.join(bad[:3])} became non-finite in epoch {epoch + 1}"
            self.model.stop_training = True
            return
        super().on_epoch_end(epoch, logs)
        self.last_good_epoch = epoch + 1

    # Keras writes straight onto the target, so a process killed while saving left a cut-off file
    # in place of the last good checkpoint. Here the model goes to a partial file beside it first
    # (same folder, same file system) and is renamed over the target once complete.
    def _get_file_path(self, epoch, batch, logs):
        return _partial_path(super()._get_file_path(epoch, batch, logs))

    def _save_model(self, epoch, batch, logs):
        partial = self._get_file_path(epoch, batch, logs)
        target = super()._get_file_path(epoch, batch, logs)
        try:
            super()._save_model(epoch, batch, logs)  # writes ``partial`` (or nothing: save_best_only)
            if os.path.exists(partial):
                os.replace(partial, target)
        except BaseException:
            if os.path.exists(partial):
                os.remove(partial)
            raise


def _partial_path(path):
    """``dir/.name.partial.ext`` for ``dir/name.ext``, keeping the extension Keras checks
    (``.keras``, ``.weights.h5``, ``.h5``)."""
    folder, name = os.path.split(path)
    for extension in (".weights.h5", ".keras", ".h5"):
        if name.endswith(extension):
            return os.path.join(folder, f".{name[: -len(extension)]}.partial{extension}")
    return os.path.join(folder, f".{name}.partial")


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` after every epoch that also keeps the model's random-number states
    (dropout and other ``SeedGenerator`` streams, which weights files leave out, and the
    families' training-noise seed) and never backs up an epoch that ended with a non-finite loss
    or metric.

    Together with step-keyed training data (``data.image_stream`` / ``data.text_window_stream``
    started at ``backup_epoch(backup_dir) * steps_per_epoch``) and the families' step-keyed noise,
    a run killed at any moment (SIGKILL included) and started again with the same command ends
    with the same weights as a run that was never interrupted; the unfinished epoch is redone.
    Every file is written to a temporary name and renamed; the metadata, written last, records
    the weights' sha256, so a backup interrupted while saving is recognised and the previous
    one (``double_checkpoint``) is used instead.

    Args:
        backup_dir: folder of the backup (kept when ``fit`` failed; removed when it completes,
            unless ``delete_checkpoint=False``: then the caller removes it once the result is
            safely stored, so a run killed after its last epoch can still finish without
            training again).
        start_epoch: the epoch the training data was positioned for; restoring another one
            raises instead of silently training on the wrong batches.
        settings: a JSON-able dict of what positions the data and noise (batch size, steps per
            epoch, seed...), stored with every backup; restoring a backup made with other
            settings raises ``ValueError`` instead of resuming on shifted batches.

    Each backup also records ``training_seconds``: the time spent on the completed epochs by
    this process and the ones it resumed (``backup_training_seconds``), and the logs of the
    epoch it backs up (``backup_logs``).

    Example:

    ```python
    import numpy as np
    import keras
    import keras_genai

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    backup = keras_genai.callbacks.ResumableBackup("run/backup", settings={"batch_size": 8})
    # killed at any point, the same command resumes at the last completed epoch
    model.fit(np.ones((16, 1)), np.ones((16, 1)), batch_size=8, epochs=2, callbacks=[backup], verbose=0)
    ```
    """

    STATES_FILE = "random_states.npz"

    def __init__(self, backup_dir, start_epoch=None, settings=None, delete_checkpoint=True):
        super().__init__(backup_dir, save_freq="epoch", double_checkpoint=True, delete_checkpoint=delete_checkpoint)
        self._epoch_logs = {}
        self.start_epoch = start_epoch
        self.settings = _json_round_trip(settings)
        self._failed = False
        self._seconds_before = 0.0  # training time of the processes before this one (from the backup)
        self._clock_start = time.perf_counter()
        self._states_path = os.path.join(self.backup_dir, self.STATES_FILE)
        self._prev_states_path = self._states_path + ".bkp"

    def _random_states(self):
        weights = {id(w) for w in self.model.weights}
        return [v for v in self.model.variables if id(v) not in weights]

    # ------------------------------------------------------------------ restore
    def _load_model(self):
        self.model._initial_epoch = None  # Keras keeps the value from an earlier fit
        metadata = _read_metadata(self._training_metadata_path)  # OSError -> Keras uses the .bkp files
        if metadata is not None and os.path.exists(self._weights_path):
            if metadata.get("weights_sha256") not in (None, sha256_of(self._weights_path)):
                raise OSError(f"{self._weights_path} does not match {self._training_metadata_path} "
                              "(the run was stopped while saving)")
        if metadata is not None:
            _check_settings(self.backup_dir, metadata, self.settings)
            self._seconds_before = float(metadata.get("training_seconds", 0.0))
        super()._load_model()
        restored = int(getattr(self.model, "_initial_epoch", None) or 0)
        if self.start_epoch is not None and restored != self.start_epoch:
            raise RuntimeError(f"the training data was positioned for epoch {self.start_epoch} but the backup in "
                               f"{self.backup_dir} restored epoch {restored}; run the same command again")
        if metadata is not None:
            self._restore_random_states(metadata, restored)

    def _restore_random_states(self, metadata, restored):
        for path in (self._states_path, self._prev_states_path):
            if not os.path.exists(path):
                continue
            with np.load(path) as saved:
                if str(saved["weights_sha256"]) != metadata.get("weights_sha256", ""):
                    continue
                variables = self._random_states()
                shapes = [tuple(saved[f"state_{i}"].shape) for i in range(int(saved["count"]))]
                if shapes != [tuple(v.shape) for v in variables]:
                    raise ValueError(f"{path} holds {len(shapes)} random states {shapes}; this model has "
                                     f"{len(variables)} {[tuple(v.shape) for v in variables]}: not the same model")
                for i, variable in enumerate(variables):
                    variable.assign(saved[f"state_{i}"])
                if hasattr(self.model, "_training_seed"):
                    self.model._training_seed = int(saved["training_seed"])
                return
        warnings.warn(f"{self.backup_dir} has no random states for epoch {restored}: random streams (dropout) "
                      "restart, so the resumed run will not match an uninterrupted one bit for bit")

    # ------------------------------------------------------------------ save
    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        if _read_metadata(self._training_metadata_path, quiet=True) is not None:  # keep the last good set
            for source, target in ((self._weights_path, self._prev_weights_path),
                                   (self._states_path, self._prev_states_path),
                                   (self._training_metadata_path, self._prev_training_metadata_path)):
                if os.path.exists(source):
                    _copy_atomically(source, target)
        staging = self._weights_path[: -len(".weights.h5")] + ".staging.weights.h5"
        self.model.save_weights(staging, overwrite=True)
        os.replace(staging, self._weights_path)
        digest = sha256_of(self._weights_path)
        states = {f"state_{i}": np.asarray(v.numpy()) for i, v in enumerate(self._random_states())}
        with open(self._states_path + ".tmp", "wb") as f:
            np.savez(f, weights_sha256=np.array(digest), count=np.array(len(states)),
                     training_seed=np.array(getattr(self.model, "_training_seed", 0) or 0, np.int64), **states)
        os.replace(self._states_path + ".tmp", self._states_path)
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen, "weights_sha256": digest,
                    "settings": self.settings, "logs": self._epoch_logs,
                    "training_seconds": self._seconds_before + time.perf_counter() - self._clock_start}
        with open(self._training_metadata_path + ".tmp", "w") as f:
            json.dump(metadata, f)
        os.replace(self._training_metadata_path + ".tmp", self._training_metadata_path)  # commit

    def on_train_begin(self, logs=None):
        self._clock_start = time.perf_counter()
        self._seconds_before = 0.0  # set from the backup, if one is restored
        super().on_train_begin(logs)

    def on_train_batch_end(self, batch, logs=None):
        if _non_finite(logs):
            self._failed = True
        super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self._failed or _non_finite(logs) or _non_finite_weights_at_epoch_end(self.model, logs):
            self._failed = True
            self.model.stop_training = True
            return
        self._epoch_logs = _finite_numbers(logs)
        super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        if not self._failed:
            super().on_train_end(logs)


def _copy_atomically(source, target):
    shutil.copyfile(source, target + ".tmp")
    os.replace(target + ".tmp", target)


def _read_metadata(path, quiet=False):
    """The backup's metadata dict, None if there is none; OSError if it is unreadable."""
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            metadata = json.load(f)
        int(metadata["epoch"])
        return metadata
    except (ValueError, KeyError, TypeError) as error:
        if quiet:
            return None
        raise OSError(f"{path} is not a backup's metadata ({error})") from error


def backup_epoch(backup_dir, settings=None):
    """The epoch a ``ResumableBackup`` folder will resume at (0 when there is none): that of its
    last complete backup, or of the previous one when the last was interrupted while saving.

    ``settings``: those the resumed run will use; ``ValueError`` if the backup was made with
    others (see ``ResumableBackup``)."""
    metadata = _resumable_metadata(backup_dir)
    if metadata is None:
        return 0
    _check_settings(os.fspath(backup_dir), metadata, _json_round_trip(settings))
    return int(metadata["epoch"])


def backup_training_seconds(backup_dir):
    """Seconds of training (completed epochs, every process so far) recorded with the backup
    that ``backup_epoch`` resumes from: 0.0 when there is no backup, None when the backup does
    not say (made by an older version)."""
    metadata = _resumable_metadata(backup_dir)
    if metadata is None:
        return 0.0
    seconds = metadata.get("training_seconds")
    return None if seconds is None else float(seconds)


def backup_logs(backup_dir):
    """The Keras logs ({name: float}) of the epoch that ``backup_epoch`` resumes from: {} when
    there is no backup or it does not say (made by an older version)."""
    metadata = _resumable_metadata(backup_dir)
    return dict((metadata or {}).get("logs") or {})


def _resumable_metadata(backup_dir):
    """The metadata of the backup a resumed run restores (the last one whose weights match
    it, else the previous one), None when there is none."""
    backup_dir = os.fspath(backup_dir)
    for name in ("training_metadata.json", "training_metadata.json.bkp"):
        metadata = _read_metadata(os.path.join(backup_dir, name), quiet=True)
        weights = os.path.join(backup_dir, "latest.weights.h5" + (".bkp" if name.endswith(".bkp") else ""))
        if metadata is not None and os.path.exists(weights) and \
                metadata.get("weights_sha256") in (None, sha256_of(weights)):
            return metadata
    return None


def _json_round_trip(settings):
    """``settings`` as they will read back from the metadata file (tuples become lists)."""
    return None if settings is None else json.loads(json.dumps(settings))


def _check_settings(backup_dir, metadata, settings):
    saved = metadata.get("settings")
    if settings is None or saved is None:
        return
    # A setting missing on one side (a backup from an older version) counts as None.
    changed = ", ".join(f"{key} {saved.get(key)!r} -> {settings.get(key)!r}"
                        for key in sorted(set(saved) | set(settings)) if saved.get(key) != settings.get(key))
    if not changed:
        return
    raise ValueError(f"{backup_dir} holds an interrupted run made with other settings ({changed}); resuming it "
                     "would train on shifted batches. Rerun with the same settings, or use another workdir "
                     "(or delete the backup folder) to start afresh")


def _finite_numbers(logs):
    """The finite numbers of Keras logs as plain floats (JSON-able)."""
    numbers = {}
    for name, value in (logs or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            numbers[name] = number
    return numbers


def _non_finite(logs):
    """(name, value) pairs of the non-finite numbers in Keras logs."""
    bad = []
    for name, value in (logs or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(number):
            bad.append((name, number))
    return bad[0] if bad else None


def _stop_at_non_finite_batch(callback, batch, epoch, logs):
    """At the first batch whose logs hold a non-finite value: sets ``callback.failure`` (for example
    "g_loss became nan at batch 3 of epoch 2"), stops training and returns True; False otherwise."""
    bad = _non_finite(logs)
    if not bad or callback.failure is not None:
        return False
    callback.failure = f"{bad[0]} became {bad[1]} at batch {batch + 1} of epoch {epoch + 1}"
    callback.model.stop_training = True
    return True


def non_finite_weights(model):
    """Paths of the model's floating-point weights that hold NaN or infinity (empty when all are finite)."""
    return [w.path for w in model.weights
            if "float" in str(w.dtype) and not np.isfinite(np.asarray(w.numpy(), np.float64)).all()]


# The answer of the last epoch end: (the model, weakly; the logs dict of that epoch end; the answer).
_last_weights_check = [None, None, None]


def _non_finite_weights_at_epoch_end(model, logs):
    """``non_finite_weights(model)`` once per epoch: ``fit`` hands one logs dict to every callback at an
    epoch's end, so the second callback to ask (``SafeCheckpoint`` after ``ResumableBackup``) gets
    the first one's answer. The dict is held until the next check, so its id cannot come back
    for another epoch."""
    model_ref, checked_logs, broken = _last_weights_check
    if logs is not None and checked_logs is logs and model_ref is not None and model_ref() is model:
        return broken
    broken = non_finite_weights(model)
    _last_weights_check[:] = [weakref.ref(model), logs, broken]
    return broken


class ModelSamples(keras.callbacks.Callback):
    """The sample callbacks of whichever model ``fit`` trains: its ``training_callbacks(samples_dir,
    log_dir, every)`` (``keras_genai.models.GenerativeModel``; a sample grid for an image model,
    text for a language model), made when ``fit`` hands over the model; none for a model outside
    the contract.

    Example:

    ```python
    import numpy as np
    import keras_genai

    gan = keras_genai.models.dcgan((28, 28, 1), latent_dim=8, base_filters=8, seed=0)
    gan.compile()
    images = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    gan.fit(images, batch_size=16, epochs=1, callbacks=[keras_genai.callbacks.ModelSamples("run/samples")])
    # run/samples/epoch_0001.png
    ```
    """

    def __init__(self, samples_dir, log_dir=None, every=1):
        super().__init__()
        self.samples_dir, self.log_dir, self.every = os.fspath(samples_dir), log_dir, every
        self.callbacks = []

    def made_for(self, model):
        """The callbacks ``model`` shows its training with (a list; [] outside the contract)."""
        from keras_genai.models.base import GenerativeModel

        if not isinstance(model, GenerativeModel):
            return []
        return list(model.training_callbacks(self.samples_dir, self.log_dir, self.every))

    def set_model(self, model):
        super().set_model(model)
        self.callbacks = self.made_for(model)
        for callback in self.callbacks:
            callback.set_model(model)
            if self.params:
                callback.set_params(self.params)

    def set_params(self, params):
        super().set_params(params)
        for callback in self.callbacks:
            callback.set_params(params)


def _forward(hook):
    def forwarded(self, *args, **kwargs):
        for callback in self.callbacks:
            getattr(callback, hook)(*args, **kwargs)

    forwarded.__name__ = hook
    return forwarded


for _hook in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
              "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
              "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end"):
    setattr(ModelSamples, _hook, _forward(_hook))
del _hook


def standard(workdir, samples_every=1, tensorboard=True, start_epoch=None, settings=None, keep_backup=False,
             model=None):
    """The callbacks a long run wants, all under ``workdir``:

    - ``backup/``: ``ResumableBackup`` (an interrupted ``fit`` with the same workdir resumes
      from the last finished epoch, optimizer and random states included; ``start_epoch``: the
      epoch step-keyed training data was positioned for; ``settings``: what positions the data,
      checked on resume; see ``ResumableBackup``). A completed ``fit`` removes it, unless
      ``keep_backup``: then the caller removes it after storing the result;
    - ``checkpoints/last.keras``: the full model after each epoch (``keras.saving.load_model``);
      a non-finite loss stops training and leaves the last good one in place (``SafeCheckpoint``);
    - ``samples/``: what the model shows of its training every ``samples_every`` epochs, its
      ``training_callbacks`` (``GenerativeModel``): for an image model ``epoch_XXXX.png`` grids
      from fixed noise, for a language model ``epoch_XXXX.txt`` from a fixed prompt and seed;
      ``model``: the model the callbacks are for (None: the one ``fit`` trains, ``ModelSamples``);
    - ``logs/``: TensorBoard scalars (and an image model's samples).

    Example:

    ```python
    gan = keras_genai.models.dcgan((28, 28, 1), latent_dim=8, base_filters=8, seed=0)
    gan.compile()
    gan.fit(images, batch_size=16, epochs=3, callbacks=keras_genai.callbacks.standard("run"))
    # interrupted, the same call resumes after the last finished epoch
    ```
    """
    workdir = os.fspath(workdir)
    os.makedirs(os.path.join(workdir, "checkpoints"), exist_ok=True)
    callbacks = [
        ResumableBackup(os.path.join(workdir, "backup"), start_epoch=start_epoch, settings=settings,
                        delete_checkpoint=not keep_backup),
        SafeCheckpoint(os.path.join(workdir, "checkpoints", "last.keras")),
    ]
    log_dir = os.path.join(workdir, "logs") if tensorboard else None
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir))
    samples_dir = os.path.join(workdir, "samples")
    if model is None:
        callbacks.append(ModelSamples(samples_dir, log_dir, samples_every))
    else:
        callbacks += ModelSamples(samples_dir, log_dir, samples_every).made_for(model)
    return callbacks


LOCK_FILE = ".lock"


@contextlib.contextmanager
def locked_workdir(workdir, command=None):
    """Holds ``workdir`` for one run: an exclusive, non-blocking ``fcntl.flock`` on
    ``<workdir>/.lock`` while the ``with`` block runs, with this process's pid, start time and
    ``command`` (default: ``sys.argv``) written into the file. The lock belongs to the open file,
    so the system releases it when the process ends, however it ends (a ``kill -9`` included).
    When the block ends the lock file is removed (still locked, and only if it is the file this
    run locked), so a finished run leaves no ``.lock`` behind; a killed one leaves it for the
    next run to lock again.

    Raises ``ValueError`` naming the other run (pid, command, start time) when another process
    holds the lock: two runs on one workdir would write the same backup and checkpoint files.
    """
    workdir = os.fspath(workdir)
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, LOCK_FILE)
    descriptor = _lock(path, workdir)
    try:
        holder = {"pid": os.getpid(), "command": command or " ".join(shlex.quote(a) for a in sys.argv),
                  "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, (json.dumps(holder) + "\n").encode(), 0)
        try:
            yield path
        finally:
            if _is_file_at(descriptor, path):
                os.remove(path)  # while locked: a run waiting on this file finds it gone and locks a new one
            else:
                os.ftruncate(descriptor, 0)
    finally:
        os.close(descriptor)  # releases the lock


def _lock(path, workdir):
    """An open descriptor of ``path`` holding its exclusive lock; ``ValueError`` when another run holds it.

    A lock won on a file that is no longer at ``path`` (the run before removed it on its way out,
    after this one had opened it) is worth nothing: the file now at ``path`` is locked instead."""
    import fcntl  # POSIX only

    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise ValueError(f"{workdir} is in use by another run ({_lock_holder(path)}); wait for it to end, "
                             "or use another workdir (--workdir)") from None
        except BaseException:
            os.close(descriptor)
            raise
        if _is_file_at(descriptor, path):
            return descriptor
        os.close(descriptor)


def _is_file_at(descriptor, path):
    """Whether the open file ``descriptor`` is the file at ``path`` (same device and inode)."""
    try:
        at_path = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(descriptor)
    return (held.st_dev, held.st_ino) == (at_path.st_dev, at_path.st_ino)


def _lock_holder(path):
    """The run holding a lock, as its lock file describes it: pid, command, start time."""
    try:
        with open(path) as f:
            holder = json.load(f)
        return f"pid {holder['pid']}, command {holder['command']!r}, started {holder['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return f"its lock file {path} does not say which; it may be starting"
