"""A run killed with SIGKILL in the middle of an epoch resumes through the backup and ends with
exactly the weights of a run that was never interrupted (deterministic ops, CPU)."""

import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from resume_worker import STEPS_PER_EPOCH

WORKER = os.path.join(os.path.dirname(__file__), "resume_worker.py")
KILL_STEP = STEPS_PER_EPOCH + 2  # the middle of the second epoch


def _start(family, workdir, output, *extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    return subprocess.Popen([sys.executable, WORKER, family, str(workdir), str(output), *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process):
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _run(family, workdir, output, *extra):
    return _finish(_start(family, workdir, output, *extra))


def _weights(path):
    with np.load(path) as saved:
        return [saved[k] for k in sorted(saved.files, key=lambda k: int(k.split("_")[1]))]


@pytest.fixture(scope="module")
def straight_and_killed(tmp_path_factory):
    """family -> (weights of an uninterrupted run, workdir of a run killed at KILL_STEP). The two
    independent runs go side by side; each family's pair runs once for the tests of this module
    (a test resumes a copy of the killed workdir)."""
    runs = {}

    def get(family):
        if family not in runs:
            folder = tmp_path_factory.mktemp(family)
            straight = _start(family, folder / "straight", folder / "straight.npz")
            killed = _start(family, folder / "killed", folder / "killed.npz", "--kill-at", str(KILL_STEP))
            straight, killed = _finish(straight), _finish(killed)
            assert straight.returncode == 0, straight.stderr[-3000:]
            assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
            assert not (folder / "killed.npz").exists()
            with open(folder / "killed" / "backup" / "training_metadata.json") as f:
                assert json.load(f)["epoch"] == 1, "the backup should hold the first finished epoch"
            runs[family] = (_weights(folder / "straight.npz"), folder / "killed")
        return runs[family]

    return get


@pytest.mark.parametrize("family", ["gan", "vae", "gpt"])  # gpt: with dropout
def test_sigkill_mid_epoch_then_rerun_ends_with_the_uninterrupted_weights(family, straight_and_killed, tmp_path):
    expected, killed = straight_and_killed(family)
    shutil.copytree(killed, tmp_path / "resumed")
    resumed = _run(family, tmp_path / "resumed", tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    actual = _weights(tmp_path / "resumed.npz")
    assert len(expected) == len(actual) > 0
    for a, b in zip(expected, actual):
        np.testing.assert_array_equal(a, b)
    assert not (tmp_path / "resumed" / "backup").exists(), "a finished run removes its backup"


def test_rerun_without_the_random_states_would_differ(straight_and_killed, tmp_path):
    """The control: the GPT's dropout streams matter, so dropping them from the backup breaks
    bit-identical resumption (this is what ResumableBackup's random_states.npz is for)."""
    expected, killed = straight_and_killed("gpt")
    shutil.copytree(killed, tmp_path / "resumed")
    os.remove(tmp_path / "resumed" / "backup" / "random_states.npz")
    resumed = _run("gpt", tmp_path / "resumed", tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "random streams (dropout) restart" in resumed.stderr
    actual = _weights(tmp_path / "resumed.npz")
    assert any(not np.array_equal(a, b) for a, b in zip(expected, actual))
