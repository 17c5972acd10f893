"""The pixelcnn_mnist preset and PixelCNN presets through the command line (needs MNIST files)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_genai import models, zoo

needs_mnist = pytest.mark.skipif(not os.environ.get("KERAS_GENAI_DATA_DIR"),
                                 reason="needs MNIST files (KERAS_GENAI_DATA_DIR)")


def cli(*args):
    result = subprocess.run([sys.executable, "-m", "keras_genai.cli", *args], capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return result.returncode, result.stdout, result.stderr


def test_the_preset_is_a_binarized_mnist_pixelcnn():
    meta = zoo.info("pixelcnn_mnist")
    assert meta["family"] == "pixelcnn"
    assert meta["dataset"]["binarize"] == "dynamic" and meta["dataset"]["value_range"] == [0, 1]
    model = zoo.load("pixelcnn_mnist", pretrained=False)
    assert isinstance(model, models.PixelCNN) and model.image_shape == (28, 28, 1)
    if meta["pretrained_available"]:
        assert os.path.getsize(os.path.join(meta["path"], "model.weights.h5")) < 10e6


@needs_mnist
def test_train_and_evaluate_a_small_pixelcnn_preset(tmp_path):
    meta = zoo.info("pixelcnn_mnist")
    for key in ("path", "pretrained_available", "weights", "parameters"):
        meta.pop(key, None)
    meta["name"] = "tiny_pixelcnn"
    meta["training"]["how_it_was_trained"] = "two runs of the source preset"
    model = models.gated_pixelcnn((28, 28, 1), filters=4, num_layers=1, output_units=(4,), seed=0)
    model.compile()
    zoo.save_preset(model, tmp_path / "tiny", meta, samples=False)
    out = tmp_path / "trained"
    code, _, err = cli("train", str(tmp_path / "tiny"), "--output", str(out), "--epochs", "1",
                       "--steps-per-epoch", "2", "--batch-size", "16", "--dtype", "mixed_bfloat16")
    assert code == 0, err[-3000:]
    training = zoo.info(str(out))["training"]
    assert training["dtype_policy"] == "mixed_bfloat16"
    for note in ("previous_preset", "how_it_was_trained"):  # the source card's notes about its own run
        assert note not in training
    assert "bfloat16" not in (out / "config.json").read_text()  # the preset itself computes in float32
    code, stdout, err = cli("evaluate", str(out), "--num-examples", "30", "--batch-size", "20", "--update-card",
                            "--output", str(tmp_path / "r.json"))
    assert code == 0, err[-3000:]
    results = json.load(open(tmp_path / "r.json"))
    assert results["exact"] and results["num_examples"] == 30 and results["reference"] == "mnist/test"
    assert 30 < results["nll"] < 1000  # nats per image (an untrained model gives about 784 ln 2 = 543)
    np.testing.assert_allclose(results["bits_per_dim"], results["nll"] / (784 * np.log(2)), rtol=1e-6)
    card = open(out / "README.md").read()
    assert "test NLL (exact)" in card and "log_prob" in card
