import numpy as np
import pytest
import tensorflow as tf

from keras_genai import export, models, runtime


@pytest.fixture(scope="module")
def cvae():
    model = models.conditional_vae(num_classes=3, latent_dim=4, width=(16,), seed=0)
    model.compile()
    return model


def test_saved_model_has_the_vae_signatures_and_draws_keras_samples(cvae, tmp_path):
    path = export.saved_model(cvae, tmp_path / "cvae")
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {"serving_default", "decode", "encode", "sample"}
    assert sorted(loaded.signatures["encode"].structured_outputs) == ["log_variance", "mean"]
    # Fresh-process parity of every signature: test_family_contract.py (the same model). Here: the
    # sample signature draws exactly Keras's images for a seed.
    labels = np.array([2, 0, 1], np.int32)
    out = runtime.run_saved_model(path, {"labels": labels, "seed": 9}, "sample")["images"]
    np.testing.assert_array_equal(out, cvae.sample(3, seed=9, labels=labels))
    images = runtime.run_saved_model(path, {"z": np.zeros((2, 4), np.float32), "labels": labels[:2]})["images"]
    assert images.shape == (2, 28, 28, 1) and 0.0 <= images.min() and images.max() <= 1.0


@pytest.mark.parametrize("signature", ["serving_default", "encode"])
def test_litert_decoder_and_encoder_match_keras(signature, tmp_path):
    model = models.unconditional_vae(latent_dim=4, nets="conv", width=(4, 8), seed=0)
    path = export.tflite(model, tmp_path / f"{signature}.tflite", signature=signature)
    report = export.check_tflite(model, path, "float32", signature=signature, num_samples=3)
    names = {"serving_default": ["tflite_float32"], "encode": ["tflite_float32.mean", "tflite_float32.log_variance"]}
    assert sorted(report) == sorted(names[signature])
    assert all(r["max_abs_diff"] <= export.TOLERANCE["tflite_float32"] for r in report.values())


def test_unknown_edge_signature_is_refused(tmp_path):
    model = models.unconditional_vae(latent_dim=4, width=(16,), seed=0)
    with pytest.raises(KeyError, match="encode"):
        export.tflite(model, tmp_path / "m.tflite", signature="generate")
