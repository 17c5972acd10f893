"""A non-editable install ships the presets: zoo.load works from the wheel in any directory."""

import os
import subprocess
import sys
import zipfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

CHECK = """
import keras_genai, os, sys
assert "site" in keras_genai.__file__, keras_genai.__file__
assert not keras_genai.__file__.startswith(sys.argv[1]), keras_genai.__file__
model = keras_genai.zoo.load("dcgan_mnist")
print(model.sample(4, seed=0).shape, sorted(keras_genai.zoo.list()))
for name in ("wgan_gp_mnist", "pixelcnn_mnist"):  # retrained presets, their weights from the wheel
    print(name, keras_genai.zoo.load(name, compile=False).sample(2, seed=0).shape)
"""


def test_wheel_ships_presets_and_loads_outside_the_checkout(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), REPO],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = os.listdir(tmp_path / "dist")
    names = zipfile.ZipFile(tmp_path / "dist" / wheel).namelist()
    for required in ("config.json", "metadata.json", "model.weights.h5", "README.md", "samples.png"):
        assert f"keras_genai/presets/dcgan_mnist/{required}" in names
    assert "keras_genai/presets/dcgan_celeba/metadata.json" in names
    licence = [name for name in names if name.endswith("LICENSE") and ".dist-info/" in name]  # setup.cfg's Apache-2.0
    assert licence and b"Apache License" in zipfile.ZipFile(tmp_path / "dist" / wheel).read(licence[0])

    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(tmp_path / "dist" / wheel)],
        capture_output=True, text=True,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    env = dict(os.environ, PYTHONPATH=str(site))
    run = subprocess.run([sys.executable, "-c", CHECK, REPO], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "(4, 28, 28, 1)" in run.stdout and "dcgan_celeba" in run.stdout
    assert "wgan_gp_mnist (2, 28, 28, 1)" in run.stdout and "pixelcnn_mnist (2, 28, 28, 1)" in run.stdout
