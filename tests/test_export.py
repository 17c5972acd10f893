import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_genai import export, runtime, zoo


@pytest.fixture(scope="module")
def pretrained():
    return zoo.load("dcgan_mnist", compile=False)


def test_saved_model_has_tf_serving_layout_and_named_signatures(tiny_gan, tmp_path):
    path = export.saved_model(tiny_gan, tmp_path / "dcgan", version=3)
    assert path == str(tmp_path / "dcgan" / "3")
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
    assert sorted(os.listdir(tmp_path / "dcgan")) == ["3"]  # no staging leftovers
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {"serving_default", "sample", "sample_ranked"}
    default = loaded.signatures["serving_default"]
    assert list(default.structured_input_signature[1]) == ["z"]
    assert list(default.structured_outputs) == ["images"]
    assert sorted(loaded.signatures["sample"].structured_input_signature[1]) == ["num_samples", "seed"]
    assert sorted(loaded.signatures["sample_ranked"].structured_input_signature[1]) == ["candidates", "num_samples", "seed"]


def test_existing_version_is_refused_unless_overwrite(tiny_gan, tmp_path):
    export.saved_model(tiny_gan, tmp_path / "m", version=1)
    marker = tmp_path / "m" / "1" / "saved_model.pb"
    before = marker.stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="overwrite"):
        export.saved_model(tiny_gan, tmp_path / "m", version=1)
    assert marker.stat().st_mtime_ns == before
    export.saved_model(tiny_gan, tmp_path / "m", version=1, overwrite=True)
    assert sorted(os.listdir(tmp_path / "m")) == ["1"]


@pytest.mark.parametrize("version", [0, -1, "1", 1.5])
def test_version_must_be_a_positive_integer(tiny_gan, tmp_path, version):
    with pytest.raises(ValueError, match="positive integer"):
        export.saved_model(tiny_gan, tmp_path / "m", version=version)


def test_failed_export_leaves_nothing_behind(tiny_gan, tmp_path, monkeypatch):
    def broken(self, *args, **kwargs):
        os.makedirs(args[0], exist_ok=True)
        open(os.path.join(args[0], "partial"), "w").close()
        raise RuntimeError("disk full")

    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        export.saved_model(tiny_gan, tmp_path / "m")
    assert os.listdir(tmp_path / "m") == []


def test_tflite_rejects_unknown_quantization_and_existing_files(tiny_gan, tmp_path):
    with pytest.raises(ValueError, match="float16"):
        export.tflite(tiny_gan, tmp_path / "m.tflite", quantize="int4")
    (tmp_path / "m.tflite").write_bytes(b"keep me")
    with pytest.raises(FileExistsError):
        export.tflite(tiny_gan, tmp_path / "m.tflite")
    assert (tmp_path / "m.tflite").read_bytes() == b"keep me"


def test_tflite_runs_any_batch_size(tiny_gan, tmp_path):
    path = export.tflite(tiny_gan, tmp_path / "m.tflite")
    for n in (1, 5):
        z = tiny_gan.noise(n, seed=n).numpy()
        out = runtime.run_tflite(path, {"z": z})["images"]
        np.testing.assert_allclose(out, tiny_gan.generate(z), atol=export.TOLERANCE["tflite_float32"])


def test_rest_request_bodies_fit_the_signatures(tiny_gan):
    body = json.loads(export.rest_request_body(tiny_gan, "serving_default", num_samples=2))
    assert body["signature_name"] == "serving_default"
    assert np.asarray(body["inputs"]["z"]).shape == (2, 8)
    body = json.loads(export.rest_request_body(tiny_gan, "sample", num_samples=4, seed=7))
    assert body == {"signature_name": "sample", "inputs": {"num_samples": 4, "seed": 7}}
    with pytest.raises(KeyError, match="serving_default"):
        export.rest_request_body(tiny_gan, "nope")


def test_pretrained_saved_model_matches_keras_in_a_fresh_process(pretrained, tmp_path):
    path = export.saved_model(pretrained, tmp_path / "dcgan_mnist")
    report = export.check_saved_model(pretrained, path, num_samples=8)
    assert report["saved_model"]["max_abs_diff"] <= export.TOLERANCE["saved_model"]
    assert report["sample"]["max_abs_diff"] <= 1


@pytest.mark.parametrize("quantize", export.QUANTIZATIONS)
def test_pretrained_tflite_matches_keras_in_a_fresh_process(pretrained, tmp_path, quantize):
    path = export.tflite(pretrained, tmp_path / f"{quantize}.tflite", quantize=quantize)
    report = export.check_tflite(pretrained, path, quantize, num_samples=8)
    assert report[f"tflite_{quantize}"]["max_abs_diff"] <= export.TOLERANCE[f"tflite_{quantize}"]


def test_quantized_files_are_smaller(pretrained, tmp_path):
    sizes = {q: os.path.getsize(export.tflite(pretrained, tmp_path / f"{q}.tflite", quantize=q)) for q in export.QUANTIZATIONS}
    assert sizes["float16"] < 0.6 * sizes["float32"]
    assert sizes["dynamic_int8"] < 0.35 * sizes["float32"]


def test_check_reports_a_mismatch(tiny_gan, tmp_path):
    path = export.saved_model(tiny_gan, tmp_path / "m")
    other = tiny_gan.generator.get_weights()
    tiny_gan.generator.set_weights([w + 0.5 for w in other])
    with pytest.raises(AssertionError, match="exceeds the tolerance"):
        export.check_saved_model(tiny_gan, path)


def test_tflite_with_a_fixed_batch_size(tiny_gan, tmp_path):
    path = export.tflite(tiny_gan, tmp_path / "m.tflite", quantize="dynamic_int8", batch_size=3)
    report = export.check_tflite(tiny_gan, path, "dynamic_int8")
    assert report["tflite_dynamic_int8"]["max_abs_diff"] <= export.TOLERANCE["tflite_dynamic_int8"]
    with pytest.raises(ValueError, match="batch_size"):
        export.tflite(tiny_gan, tmp_path / "n.tflite", batch_size=0)


def test_export_folders_are_readable_by_other_users(tiny_gan, tmp_path):
    path = export.saved_model(tiny_gan, tmp_path / "m")
    assert os.stat(path).st_mode & 0o005 == 0o005  # TF Serving may run as another user


def test_runtime_names_signatures_and_inputs_it_does_not_have(tiny_gan, tmp_path):
    path = export.saved_model(tiny_gan, tmp_path / "gan")
    with pytest.raises(KeyError, match=r"has no signature 'nope'; it has \['sample', 'sample_ranked', 'serving_default'\]"):
        runtime.run_saved_model(path, {}, "nope")
    with pytest.raises(KeyError, match=r"takes inputs \['num_samples', 'seed'\]; got unexpected \['count'\], "
                                       r"missing \['num_samples'\]"):
        runtime.run_saved_model(path, {"count": 2, "seed": 0}, "sample")
