"""A run killed with SIGKILL in the middle of an epoch resumes through the backup and ends with
exactly the weights of a run that was never interrupted (deterministic ops, CPU)."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from resume_worker import STEPS_PER_EPOCH

WORKER = os.path.join(os.path.dirname(__file__), "resume_worker.py")


def _run(family, workdir, output, *extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    return subprocess.run([sys.executable, WORKER, family, str(workdir), str(output), *extra], env=env,
                          capture_output=True, text=True, timeout=300)


def _weights(path):
    with np.load(path) as saved:
        return [saved[k] for k in sorted(saved.files, key=lambda k: int(k.split("_")[1]))]


@pytest.mark.parametrize("family", ["gan", "vae", "gpt"])  # gpt: with dropout
def test_sigkill_mid_epoch_then_rerun_ends_with_the_uninterrupted_weights(family, tmp_path):
    straight = _run(family, tmp_path / "straight", tmp_path / "straight.npz")
    assert straight.returncode == 0, straight.stderr[-3000:]

    kill_step = STEPS_PER_EPOCH + 2  # the middle of the second epoch
    killed = _run(family, tmp_path / "resumed", tmp_path / "resumed.npz", "--kill-at", str(kill_step))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert not (tmp_path / "resumed.npz").exists()
    with open(tmp_path / "resumed" / "backup" / "training_metadata.json") as f:
        assert json.load(f)["epoch"] == 1, "the backup should hold the first finished epoch"

    resumed = _run(family, tmp_path / "resumed", tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected, actual = _weights(tmp_path / "straight.npz"), _weights(tmp_path / "resumed.npz")
    assert len(expected) == len(actual) > 0
    for a, b in zip(expected, actual):
        np.testing.assert_array_equal(a, b)
    assert not (tmp_path / "resumed" / "backup").exists(), "a finished run removes its backup"


def test_rerun_without_the_random_states_would_differ(tmp_path):
    """The control: the GPT's dropout streams matter, so dropping them from the backup breaks
    bit-identical resumption (this is what ResumableBackup's random_states.npz is for)."""
    straight = _run("gpt", tmp_path / "straight", tmp_path / "straight.npz")
    assert straight.returncode == 0, straight.stderr[-3000:]
    killed = _run("gpt", tmp_path / "resumed", tmp_path / "resumed.npz", "--kill-at", str(STEPS_PER_EPOCH + 2))
    assert killed.returncode == -signal.SIGKILL
    os.remove(tmp_path / "resumed" / "backup" / "random_states.npz")
    resumed = _run("gpt", tmp_path / "resumed", tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "random streams (dropout) restart" in resumed.stderr
    expected, actual = _weights(tmp_path / "straight.npz"), _weights(tmp_path / "resumed.npz")
    assert any(not np.array_equal(a, b) for a, b in zip(expected, actual))
