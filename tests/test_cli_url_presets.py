"""The CLI loads URL presets and URL weights only with the sha256 the user pins."""

import hashlib
import tarfile

import numpy as np
import pytest

from keras_genai import cli, zoo


@pytest.fixture
def tiny_archive(tiny_gan, tmp_path):
    folder = tmp_path / "tiny_preset"
    zoo.save_preset(tiny_gan, folder, {"name": "tiny", "family": "gan", "description": "test preset"})
    archive = tmp_path / "tiny.tar.gz"
    with tarfile.open(archive, "w:gz") as t:
        t.add(folder, arcname="tiny")
    return folder, archive, hashlib.sha256(archive.read_bytes()).hexdigest()


def test_sample_a_url_preset_with_its_sha256(tiny_gan, tiny_archive, tmp_path):
    _, archive, sha = tiny_archive
    npy = tmp_path / "s.npy"
    code = cli.main(["sample", archive.as_uri(), "--sha256", sha, "-n", "3", "--seed", "2",
                     "--output", str(tmp_path / "s.png"), "--npy", str(npy)])
    assert code == 0
    np.testing.assert_array_equal(np.load(npy), tiny_gan.sample(3, seed=2))


@pytest.mark.parametrize("command", ["info", "sample", "export"])
def test_a_url_preset_without_or_with_a_wrong_sha256_is_refused(command, tiny_archive, tmp_path, capsys):
    _, archive, _ = tiny_archive
    extra = ["--output", str(tmp_path / "out")] if command != "info" else []
    assert cli.main([command, archive.as_uri(), *extra]) == 1
    assert "pass --sha256" in capsys.readouterr().err
    assert cli.main([command, archive.as_uri(), "--sha256", "f" * 64, *extra]) == 1
    assert "expected " + "f" * 64 in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_sha256_on_a_local_preset_is_refused_rather_than_ignored(tiny_archive, capsys):
    folder, _, sha = tiny_archive
    assert cli.main(["info", str(folder), "--sha256", sha]) == 1
    assert "is not a URL" in capsys.readouterr().err


def test_url_weights_need_and_get_their_sha256(tiny_gan, tiny_archive, tmp_path, capsys):
    folder, _, _ = tiny_archive
    weights = folder / "model.weights.h5"
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    args = ["sample", str(folder), "--weights", weights.as_uri(), "-n", "2", "--seed", "1",
            "--output", str(tmp_path / "s.png"), "--npy", str(tmp_path / "s.npy")]
    assert cli.main(args) == 1
    assert "sha256 is required" in capsys.readouterr().err
    assert cli.main(args + ["--weights-sha256", "0" * 64]) == 1
    assert not (tmp_path / "s.png").exists()
    assert cli.main(args + ["--weights-sha256", sha]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), tiny_gan.sample(2, seed=1))


def test_update_card_on_a_url_preset_is_refused_before_anything(tiny_archive, tmp_path, capsys):
    _, archive, sha = tiny_archive
    assert cli.main(["evaluate", archive.as_uri(), "--sha256", sha, "--update-card"]) == 1
    assert "--update-card writes into a preset folder" in capsys.readouterr().err


def test_a_download_that_fails_is_a_clear_error(capsys):
    url = "http://127.0.0.1:9/preset.tar.gz"  # the discard port: nothing listens there
    assert cli.main(["info", url, "--sha256", "0" * 64]) == 1
    assert "could not download" in capsys.readouterr().err
