"""`keras-genai train` never ends in a broken or lost result: bad counts are refused before anything
runs, a non-finite loss or weights save no preset and keep the last good checkpoint and backup, a
run killed while saving finishes on the rerun, a finished training whose save fails is kept,
checkpoints are written atomically, and one workdir serves one run at a time."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_genai import callbacks, cli, zoo

needs_mnist = pytest.mark.skipif(not os.environ.get("KERAS_GENAI_DATA_DIR"),
                                 reason="needs MNIST files (KERAS_GENAI_DATA_DIR)")
QUICK = ["--batch-size", "16", "--steps-per-epoch", "1"]


def _train(tmp_path, *extra, workdir=True):
    argv = ["train", "gan_mnist", "--output", str(tmp_path / "out"), *QUICK, *extra]
    return cli.main(argv + (["--workdir", str(tmp_path / "run")] if workdir else []))


def _add_callback(monkeypatch, callback):
    """Makes every ``fit`` the CLI runs also call ``callback``."""
    fit = keras.Model.fit

    def fit_with_callback(self, *args, callbacks=None, **kwargs):
        return fit(self, *args, callbacks=list(callbacks or []) + [callback], **kwargs)

    monkeypatch.setattr(keras.Model, "fit", fit_with_callback)


def _refuse_to_start(monkeypatch):
    """Reading the preset is the first step of a training: a check that must come before
    anything fails the test if it comes after."""
    def started(*args, **kwargs):
        raise AssertionError("the run started before its arguments were checked")

    monkeypatch.setattr(zoo, "info", started)


@pytest.mark.parametrize("flag,value", [("--epochs", "0"), ("--epochs", "-1"), ("--batch-size", "0"),
                                        ("--steps-per-epoch", "0"), ("--steps-per-epoch", "-3")])
def test_non_positive_counts_are_refused_before_anything(flag, value, tmp_path, monkeypatch, capsys):
    _refuse_to_start(monkeypatch)
    argv = ["train", "gan_mnist", "--output", str(tmp_path / "out"), "--workdir", str(tmp_path / "run"), flag, value]
    assert cli.main(argv) == 1
    assert f"{flag} must be a positive integer, got {value}" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "out") and not os.path.exists(tmp_path / "run")


def test_an_output_that_is_not_a_preset_is_refused_before_training(tmp_path, monkeypatch, capsys):
    _refuse_to_start(monkeypatch)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert cli.main(["train", "gan_mnist", "--output", str(mine), "--overwrite"]) == 1
    assert "refusing to replace" in capsys.readouterr().err
    # a preset folder that holds the workdir: replacing it would delete the run's own files
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "metadata.json").write_text("{}")
    assert cli.main(["train", "gan_mnist", "--output", str(tmp_path / "old"), "--overwrite",
                     "--workdir", str(tmp_path / "old" / "run")]) == 1
    assert "which this run needs" in capsys.readouterr().err
    assert os.listdir(mine) == ["notes.txt"] and os.listdir(tmp_path / "old") == ["metadata.json"]


@needs_mnist
def test_a_huge_learning_rate_exits_1_and_saves_no_preset(tmp_path, capsys):
    assert _train(tmp_path, "--epochs", "1", "--learning-rate", "1e30", workdir=False) == 1
    err = capsys.readouterr().err
    assert "training stopped:" in err and "at batch 1 of epoch 1; no preset was saved" in err, err
    assert "Nothing was kept: pass --workdir" in err
    assert not os.path.exists(tmp_path / "out")


class _PoisonAt(keras.callbacks.Callback):
    """Makes the generator's weights NaN before batch ``batch`` of epoch ``epoch`` (0-based), or at
    the end of training (``epoch=None``: the logs stay finite)."""

    def __init__(self, epoch=None, batch=0):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, None

    def _poison(self):
        for variable in self.model.generator.trainable_variables:
            variable.assign(tf.fill(variable.shape, np.nan))

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.current, batch) == (self.epoch, self.batch):
            self._poison()

    def on_train_end(self, logs=None):
        if self.epoch is None:
            self._poison()


@needs_mnist
def test_a_loss_going_nan_keeps_the_last_good_checkpoint_and_backup(tmp_path, monkeypatch, capsys):
    _add_callback(monkeypatch, _PoisonAt(epoch=1))
    assert _train(tmp_path, "--epochs", "2") == 1
    err = capsys.readouterr().err
    checkpoint = tmp_path / "run" / "checkpoints" / "last.keras"
    assert "became nan at batch 1 of epoch 2; no preset was saved" in err, err
    assert str(checkpoint) in err and f"the backup {tmp_path / 'run' / 'backup'} of epoch 1" in err
    assert not os.path.exists(tmp_path / "out")
    assert callbacks.backup_epoch(tmp_path / "run" / "backup") == 1
    assert all(np.isfinite(w).all() for w in keras.saving.load_model(checkpoint).get_weights())


@needs_mnist
def test_non_finite_weights_are_never_saved(tmp_path, monkeypatch, capsys):
    _add_callback(monkeypatch, _PoisonAt(epoch=None))  # after the last batch: every log was finite
    assert _train(tmp_path, "--epochs", "1", workdir=False) == 1
    assert "the trained weights hold non-finite values" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "out")


class _PoisonAfterLastBatchOf(keras.callbacks.Callback):
    """Makes the generator's weights NaN after the last batch of epoch ``epoch`` (0-based): that
    batch's logs are finite, only the weights are not."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch, self.current = epoch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch:
            for variable in self.model.generator.trainable_variables:
                variable.assign(tf.fill(variable.shape, np.nan))


@needs_mnist
def test_non_finite_weights_behind_finite_logs_never_become_the_last_good_checkpoint(tmp_path, monkeypatch,
                                                                                    capsys):
    _add_callback(monkeypatch, _PoisonAfterLastBatchOf(epoch=1))
    assert _train(tmp_path, "--epochs", "2") == 1
    assert "the trained weights hold non-finite values" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "out")
    assert callbacks.backup_epoch(tmp_path / "run" / "backup") == 1
    checkpoint = tmp_path / "run" / "checkpoints" / "last.keras"
    assert all(np.isfinite(w).all() for w in keras.saving.load_model(checkpoint).get_weights())


@needs_mnist
def test_a_run_killed_while_saving_finishes_the_save_when_rerun(tmp_path, monkeypatch, capsys):
    save_preset, lock_holders = zoo.save_preset, []

    def killed_while_saving(*args, **kwargs):
        lock = tmp_path / "run" / ".lock"
        lock_holders.append(lock.read_text() if lock.exists() else "")
        raise KeyboardInterrupt  # stands for the kill: nothing after it runs

    monkeypatch.setattr(zoo, "save_preset", killed_while_saving)
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, "--epochs", "2")
    backup = tmp_path / "run" / "backup"
    assert not os.path.exists(tmp_path / "out")
    assert callbacks.backup_epoch(backup) == 2, "the backup must outlive the training until the preset is saved"
    assert json.loads(lock_holders[0])["pid"] == os.getpid()  # the workdir stays locked until the save
    logs, seconds = callbacks.backup_logs(backup), callbacks.backup_training_seconds(backup)
    assert set(logs) == {"d_fake", "d_loss", "d_real", "g_loss"} and seconds > 0

    monkeypatch.setattr(zoo, "save_preset", save_preset)
    capsys.readouterr()
    assert _train(tmp_path, "--epochs", "1") == 1  # fewer epochs than the backup holds
    assert "holds a run that finished 2 epochs, more than --epochs 1" in capsys.readouterr().err
    assert _train(tmp_path, "--epochs", "2") == 0
    assert "all 2 epochs done before the run was stopped: saving the preset" in capsys.readouterr().out
    training = zoo.info(str(tmp_path / "out"))["training"]
    assert training["epochs"] == 2 and training["steps_per_epoch"] == 1
    assert training["final_logs"] == {k: round(v, 4) for k, v in logs.items()}
    assert training["wall_time_s"] >= round(seconds, 1) > 0
    assert training["resumed"].startswith("interrupted and resumed after epoch 2; wall_time_s adds the")
    trained = keras.saving.load_model(tmp_path / "run" / "checkpoints" / "last.keras")  # after epoch 2
    for saved, expected in zip(zoo.load(str(tmp_path / "out")).generator.weights, trained.generator.weights):
        np.testing.assert_array_equal(saved.numpy(), expected.numpy())
    assert not os.path.exists(backup), "the backup goes once the preset is in place"


class _OutputAppears(keras.callbacks.Callback):
    def __init__(self, folder):
        super().__init__()
        self.folder = folder

    def on_train_end(self, logs=None):
        os.makedirs(self.folder)
        with open(os.path.join(self.folder, "notes.txt"), "w") as f:
            f.write("someone else's")


@needs_mnist
@pytest.mark.parametrize("workdir", [True, False])
def test_a_finished_training_is_kept_when_its_output_appears_meanwhile(workdir, tmp_path, monkeypatch, capsys):
    _add_callback(monkeypatch, _OutputAppears(str(tmp_path / "out")))
    assert _train(tmp_path, "--epochs", "1", workdir=workdir) == 1
    err = capsys.readouterr().err
    assert f"could not save the trained preset to {tmp_path / 'out'} (FileExistsError" in err, err
    assert os.listdir(tmp_path / "out") == ["notes.txt"]  # the other folder is left alone
    kept = err.split("saved as a preset to ")[1].split(" instead")[0]
    parent = tmp_path / "run" if workdir else tmp_path
    assert os.path.dirname(kept) == str(parent)
    assert zoo.info(kept)["training"]["epochs"] == 1
    assert zoo.load(kept).sample(2, seed=0).shape == (2, 28, 28, 1)
    if workdir:
        assert callbacks.backup_epoch(tmp_path / "run" / "backup") == 1
        assert "rerun the same command with a free --output" in err


def _cut_off_save(self, filepath, *args, **kwargs):
    """A save that dies half-way, as a kill or a full disk leaves it."""
    with open(filepath, "wb") as f:
        f.write(b"PK\x03\x04 the first bytes of a zip")
    raise OSError(28, "No space left on device")


def test_a_checkpoint_cut_off_while_saving_leaves_the_last_good_one(tiny_gan, tmp_path, monkeypatch):
    images = -np.ones((32, 28, 28, 1), np.float32)
    data = tf.data.Dataset.from_tensor_slices(images).batch(16)
    path = tmp_path / "last.keras"
    tiny_gan.fit(data, epochs=1, verbose=0, callbacks=[callbacks.SafeCheckpoint(str(path))])
    good = keras.saving.load_model(path).get_weights()
    monkeypatch.setattr(keras.Model, "save", _cut_off_save)
    with pytest.raises(OSError, match="No space left"):
        tiny_gan.fit(data, epochs=1, verbose=0, callbacks=[callbacks.SafeCheckpoint(str(path))])
    monkeypatch.undo()
    for restored, expected in zip(keras.saving.load_model(path).get_weights(), good):
        np.testing.assert_array_equal(restored, expected)
    assert os.listdir(tmp_path) == ["last.keras"]  # the partial file is gone too


HOLD_THE_LOCK = """
import fcntl, os, sys
descriptor = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(descriptor, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_second_run_on_a_workdir_in_use_is_refused_naming_the_first(tmp_path, capsys):
    workdir = tmp_path / "run"
    with callbacks.locked_workdir(workdir, "keras-genai train gan_mnist (the first run)"):
        assert _train(tmp_path, "--epochs", "1") == 1
        assert os.listdir(workdir) == [callbacks.LOCK_FILE]  # nothing trained, nothing written
    assert os.listdir(workdir) == []  # the first run's lock file went when it ended
    err = capsys.readouterr().err
    assert f"{workdir} is in use by another run (pid {os.getpid()}, command " in err, err
    assert "keras-genai train gan_mnist (the first run)" in err and "use another workdir (--workdir)" in err
    assert not os.path.exists(tmp_path / "out")

    # held by another process (which has not written who it is yet)
    first = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(workdir / callbacks.LOCK_FILE)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline() == "locked\n"
        assert _train(tmp_path, "--epochs", "1") == 1
        assert "is in use by another run (its lock file" in capsys.readouterr().err
    finally:
        first.communicate("", timeout=60)
    with callbacks.locked_workdir(workdir):  # free again once the other process ended
        pass
