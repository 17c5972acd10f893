import glob
import os
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_genai import callbacks
from keras_genai.models import GPT, Classifier, GenerativeModel, dcgan


def _data(n=32):
    images = -np.ones((n, 28, 28, 1), np.float32)
    images[:, 10:18, 10:18] = 1.0
    return tf.data.Dataset.from_tensor_slices(images).batch(16)


def test_sample_grid_writes_one_png_per_epoch(tiny_gan, tmp_path):
    tiny_gan.fit(_data(), epochs=2, verbose=0, callbacks=[callbacks.SampleGrid(tmp_path, num_samples=9)])
    assert sorted(os.listdir(tmp_path)) == ["epoch_0001.png", "epoch_0002.png"]
    assert open(tmp_path / "epoch_0001.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_tensorboard_images_beside_scalars(tiny_gan, tmp_path):
    cbs = [keras.callbacks.TensorBoard(str(tmp_path)), callbacks.TensorBoardImages(tmp_path, num_samples=4)]
    tiny_gan.fit(_data(), epochs=2, verbose=0, callbacks=cbs)
    events = glob.glob(str(tmp_path / "samples" / "events.*"))
    assert events and glob.glob(str(tmp_path / "train" / "events.*"))
    steps, scalar_steps = [], set()
    for event in tf.compat.v1.train.summary_iterator(events[0]):
        for value in event.summary.value:
            if value.tag == "samples":
                steps.append(event.step)
                assert value.metadata.plugin_data.plugin_name == "images"
    for event in tf.compat.v1.train.summary_iterator(glob.glob(str(tmp_path / "train" / "events.*"))[0]):
        scalar_steps.update(event.step for value in event.summary.value if value.tag.startswith("epoch_"))
    assert steps == sorted(scalar_steps) == [0, 1]  # each epoch's images beside its scalars


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_interrupted_fit_resumes_through_backup_and_restore(tiny_gan, tmp_path):
    import pytest

    standard = callbacks.standard(tmp_path, tensorboard=False)
    with pytest.raises(KeyboardInterrupt):
        tiny_gan.fit(_data(), epochs=4, verbose=0, callbacks=standard + [_Interrupt(1)])
    assert int(tiny_gan.d_optimizer.iterations) == 4
    weights_after_2_epochs = [w.numpy().copy() for w in tiny_gan.generator.weights]

    keras.utils.set_random_seed(1)
    from keras_genai.models import dcgan

    fresh = dcgan((28, 28, 1), latent_dim=8, base_filters=8, seed=0)
    fresh.compile()
    class _WeightsAtStart(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):  # runs after BackupAndRestore restored the state
            self.weights = [w.numpy().copy() for w in self.model.generator.weights]

    at_start = _WeightsAtStart()
    history = fresh.fit(_data(), epochs=4, verbose=0, callbacks=callbacks.standard(tmp_path, tensorboard=False) + [at_start])
    for restored, saved in zip(at_start.weights, weights_after_2_epochs):
        np.testing.assert_array_equal(restored, saved)
    assert len(history.history["d_loss"]) == 2  # epochs 3 and 4 only
    assert int(fresh.d_optimizer.iterations) == 8  # restored 4 steps + 4 new
    assert os.path.isfile(tmp_path / "checkpoints" / "last.keras")
    assert sorted(os.listdir(tmp_path / "samples"))[-1] == "epoch_0004.png"
    assert not os.path.exists(tmp_path / "backup") or not os.listdir(tmp_path / "backup")


class _PoisonAt(keras.callbacks.Callback):
    """Makes the generator's weights NaN before a given batch of a given epoch."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.current, batch) == (self.epoch, self.batch):
            for variable in self.model.generator.trainable_variables:
                variable.assign(tf.fill(variable.shape, np.nan))


def test_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(tiny_gan, tmp_path, capsys):
    path = tmp_path / "last.keras"
    checkpoint = callbacks.SafeCheckpoint(str(path))
    history = tiny_gan.fit(_data(64), epochs=4, verbose=0, callbacks=[_PoisonAt(epoch=1, batch=2), checkpoint])
    assert len(history.history["g_loss"]) == 2  # stopped in the second epoch
    assert checkpoint.failure.endswith("became nan at batch 3 of epoch 2")
    assert checkpoint.last_good_epoch == 1
    restored = keras.saving.load_model(path)
    assert all(np.isfinite(w).all() for w in restored.get_weights())
    assert "still holds the model after epoch 1" in capsys.readouterr().out


def test_non_finite_loss_keeps_the_backup_of_the_last_good_epoch(tiny_gan, tmp_path):
    backup = callbacks.ResumableBackup(str(tmp_path / "backup"))
    tiny_gan.fit(_data(64), epochs=4, verbose=0, callbacks=[_PoisonAt(epoch=1, batch=2), backup])
    assert callbacks.backup_epoch(tmp_path / "backup") == 1  # not removed, not overwritten by epoch 2
    fresh = dcgan((28, 28, 1), latent_dim=8, base_filters=8, seed=0)
    fresh.compile()
    restore = callbacks.ResumableBackup(str(tmp_path / "backup"), start_epoch=1)
    restore.set_model(fresh)
    restore.on_train_begin()
    assert all(np.isfinite(w).all() for w in fresh.get_weights())
    with pytest.raises(RuntimeError, match="positioned for epoch 3 but the backup .* restored epoch 1"):
        wrong = callbacks.ResumableBackup(str(tmp_path / "backup"), start_epoch=3)
        wrong.set_model(fresh)
        wrong.on_train_begin()


class _Snapshots(keras.callbacks.Callback):
    """Generator weights at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.numpy().copy() for w in self.model.generator.weights])


def _restored_weights(backup_dir, start_epoch):
    fresh = dcgan((28, 28, 1), latent_dim=8, base_filters=8, seed=0)
    fresh.compile()
    restore = callbacks.ResumableBackup(str(backup_dir), start_epoch=start_epoch)
    restore.set_model(fresh)
    restore.on_train_begin()
    return [w.numpy() for w in fresh.generator.weights]


@pytest.mark.parametrize("damage", ["weights newer than the metadata", "metadata cut short"])
def test_a_backup_interrupted_while_saving_falls_back_to_the_previous_one(tiny_gan, tmp_path, damage):
    backup_dir = tmp_path / "backup"
    snapshots = _Snapshots()
    with pytest.raises(KeyboardInterrupt):
        tiny_gan.fit(_data(), epochs=4, verbose=0,
                     callbacks=[callbacks.ResumableBackup(str(backup_dir)), snapshots, _Interrupt(1)])
    assert callbacks.backup_epoch(backup_dir) == 2
    if damage == "weights newer than the metadata":  # killed after writing the weights of epoch 3
        other = dcgan((28, 28, 1), latent_dim=8, base_filters=8, seed=5)
        other.compile()
        other.save_weights(str(backup_dir / "latest.weights.h5"))
    else:  # killed while writing the metadata (a plain open("w") leaves it empty)
        (backup_dir / "training_metadata.json").write_text("")
    assert callbacks.backup_epoch(backup_dir) == 1
    for restored, expected in zip(_restored_weights(backup_dir, start_epoch=1), snapshots.weights[0]):
        np.testing.assert_array_equal(restored, expected)


def test_resuming_with_other_settings_is_refused(tiny_gan, tmp_path):
    backup_dir = tmp_path / "backup"
    settings = {"batch_size": 16, "seed": 0, "steps_per_epoch": None}
    with pytest.raises(KeyboardInterrupt):
        tiny_gan.fit(_data(), epochs=4, verbose=0,
                     callbacks=[callbacks.ResumableBackup(str(backup_dir), settings=settings), _Interrupt(1)])
    assert callbacks.backup_epoch(backup_dir, settings) == 2
    assert callbacks.backup_epoch(backup_dir) == 2  # no settings given: nothing to compare
    other = dict(settings, batch_size=32)
    with pytest.raises(ValueError, match=r"batch_size 16 -> 32.*another workdir"):
        callbacks.backup_epoch(backup_dir, other)
    fresh = dcgan((28, 28, 1), latent_dim=8, base_filters=8, seed=0)
    fresh.compile()
    restore = callbacks.ResumableBackup(str(backup_dir), settings=other)
    restore.set_model(fresh)
    with pytest.raises(ValueError, match="batch_size 16 -> 32"):
        restore.on_train_begin()


class _Sleep(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        time.sleep(0.3)


def test_training_time_adds_up_across_resumed_processes(tiny_gan, tmp_path):
    backup_dir = tmp_path / "backup"
    assert callbacks.backup_training_seconds(backup_dir) == 0.0  # nothing to resume
    with pytest.raises(KeyboardInterrupt):
        tiny_gan.fit(_data(), epochs=4, verbose=0,
                     callbacks=[_Sleep(), callbacks.ResumableBackup(str(backup_dir)), _Interrupt(1)])
    first = callbacks.backup_training_seconds(backup_dir)
    assert first >= 0.6  # two completed epochs, each at least 0.3 s
    resumed = callbacks.ResumableBackup(str(backup_dir), start_epoch=2)
    fresh = dcgan((28, 28, 1), latent_dim=8, base_filters=8, seed=0)
    fresh.compile()
    with pytest.raises(KeyboardInterrupt):
        fresh.fit(_data(), epochs=4, verbose=0, callbacks=[_Sleep(), resumed, _Interrupt(2)])
    assert callbacks.backup_epoch(backup_dir) == 3
    assert callbacks.backup_training_seconds(backup_dir) >= first + 0.3


def test_a_model_that_makes_neither_images_nor_text_gets_no_sample_callback(tmp_path):
    classifier = Classifier((8, 8, 1), num_classes=2, feature_dim=4)
    kinds = {type(c) for c in callbacks.standard(tmp_path, model=classifier)}
    assert not kinds & {callbacks.SampleGrid, callbacks.TextSamples, callbacks.TensorBoardImages}
    assert callbacks.ResumableBackup in kinds and callbacks.SafeCheckpoint in kinds


def test_the_model_supplies_its_training_callbacks(tiny_gan, tmp_path):
    shown = [type(c) for c in callbacks.standard(tmp_path, model=tiny_gan)]
    assert shown.count(callbacks.SampleGrid) == 1 and shown.count(callbacks.TensorBoardImages) == 1
    assert callbacks.TensorBoardImages not in [type(c) for c in callbacks.standard(tmp_path, tensorboard=False,
                                                                                  model=tiny_gan)]

    class Marker(keras.callbacks.Callback):
        pass

    class OwnCallbacks(GenerativeModel):  # a family that shows its training its own way
        def training_callbacks(self, samples_dir, log_dir=None, every=1):
            return [Marker()]

    made = [type(c) for c in callbacks.standard(tmp_path, model=OwnCallbacks())]
    assert Marker in made and callbacks.SampleGrid not in made


def test_standard_without_a_model_shows_the_samples_of_the_model_fit_trains(tmp_path):
    """A language model gets text samples, not the image grid it cannot draw."""
    gpt = GPT(" abcdefgh", context_length=8, num_layers=1, num_heads=1, embed_dim=8, seed=0)
    gpt.compile(optimizer="adam")
    ids = gpt.encode("abc defgh " * 8)
    windows = np.stack([ids[i : i + 9] for i in range(0, len(ids) - 9, 3)])
    gpt.fit(windows[:, :-1], windows[:, 1:], batch_size=8, epochs=1, verbose=0,
            callbacks=callbacks.standard(tmp_path, tensorboard=False))
    assert os.listdir(tmp_path / "samples") == ["epoch_0001.txt"]


def test_the_weights_are_checked_once_per_epoch(tiny_gan, tmp_path, monkeypatch):
    checked = []
    check = callbacks.non_finite_weights
    monkeypatch.setattr(callbacks, "non_finite_weights", lambda model: checked.append(model) or check(model))
    tiny_gan.fit(_data(), epochs=2, verbose=0, callbacks=callbacks.standard(tmp_path, tensorboard=False))
    assert len(checked) == 2  # the backup and the checkpoint share each epoch's answer


def test_the_guard_and_the_checkpoint_report_a_non_finite_batch_alike(tiny_gan, tmp_path):
    stop, checkpoint = callbacks.StopOnNonFinite(), callbacks.SafeCheckpoint(str(tmp_path / "last.keras"))
    tiny_gan.fit(_data(64), epochs=3, verbose=0, callbacks=[_PoisonAt(epoch=1, batch=1), stop, checkpoint])
    assert stop.failure == checkpoint.failure and stop.failure.endswith("became nan at batch 2 of epoch 2")


def test_a_finished_run_leaves_no_lock_file(tmp_path):
    workdir = tmp_path / "run"
    with callbacks.locked_workdir(workdir) as path:
        assert os.path.exists(path)
    assert os.listdir(workdir) == []
    with pytest.raises(RuntimeError):
        with callbacks.locked_workdir(workdir):
            raise RuntimeError("the run failed")
    assert os.listdir(workdir) == []


def test_a_lock_file_that_is_not_ours_is_left_in_place(tmp_path):
    workdir = tmp_path / "run"
    with callbacks.locked_workdir(workdir) as path:
        os.remove(path)  # removed by hand, and another run made its own
        with open(path, "w") as f:
            f.write("someone else's")
    assert open(path).read() == "someone else's"


def test_a_lock_won_on_a_removed_lock_file_is_taken_again_on_the_new_one(tmp_path, monkeypatch):
    """Opened just before the run holding it removed it: the lock this run then wins is on a file
    no longer in the workdir, where a third run now holds the new one."""
    import fcntl

    workdir = tmp_path / "run"
    workdir.mkdir()
    path = str(workdir / callbacks.LOCK_FILE)
    flock, third = fcntl.flock, []

    def a_third_run_locks_a_new_file_first(descriptor, operation):
        if not third:
            os.remove(path)
            third.append(os.open(path, os.O_RDWR | os.O_CREAT))
            flock(third[0], fcntl.LOCK_EX | fcntl.LOCK_NB)
        return flock(descriptor, operation)

    monkeypatch.setattr(fcntl, "flock", a_third_run_locks_a_new_file_first)
    try:
        with pytest.raises(ValueError, match="is in use by another run"):
            with callbacks.locked_workdir(workdir):
                pass
    finally:
        os.close(third[0])
