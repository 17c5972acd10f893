import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_genai import zoo
from keras_genai.metrics import evaluate, features

needs_mnist = pytest.mark.skipif(not os.environ.get("KERAS_GENAI_DATA_DIR"), reason="needs MNIST files (KERAS_GENAI_DATA_DIR)")


def test_inception_plumbing_with_random_weights():
    extractor = features.inception_v3(weights=None)
    images = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 1), dtype=np.uint8)
    feats, logits = extractor(images)
    assert feats.shape == (2, 2048) and logits.shape == (2, 1000)
    assert np.isfinite(feats).all()


def test_mnist_features_shapes_and_bad_input():
    extractor = features.mnist_classifier()
    feats, logits = extractor(np.zeros((3, 28, 28, 1), np.uint8))
    assert feats.shape == (3, 128) and logits.shape == (3, 10) and extractor.feature_dim == 128
    with pytest.raises(ValueError, match="uint8"):
        extractor(np.zeros((3, 28, 28, 1), np.float32))
    with pytest.raises(ValueError, match="shape"):
        extractor(np.zeros((3, 32, 32, 3), np.uint8))


def test_shipped_classifier_card_states_its_accuracy():
    meta = zoo.info("mnist_classifier")
    assert meta["pretrained_available"] and meta["metrics"]["test_accuracy"] >= 0.99


@needs_mnist
def test_classifier_recognises_real_test_digits():
    model = zoo.load("mnist_classifier", compile=False)
    batch = next(iter(evaluate.dataset_batches("mnist", "test", 500, 500)))
    from keras_genai import data

    labels = next(iter(data.images("mnist", split="test", batch_size=500, shuffle=False, with_labels=True)))[1].numpy()
    logits = features.mnist_classifier(model)(batch)[1]
    assert (logits.argmax(-1) == labels).mean() > 0.98


@needs_mnist
def test_real_images_against_themselves_score_perfectly():
    extractor = features.mnist_classifier()
    a = evaluate.Collected(extractor, evaluate.dataset_batches("mnist", "test", 1000, 250))
    b = evaluate.Collected(extractor, evaluate.dataset_batches("mnist", "test", 1000, 500))
    results = evaluate.compare(extractor, a, b)
    assert results["fid"] == pytest.approx(0.0, abs=1e-6)
    assert results["precision"] == 1.0 and results["recall"] == 1.0
    # KID is unbiased: two different samples of one distribution give ~0 (the same set twice
    # does not: its cross term includes k(x, x)).
    other_half = evaluate.Collected(extractor, evaluate.dataset_batches("mnist", "test[5000:6000]", None, 500))
    same_distribution = evaluate.compare(extractor, a, other_half, metrics=("kid",))["kid_mean"]
    noise = np.random.default_rng(0).integers(0, 256, (1000, 28, 28, 1), dtype=np.uint8)
    far = evaluate.compare(extractor, a, evaluate.Collected(extractor, [noise]), metrics=("kid",))["kid_mean"]
    assert abs(same_distribution) < 0.02 * far
    assert results["is_mean"] > 8.5  # 10 balanced classes, confidently classified


@needs_mnist
def test_noise_scores_far_worse_than_the_pretrained_gan():
    class Noise:  # the part of the GenerativeModel contract that evaluation uses
        num_classes = None

        def sample(self, n, seed=0):
            return np.random.default_rng(seed).integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)

    gan = evaluate.evaluate(zoo.load("dcgan_mnist"), num_samples=1000, progress=False, metrics=("fid", "is"))
    noise = evaluate.evaluate(Noise(), num_samples=1000, progress=False, metrics=("fid", "is"))
    assert gan["fid"] * 5 < noise["fid"]
    assert gan["is_mean"] > noise["is_mean"] + 3
    assert gan["reference_count"] == 10_000 and gan["num_samples"] == 1000


def test_too_few_samples_for_fid_is_an_error():
    class Tiny:  # the part of the GenerativeModel contract that evaluation uses
        num_classes = None

        def sample(self, n, seed=0):
            return np.zeros((n, 28, 28, 1), np.uint8)

    extractor = features.mnist_classifier()
    few = evaluate.Collected(extractor, evaluate.model_batches(Tiny(), 20, 10))
    with pytest.raises(ValueError, match="more samples than feature dimensions"):
        evaluate.compare(extractor, few, few, metrics=("fid",))
    with pytest.raises(ValueError, match="unknown metrics"):
        evaluate.compare(extractor, few, few, metrics=("fidd",))


@needs_mnist
def test_cli_evaluate_writes_json(tmp_path):
    out = tmp_path / "r.json"
    result = subprocess.run([sys.executable, "-m", "keras_genai.cli", "evaluate", "dcgan_mnist", "--num-samples", "300",
                             "--metrics", "fid,kid,is,pr", "--output", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(out.read_text())
    assert {"fid", "kid_mean", "kid_std", "is_mean", "is_std", "precision", "recall"} <= set(results)
    assert results["num_samples"] == 300 and results["features"] == "mnist"
