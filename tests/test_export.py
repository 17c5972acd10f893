import json
import os
import pickle
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_genai import export, runtime, zoo

CHECK_SAMPLES, CHECK_SEED = 8, 123  # what the pretrained checks below ask of ``model.example_inputs``

# One fresh process runs the pretrained preset's SavedModel (every signature) and its LiteRT
# files on the inputs the ``export.check_*`` calls below send, as ``python -m keras_genai.runtime``
# would one at a time; the checks then read its outputs (``replay_fresh_outputs``).
FRESH = """
import pickle, sys
from keras_genai import runtime
requests = pickle.load(open(sys.argv[1], "rb"))
results = {key: runtime.run_saved_model(path, inputs, signature) if kind == "saved_model"
           else runtime.run_tflite(path, inputs) for key, (kind, path, signature, inputs) in requests.items()}
pickle.dump(results, open(sys.argv[2], "wb"))
"""


@pytest.fixture(scope="module")
def pretrained():
    return zoo.load("dcgan_mnist", compile=False)


@pytest.fixture(scope="module")
def pretrained_exports(pretrained, tmp_path_factory):
    """The pretrained preset exported once: {"saved_model": path, quantization: LiteRT path},
    with what one fresh process got from each (``requests``, ``results``)."""
    folder = tmp_path_factory.mktemp("pretrained")
    paths = {"saved_model": export.saved_model(pretrained, folder / "dcgan_mnist")}
    paths.update({q: export.tflite(pretrained, folder / f"{q}.tflite", quantize=q) for q in export.QUANTIZATIONS})

    def example(signature):
        return pretrained.example_inputs(signature, num_samples=CHECK_SAMPLES, seed=CHECK_SEED)[0]

    requests = {("saved_model", s): ("saved_model", paths["saved_model"], s, example(s))
                for s in pretrained.export_signatures()}
    requests.update({("tflite", os.fspath(paths[q])): ("tflite", paths[q], None, example(pretrained.edge_signature))
                     for q in export.QUANTIZATIONS})
    with open(folder / "requests.pkl", "wb") as f:
        pickle.dump(requests, f)
    result = subprocess.run([sys.executable, "-c", FRESH, str(folder / "requests.pkl"), str(folder / "results.pkl")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(folder / "results.pkl", "rb") as f:
        return {**paths, "requests": requests, "results": pickle.load(f)}


@pytest.fixture
def replay_fresh_outputs(pretrained_exports, monkeypatch):
    """``export.check_*`` as they are, their own fresh process replaced by the outputs the one of
    ``pretrained_exports`` got for exactly the inputs they send."""
    requests, results = pretrained_exports["requests"], pretrained_exports["results"]

    def outputs_of_the_fresh_process(kind, path, inputs, *signature):
        key = (kind, signature[0]) if kind == "saved_model" else (kind, os.fspath(path))
        assert key in requests, f"the check asked for {key}, which the fresh process did not run"
        sent = requests[key][3]
        assert sorted(inputs) == sorted(sent)
        for name, value in inputs.items():
            np.testing.assert_array_equal(np.asarray(value), np.asarray(sent[name]))
        return results[key]

    monkeypatch.setattr(export, "_run_fresh", outputs_of_the_fresh_process)


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


@pytest.mark.parametrize("batch_size", [export.EDGE_BATCH_SIZE, 3, None])
def test_tflite_runs_any_number_of_rows_at_a_fixed_or_dynamic_batch(tiny_gan, tmp_path, batch_size):
    path = export.tflite(tiny_gan, tmp_path / "m.tflite", batch_size=batch_size)
    (detail,) = runtime_input_details(path)
    assert list(detail["shape_signature"]) == [batch_size or -1, 8]  # fixed at 1 unless asked otherwise
    for n in (1, 5):  # 5 rows: several batches of 1, and of 3 with the last one padded
        z = tiny_gan.noise(n, seed=n).numpy()
        out = runtime.run_tflite(path, {"z": z})["images"]
        np.testing.assert_allclose(out, tiny_gan.generate(z), atol=export.TOLERANCE["tflite_float32"])


def runtime_input_details(path):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=os.fspath(path)).get_input_details()


def test_full_int8_is_integer_only_and_run_tflite_takes_and_gives_floats(tiny_gan, tmp_path):
    path = export.tflite(tiny_gan, tmp_path / "m.tflite", quantize="full_int8")
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=os.fspath(path))
    (io,) = interpreter.get_input_details()
    assert io["dtype"] == np.int8 and io["quantization"][0] > 0
    tensor_types = {d["dtype"] for d in interpreter.get_tensor_details()}
    assert np.float32 not in tensor_types  # no float tensor anywhere: integer-only kernels
    z = tiny_gan.noise(6, seed=2).numpy()
    out = runtime.run_tflite(path, {"z": z})["images"]
    assert out.dtype == np.float32 and out.shape == (6, 28, 28, 1)
    diff = np.abs(out - tiny_gan.generate(z))
    assert diff.mean() <= export.FULL_INT8_MEAN and 0 < diff.max()
    assert export.check_tflite(tiny_gan, path, "full_int8")["tflite_full_int8"]["mean_abs_diff"] <= export.FULL_INT8_MEAN


def test_a_family_that_does_not_offer_full_int8_says_why_before_writing(tmp_path):
    gpt = zoo.load("gpt_shakespeare", compile=False)
    assert "full_int8" not in gpt.edge_quantizations
    with pytest.raises(ValueError, match="logits"):
        export.tflite(gpt, tmp_path / "g.tflite", quantize="full_int8")
    assert not (tmp_path / "g.tflite").exists()


def test_samples_through_the_edge_file_are_the_models_samples(tiny_gan, tmp_path):
    path = export.tflite(tiny_gan, tmp_path / "m.tflite", signature=tiny_gan.edge_sample_signature)
    sampler = export.EdgeSampler(tiny_gan, path)
    images = sampler.sample(5, seed=3)
    assert images.dtype == np.uint8 and images.shape == (5, 28, 28, 1)
    assert np.abs(images.astype(int) - tiny_gan.sample(5, seed=3).astype(int)).max() <= 1
    np.testing.assert_array_equal(sampler.sample(2, seed=3), images[:2])  # sample k does not depend on n


def test_rest_request_bodies_fit_the_signatures(tiny_gan):
    body = json.loads(export.rest_request_body(tiny_gan, "serving_default", num_samples=2))
    assert body["signature_name"] == "serving_default"
    assert np.asarray(body["inputs"]["z"]).shape == (2, 8)
    body = json.loads(export.rest_request_body(tiny_gan, "sample", num_samples=4, seed=7))
    assert body == {"signature_name": "sample", "inputs": {"num_samples": 4, "seed": 7}}
    with pytest.raises(KeyError, match="serving_default"):
        export.rest_request_body(tiny_gan, "nope")


def test_pretrained_saved_model_matches_keras_in_a_fresh_process(pretrained, pretrained_exports,
                                                                 replay_fresh_outputs):
    report = export.check_saved_model(pretrained, pretrained_exports["saved_model"], num_samples=CHECK_SAMPLES,
                                      seed=CHECK_SEED)
    assert set(report) == {"saved_model", "sample", "sample_ranked"}  # every signature checked
    assert report["saved_model"]["max_abs_diff"] <= export.TOLERANCE["saved_model"]
    assert report["sample"]["max_abs_diff"] <= 1


@pytest.mark.parametrize("quantize", export.QUANTIZATIONS)
def test_pretrained_tflite_matches_keras_in_a_fresh_process(pretrained, pretrained_exports, replay_fresh_outputs,
                                                            quantize):
    report = export.check_tflite(pretrained, pretrained_exports[quantize], quantize, num_samples=CHECK_SAMPLES,
                                 seed=CHECK_SEED)
    assert report[f"tflite_{quantize}"]["max_abs_diff"] <= export.TOLERANCE[f"tflite_{quantize}"]


def test_quantized_files_are_smaller(pretrained_exports):
    sizes = {q: os.path.getsize(pretrained_exports[q]) for q in export.QUANTIZATIONS}
    assert sizes["float16"] < 0.6 * sizes["float32"]
    assert sizes["dynamic_int8"] < 0.35 * sizes["float32"]
    assert sizes["full_int8"] < 0.35 * sizes["float32"]


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


@pytest.mark.parametrize("num_classes", [None, 3])
def test_a_family_writes_each_signature_once_and_the_base_adds_the_labels(num_classes):
    import inspect

    from keras_genai.models import GenerativeModel

    model = GenerativeModel()
    model.num_classes = num_classes
    calls = []

    def scores(x, labels):
        calls.append(("scores", labels))
        return {"scores": x * 2.0}

    def draw(num_samples, temperature, seed, labels):
        calls.append(("draw", num_samples, labels))
        return {"images": tf.zeros([num_samples], tf.uint8)}

    x_spec = tf.TensorSpec([None, 2], tf.float32, name="x")
    temperature_spec = tf.TensorSpec([], tf.float32, name="temperature")
    score_fn, score_specs = model._export_signature(scores, x_spec)
    draw_fn, draw_specs = model._export_signature(draw, temperature_spec, draws=True)
    labels_spec = tf.TensorSpec([None], tf.int32, name="labels")
    if num_classes is None:
        assert score_specs == [x_spec]
        assert draw_specs == [tf.TensorSpec([], tf.int32, name="num_samples"), temperature_spec,
                              tf.TensorSpec([], tf.int64, name="seed")]
    else:
        assert score_specs == [x_spec, labels_spec]
        assert draw_specs == [labels_spec, temperature_spec, tf.TensorSpec([], tf.int64, name="seed")]
    assert [s.name for s in score_specs] == list(inspect.signature(score_fn).parameters)
    assert [s.name for s in draw_specs] == list(inspect.signature(draw_fn).parameters)
    # Traced as the exporter traces them: one labels tensor per request, num_samples its length.
    score = tf.function(score_fn, input_signature=score_specs)
    sample = tf.function(draw_fn, input_signature=draw_specs)
    x, labels = np.ones((4, 2), np.float32), np.array([0, 2, 1, 1], np.int32)
    np.testing.assert_array_equal((score(x, labels) if num_classes else score(x))["scores"], 2 * x)
    first = labels if num_classes else np.int32(4)
    assert sample(first, np.float32(1.0), np.int64(0))["images"].shape == (4,)
    assert [(call[0], call[-1] is None) for call in calls] == [("scores", num_classes is None),
                                                               ("draw", num_classes is None)]
    inputs, example_labels = model._example_conditions(4, seed=7)
    if num_classes is None:
        assert inputs == {"num_samples": 4, "seed": 7} and example_labels is None
        assert model._example_conditions(4) == ({}, None)
    else:
        np.testing.assert_array_equal(example_labels, [0, 1, 2, 0])
        assert sorted(inputs) == ["labels", "seed"] and inputs["labels"].dtype == np.int32
        assert inputs["seed"].dtype == np.int64
