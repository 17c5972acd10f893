"""Training callbacks: sample grids, TensorBoard images, and a resumable standard set."""

import os

import keras
import tensorflow as tf

from keras_genai import plot


class SampleGrid(keras.callbacks.Callback):
    """Saves a PNG grid of samples from the same fixed noise after every ``every`` epochs.

    Files are ``<directory>/epoch_0001.png``, ... The model needs ``preview(n, seed)``
    (conditional models show one class per column).
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

    They go to ``<log_dir>/samples`` beside the ``train`` scalars of ``keras.callbacks.TensorBoard``.
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
            tf.summary.image("samples", tf.cast(images, tf.float32) / 255.0, step=epoch + 1, max_outputs=self.num_samples)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def standard(workdir, samples_every=1, tensorboard=True):
    """The callbacks a long run wants, all under ``workdir``:

    - ``backup/``: ``keras.callbacks.BackupAndRestore`` (an interrupted ``fit`` with the same
      workdir resumes from the last finished epoch, optimizer state included);
    - ``checkpoints/last.keras``: the full model after each epoch (``keras.saving.load_model``);
    - ``samples/epoch_XXXX.png``: sample grids from fixed noise;
    - ``logs/``: TensorBoard scalars and sample images.
    """
    workdir = os.fspath(workdir)
    os.makedirs(os.path.join(workdir, "checkpoints"), exist_ok=True)
    callbacks = [
        keras.callbacks.BackupAndRestore(os.path.join(workdir, "backup")),
        keras.callbacks.ModelCheckpoint(os.path.join(workdir, "checkpoints", "last.keras")),
        SampleGrid(os.path.join(workdir, "samples"), every=samples_every),
    ]
    if tensorboard:
        log_dir = os.path.join(workdir, "logs")
        callbacks += [keras.callbacks.TensorBoard(log_dir), TensorBoardImages(log_dir)]
    return callbacks
