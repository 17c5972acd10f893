"""VAE presets through the command line and the binarized MNIST pipeline (needs MNIST files)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_genai import data, zoo

needs_mnist = pytest.mark.skipif(not os.environ.get("KERAS_GENAI_DATA_DIR"),
                                 reason="needs MNIST files (KERAS_GENAI_DATA_DIR)")


def cli(*args):
    result = subprocess.run([sys.executable, "-m", "keras_genai.cli", *args], capture_output=True, text=True)
    return result.returncode, result.stdout, result.stderr


@needs_mnist
def test_dynamic_binarization_is_seeded_and_changes_every_epoch():
    def first_batches(ds):
        return [batch.numpy() for batch in ds.take(1)][0], [batch.numpy() for batch in ds.take(1)][0]

    ds = data.images("mnist", split="test[:64]", batch_size=64, shuffle=False, binarize="dynamic", value_range=(0, 1))
    epoch1, epoch2 = first_batches(ds)
    assert set(np.unique(epoch1)) == {0.0, 1.0}
    assert 0.01 < np.mean(epoch1 != epoch2) < 0.2  # same images, new pixels
    again, _ = first_batches(data.images("mnist", split="test[:64]", batch_size=64, shuffle=False,
                                         binarize="dynamic", value_range=(0, 1)))
    np.testing.assert_array_equal(epoch1, again)
    grey = [b.numpy() for b in data.images("mnist", split="test[:64]", batch_size=64, shuffle=False,
                                           value_range=(0, 1)).take(1)][0]
    assert abs(epoch1.mean() - grey.mean()) < 0.01  # Bernoulli(intensity) keeps the mean


@needs_mnist
def test_fixed_binarization_is_the_same_every_pass_and_order():
    kwargs = dict(split="test[:50]", batch_size=50, binarize="fixed", value_range=(0, 1), seed=0, with_labels=True)
    ordered = [b for b in data.images("mnist", shuffle=False, **kwargs).take(1)][0]
    shuffled = [b for b in data.images("mnist", shuffle=True, **kwargs).take(1)][0]
    by_label = lambda batch: sorted(map(bytes, np.asarray(batch[0]).astype(np.uint8)))  # noqa: E731
    assert by_label(ordered) == by_label(shuffled)
    other_seed = [b for b in data.images("mnist", shuffle=False, **{**kwargs, "seed": 1}).take(1)][0]
    assert not np.array_equal(ordered[0], other_seed[0])
    with pytest.raises(ValueError, match="binarize must be one of"):
        data.images("mnist", binarize="threshold")


@needs_mnist
def test_train_and_evaluate_a_conditional_vae_preset(tmp_path):
    out = tmp_path / "cvae"
    code, _, err = cli("train", "cvae_mnist", "--output", str(out), "--epochs", "1", "--steps-per-epoch", "3",
                       "--batch-size", "32")
    assert code == 0, err[-3000:]
    assert zoo.info(str(out))["dataset"]["binarize"] == "dynamic"
    code, stdout, err = cli("evaluate", str(out), "--k", "4", "--num-examples", "30", "--num-samples", "40",
                            "--batch-size", "16", "--update-card", "--output", str(tmp_path / "r.json"))
    assert code == 0, err[-3000:]
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["num_examples"] == 30 and results["k"] == 4 and results["label_accuracy_samples"] == 40
    assert results["nll"] <= -results["elbo"] + 5 and 0.0 <= results["label_accuracy"] <= 1.0
    assert "fixed Bernoulli sample" in results["binarization"]
    card = (out / "README.md").read_text()
    assert "test NLL, importance-weighted bound (k=4)" in card and "labels=labels" in card


def test_vae_recipes():
    with pytest.raises(zoo.MissingWeightsError, match="keras-genai train vae_celeba"):
        zoo.load("vae_celeba")
    celeba = zoo.load("vae_celeba", pretrained=False)
    assert celeba.image_shape == (64, 64, 3) and celeba.likelihood == "logistic"
    for name in ("vae_mnist", "cvae_mnist"):
        meta = zoo.info(name)
        assert meta["family"] == "vae" and meta["dataset"]["binarize"] == "dynamic"
        assert meta["dataset"]["value_range"] == [0, 1]


@needs_mnist
def test_pretrained_vae_mnist_fits_the_test_set():
    from keras_genai.metrics import vae as vae_metrics

    model = zoo.load("vae_mnist")
    images, _ = next(vae_metrics.test_batches(zoo.info("vae_mnist")["dataset"], batch_size=100))
    nll = model.importance_weighted_nll(images, k=200).mean()
    neg_elbo = -model.elbo(images)["elbo"].mean()
    assert nll < neg_elbo < 100  # an untrained model is above 500 nats
    assert nll < 92
    reported = zoo.info("vae_mnist")["metrics"]["test_likelihood"]
    assert reported["k"] == 5000 and reported["num_examples"] == 10_000


def test_pretrained_cvae_draws_the_requested_digits():
    from keras_genai.metrics import mnist_classifier

    model = zoo.load("cvae_mnist")
    labels = np.arange(1000) % 10
    _, logits = mnist_classifier()(model.sample(1000, seed=0, labels=labels))
    # The card's protocol (10,000 samples) gives 95.7%; 1,000-sample subsets range about 94.5-96%.
    assert np.mean(logits.argmax(-1) == labels) >= 0.94
    assert zoo.info("cvae_mnist")["metrics"]["test_likelihood"]["label_accuracy"] >= 0.95
